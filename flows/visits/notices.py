"""Visits' and services' notices, one frozen dataclass per kind (rendered by bot/handlers/visits.py).

In private: alias, room and building at most, never a name or contact. To groups (`ServiceGroupPost`): the
building, the kind of service and the time only."""

from __future__ import annotations

from dataclasses import dataclass

from flows.notices import Notice


@dataclass(frozen=True)
class VisitDue(Notice, kind="visit_due"):
    """A visit falls due (rung 0) or is overdue (rung ≥ 1: reminder, grid worker, admins)."""

    person_id: int
    alias: str
    room: str
    building: str
    rung: int
    due_date: str  # local YYYY-MM-DD


@dataclass(frozen=True)
class ServiceAsked(Notice, kind="service_asked"):
    """To a member offering the service: someone needs it (no alias until claimed)."""

    request_id: int
    number: int
    service: str
    building: str
    when: str  # local "MM-DD HH:MM"
    weekday: int  # 0 Monday … 6 Sunday
    urgent: bool


@dataclass(frozen=True)
class ServiceGroupPost(Notice, kind="service_group_post"):
    """To a volunteers' group: "3号楼有一位老人需要助行，周四 9:00" and a claim button."""

    request_id: int
    number: int
    service: str
    building: str
    when: str
    weekday: int
    urgent: bool


@dataclass(frozen=True)
class ServiceAlert(Notice, kind="service_alert"):
    """To the grid worker, admins, district: a service is still unclaimed (rung 0 of 助急: at once)."""

    request_id: int
    number: int
    service: str
    building: str
    when: str
    rung: int
    urgent: bool


@dataclass(frozen=True)
class ServiceClaimed(Notice, kind="service_claimed"):
    """To the requester: who claimed the service."""

    number: int
    service: str
    name: str


@dataclass(frozen=True)
class ServiceDone(Notice, kind="service_done"):
    """To the requester and the person's volunteer: done, please confirm."""

    request_id: int
    number: int
    service: str
    name: str


@dataclass(frozen=True)
class ServiceNotDone(Notice, kind="service_not_done"):
    """To the grid worker, admins, district: a claimed service is still not done (助急: 60 min, 2 h after the
    claim; the others: a day after the wanted time)."""

    number: int
    service: str
    building: str
    when: str
    rung: int
    urgent: bool
