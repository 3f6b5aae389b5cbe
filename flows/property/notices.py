"""The property evaluation's typed notices (rendered in bot/handlers/property_reply.py and property.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flows.notices import Notice


@dataclass(frozen=True)
class PropertyScored(Notice, kind="property_scored"):
    """To the company's members: the month's scores are in; they may reply to each deduction before publication."""

    estate: str
    month: str
    evaluation_id: int
    points: float
    deductions: int


@dataclass(frozen=True)
class SurveyInvite(Notice, kind="property_survey"):
    """To a household: this month's satisfaction survey of their property project, its first question."""

    survey_id: int
    estate: str
    month: str


@dataclass(frozen=True)
class RankingPosted(Notice, kind="property_ranking"):
    """The month's ranking in a group: the community's own projects (`rows`, with the company's replies beside
    their deductions), the district's count and its top and bottom (`top`, `bottom`)."""

    community: str
    month: str
    ranked: int
    unranked: int
    rows: list[dict[str, Any]]
    top: list[dict[str, Any]]
    bottom: list[dict[str, Any]]
    shares: dict[str, Any]  # the formula's shares (the community's indicators file)


@dataclass(frozen=True)
class RankingPicture(Notice, kind="property_ranking_pic"):
    community: str
    month: str
    rows: list[dict[str, Any]]
    shares: dict[str, Any]


@dataclass(frozen=True)
class RectificationOverdue(Notice, kind="property_fix_overdue"):
    """A rectification task past its deadline, climbing the ladder: rung 0 tells the company, 1 the community's
    admins, 2 the district's."""

    estate: str
    code: str
    item: str
    due: str  # local date
    rung: int
