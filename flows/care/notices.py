"""The care ledger's notices, one frozen dataclass per kind (rendered by bot/handlers/care_pairing.py).

To volunteers and grid workers in private: alias, room, building and person ids, never a name or contact."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flows.notices import Notice


@dataclass(frozen=True)
class CarePaired(Notice, kind="care_paired"):
    """You now look after this person (`role`: primary or backup)."""

    alias: str
    room: str
    building: str
    role: str
    person_id: int


@dataclass(frozen=True)
class CareUnpaired(Notice, kind="care_unpaired"):
    """Another volunteer took over this person."""

    alias: str
    room: str
    building: str
    person_id: int


@dataclass(frozen=True)
class CareClosed(Notice, kind="care_closed"):
    """The person left the ledger: no more check-ins (never the reason)."""

    alias: str
    room: str
    building: str
    role: str
    person_id: int


@dataclass(frozen=True)
class CareNeedsVolunteer(Notice, kind="care_needs_volunteer"):
    """To the grid worker: a volunteer lost the role and was taken off these persons (items: alias, room,
    building, person_id, left — primary or backup — and covered: whether a volunteer still checks)."""

    name: str
    member_id: int
    items: list[dict[str, Any]]
    more: int
