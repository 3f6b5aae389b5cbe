"""The property evaluation's typed notices (rendered in bot/handlers/property_reply.py and property.py)."""

from __future__ import annotations

from dataclasses import dataclass

from flows.notices import Notice


@dataclass(frozen=True)
class PropertyScored(Notice, kind="property_scored"):
    """To the company's members: the month's scores are in; they may reply to each deduction before publication."""

    estate: str
    month: str
    evaluation_id: int
    points: float
    deductions: int
