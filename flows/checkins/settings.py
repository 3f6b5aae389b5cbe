"""Check-ins: the vocabulary (enums of what is stored), the community's settings, and local time."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from enum import IntEnum, StrEnum
from typing import Any

from flows.errors import FlowError
from flows.ladder import zone
from storage.models import Community, KeyPerson


class Slot(StrEnum):
    MORNING = "morning"
    MIDDAY = "midday"
    EVENING = "evening"


class Status(StrEnum):
    """A prompt's state (CheckinPrompt.status)."""

    SCHEDULED = "scheduled"  # planned, not yet due
    PENDING = "pending"  # sent, waiting for an answer: the ladder climbs
    ANSWERED = "answered"
    MISSED = "missed"  # fell due while the system was down: reported, not sent
    CANCELLED = "cancelled"  # the person left the ledger before it was due


class Stage(IntEnum):
    """How far a pending prompt climbed (CheckinPrompt.stage)."""

    ASKED = 0  # the assignee was asked
    REMINDED = 1  # the assignee was reminded
    BACKUP = 2  # the backup volunteer was asked
    ALERTED = 3  # the grid worker was alerted: an incident is open


class Answer(StrEnum):
    OK = "ok"
    NOT_OK = "not_ok"
    KNOCKED = "knocked"
    CANNOT = "cannot"
    INCIDENT = "incident"  # the prompt was settled by closing its incident (never a press)


class IncidentStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Reason(StrEnum):
    """Why an incident was opened (Incident.reason), and why an alert about it was sent."""

    NO_ANSWER = "no_answer"
    NO_VOLUNTEER = "no_volunteer"
    NOT_OK = "not_ok"
    HELP = "help"  # alerts only: someone pressed 需要帮助
    REPEAT = "repeat"  # alerts only: still open after `incident_repeat`


class Outcome(StrEnum):
    SAFE = "safe"
    SLEPT_LATE = "slept_late"
    HOSPITAL = "hospital"
    OTHER = "other"
    FALSE_ALARM = "false_alarm"


class Result(StrEnum):
    """What became of a press (AnswerView.outcome)."""

    DONE = "done"
    INCIDENT = "incident"
    HANDED = "handed"
    ESCALATED = "escalated"


DEFAULTS: dict[str, Any] = {
    "morning": "09:00",
    "evening": "19:30",
    "midday": "12:30",
    "remind_after": 15,  # minutes after the prompt: second reminder
    "backup_after": 30,  # minutes after the reminder: the backup volunteer gets the check
    "escalate_after": 30,  # minutes after the backup was asked: grid worker and volunteers' group
    "incident_repeat": 30,  # minutes between re-escalations of an open incident
    "grace": 30,  # minutes: what fell due longer ago than this is reported as missed, not sent
}
SLOTS = tuple(Slot)
ANSWERS = (Answer.OK, Answer.NOT_OK, Answer.KNOCKED, Answer.CANNOT)  # what a volunteer may press
OUTCOMES = tuple(Outcome)
MAX_AWAY_DAYS = 60
DEFAULT_ZONE = "Asia/Shanghai"
MAX_LISTED = 30  # lines of a missed-checks report
PLAN_TOMORROW_FROM = time(23, 0)  # local time from which the next day is planned too


class CheckinRefused(FlowError):
    """A press that changes nothing: `reason` says why (not_found, not_yours, no_role, handed_over,
    old_day, answered, closed)."""

    code = "checkin_refused"

    def __init__(self, reason: str) -> None:
        super().__init__(reason, reason=reason)
        self.reason = reason


def settings_of(community: Community) -> dict[str, Any]:
    """The community's check-in settings over the defaults; a value that does not parse falls back
    to its default (a typo in the settings must never stop the ladder)."""
    cfg = dict(DEFAULTS)
    given = (community.settings or {}).get("checkin") or {}
    if not isinstance(given, dict):
        return cfg
    for key, default in DEFAULTS.items():
        value = given.get(key)
        if value is None:
            continue
        if isinstance(default, str):
            if isinstance(value, str) and hhmm(value) is not None:
                cfg[key] = value
        elif isinstance(value, int | float) and not isinstance(value, bool) and 0 < value <= 24 * 60:
            cfg[key] = value
    return cfg


def minutes(cfg: dict[str, Any], key: str) -> timedelta:
    return timedelta(minutes=float(cfg[key]))


def hhmm(text: str | None) -> time | None:
    if not text:
        return None
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", text.strip())
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        return None
    return time(int(m.group(1)), int(m.group(2)))


def morning_of(community: Community) -> time:
    return hhmm(settings_of(community)["morning"]) or time(9, 0)


def local_now(now: datetime, tz: str) -> datetime:
    return now.astimezone(zone(tz))


def local_today(now: datetime, tz: str) -> date:
    return local_now(now, tz).date()


def due_at(local_date: date, at: time, tz: str) -> datetime:
    return datetime.combine(local_date, at, tzinfo=zone(tz)).astimezone(zone("UTC"))


def slot_times(person: KeyPerson, cfg: dict[str, Any]) -> dict[str, time]:
    out: dict[str, time] = {}
    out[Slot.MORNING] = hhmm(person.morning_time) or hhmm(cfg["morning"]) or time(9, 0)
    out[Slot.EVENING] = hhmm(person.evening_time) or hhmm(cfg["evening"]) or time(19, 30)
    if person.midday_check and person.risk == "red":
        out[Slot.MIDDAY] = hhmm(cfg["midday"]) or time(12, 30)
    return out
