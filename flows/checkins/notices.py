"""Check-ins: the notices they queue, one frozen dataclass per kind (rendered by bot/handlers/checkins.py).

Never a key person's name or contact: alias, room and building only; to a group, the alias only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flows.notices import Notice


@dataclass(frozen=True)
class CheckPrompt(Notice, kind="ck_prompt"):
    """Ask (stage 0), remind (1) or hand over to the backup (2, `handed`) one check, with its buttons."""

    prompt_id: int
    slot: str
    stage: int
    handed: bool
    alias: str
    room: str
    building: str


@dataclass(frozen=True)
class ChecksMissed(Notice, kind="ck_missed"):
    """To a grid worker: checks that fell due while the system was down (items: date, slot, alias, room,
    building), `more` beyond those listed."""

    items: list[dict[str, Any]]
    more: int


@dataclass(frozen=True)
class IncidentAlert(Notice, kind="ci_alert"):
    """To a grid worker, an admin or the other volunteer: an incident, with its buttons. `reason`: no_answer,
    no_volunteer, not_ok, help, repeat (stored as the parameter "kind")."""

    incident_id: int
    reason: str
    level: int
    slot: str
    alias: str
    room: str
    building: str

    def params(self) -> dict[str, Any]:
        out = super().params()
        out["kind"] = out.pop("reason")
        return out


@dataclass(frozen=True)
class GroupAlert(Notice, kind="ck_group_alert"):
    """To the volunteers' group: nobody could check this person (alias only)."""

    alias: str
    slot: str


@dataclass(frozen=True)
class IncidentTaken(Notice, kind="ci_taken"):
    alias: str
    name: str


@dataclass(frozen=True)
class IncidentClosed(Notice, kind="ci_closed"):
    alias: str
    outcome: str
    name: str


@dataclass(frozen=True)
class IncidentClosedGroup(Notice, kind="ci_closed_group"):
    """To a group alerted: resolved (the alias only; no outcome, no names)."""

    alias: str


@dataclass(frozen=True)
class WelcomeBack(Notice, kind="ck_welcome_back"):
    first_day: str
    last_day: str


@dataclass(frozen=True)
class WeeklyThanks(Notice, kind="ck_thanks"):
    answered: int
    on_time: int
    first_day: str
    last_day: str
