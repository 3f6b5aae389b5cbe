"""The weekly meeting's time and agenda (多委联合办公会, F-8.1), split from flows/meeting.py.

Time: each community has a fixed weekly time (settings "meeting": weekday 0 = Monday … 6, "HH:MM" of the
community's zone), set by an admin (`set_time`). `remind` — part of the scheduler's pass — sends the committee
members and admins a reminder LEAD before it, with the agenda as it stands, once per meeting (a `MeetingCall`
row taken by insert-or-ignore, so several schedulers send it once).

The agenda (`agenda`) is read from the data, never typed: requests overdue on their ladder (a stage's clock
passed: due, or a rung climbed) — the longest overdue first —, requests still to assess (new), this year's
projects that are 🔴 or have no progress report yet, the open care incidents (their count and ids only:
nothing of the ledger), and the property company's rectification tasks through `RECTIFICATIONS` (a seam: F-10
adds its source there)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_
from sqlmodel import col, select

from flows import audit, ladder, outbox, project_colour, requests
from flows.clock import local
from flows.errors import Forbidden, Invalid
from flows.membership import Actor
from flows.notices import Notice
from flows.property import rectify as property_rectify
from flows.roles import Role
from storage.db import UnitOfWork, insert_ignoring
from storage.models import Community, Incident, Member, Project, RoleGrant, User
from storage.models_meeting import MeetingCall
from storage.models_requests import Request

LEAD = timedelta(hours=2)  # the reminder goes out this long before the meeting
MEMBERS = frozenset({Role.COMMITTEE.value, Role.ADMIN.value, Role.DISTRICT_ADMIN.value})
ADMINS = frozenset({Role.ADMIN.value, Role.DISTRICT_ADMIN.value})
SOURCES = ("overdue_request", "new_request", "project", "incidents", "rectification")
WEEKDAYS: dict[str, int] = {}
for _i, _names in enumerate((("一", "mon", "monday"), ("二", "tue", "tuesday"), ("三", "wed", "wednesday"),
                             ("四", "thu", "thursday"), ("五", "fri", "friday"), ("六", "sat", "saturday"),
                             ("日", "sun", "sunday"))):
    for _n in _names:
        WEEKDAYS[_n] = _i
        if len(_n) == 1:
            WEEKDAYS.update({f"周{_n}": _i, f"星期{_n}": _i, f"礼拜{_n}": _i})
WEEKDAYS.update({"周天": 6, "星期天": 6, "礼拜天": 6})
for _i in range(7):
    WEEKDAYS[str(_i + 1)] = _i


@dataclass(frozen=True)
class MeetingReminder(Notice, kind="meeting_reminder"):
    """To each committee member and admin in private, LEAD before the meeting: when, and the agenda."""

    community: str
    at: str  # the meeting's local time, ISO (the community's zone)
    items: list[dict[str, Any]]


# ---------------------------------------------------------------- the weekly time


@dataclass(frozen=True)
class Schedule:
    weekday: int  # 0 = Monday
    hour: int
    minute: int


def schedule_of(community: Community) -> Schedule | None:
    own = (community.settings or {}).get("meeting")
    if not isinstance(own, dict):
        return None
    try:
        hour, minute = (int(x) for x in str(own.get("time", "")).split(":"))
        weekday = int(own.get("weekday", -1))
    except ValueError:
        return None
    if not (0 <= weekday <= 6 and 0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    return Schedule(weekday, hour, minute)


def parse_time(text: str) -> Schedule:
    """"周三 15:00", "星期三 15：00", "wed 3:00" → a Schedule, or Invalid("meeting_time", "format")."""
    value = unicodedata.normalize("NFKC", text).strip().lower()
    m = re.fullmatch(r"(\S+)\s+(\d{1,2})[:.](\d{2})", value) or re.fullmatch(r"(\D+?)(\d{1,2})[:.](\d{2})", value)
    if m is None or m.group(1) not in WEEKDAYS:
        raise Invalid("meeting_time", "format")
    hour, minute = int(m.group(2)), int(m.group(3))
    if hour > 23 or minute > 59:
        raise Invalid("meeting_time", "format")
    return Schedule(WEEKDAYS[m.group(1)], hour, minute)


def next_meeting(schedule: Schedule, tz: str, now: datetime) -> datetime:
    """The first meeting time at or after `now` (aware UTC), counted in the community's local calendar (DST too)."""
    z = ladder.zone(tz)
    today = now.astimezone(z).date()
    for ahead in range(8):
        day = today + timedelta(days=ahead)
        if day.weekday() != schedule.weekday:
            continue
        wall = datetime(day.year, day.month, day.day, schedule.hour, schedule.minute)
        at = wall.replace(tzinfo=z, fold=0).astimezone(UTC)
        if at >= now:
            return at
    raise AssertionError("a weekday comes within eight days")


async def set_time(uow: UnitOfWork, *, actor: Actor, text: str, now: datetime) -> tuple[Schedule, datetime]:
    """The admin sets the weekly time; returns it and the next meeting (aware UTC)."""
    me = actor.registered()
    if not ADMINS & actor.roles:
        raise Forbidden("meeting:admin")
    schedule = parse_time(text)
    community = actor.home()
    settings = dict(community.settings or {})
    settings["meeting"] = {"weekday": schedule.weekday, "time": f"{schedule.hour:02d}:{schedule.minute:02d}"}
    community.settings = settings
    uow.session.add(community)
    audit.record(uow, action="meeting.time", now=now, community_id=me.community_id, actor_user_id=actor.user.id,
                 subject_type="community", subject_id=community.id, **settings["meeting"])
    return schedule, next_meeting(schedule, community.timezone, now)


# ---------------------------------------------------------------- the agenda


@dataclass(frozen=True)
class AgendaItem:
    source: str  # one of SOURCES
    ref_id: int
    label: str  # R-2027-0012 · the project's "number title" · the incidents' count
    kind: str | None = None  # a request's kind
    state: str | None = None  # a request's state, a project's colour
    org: str | None = None
    ids: tuple[int, ...] = ()  # the open incidents' ids

    def params(self) -> dict[str, Any]:
        return {"source": self.source, "label": self.label, "kind": self.kind, "state": self.state, "org": self.org,
                "ids": list(self.ids)}


#: Sources of the property company's rectification tasks (F-10): each returns its agenda items (source
#: "rectification"). The seam: F-10 names its function here; a tuple of code, never state.
RECTIFICATIONS: tuple[Callable[[UnitOfWork, Community, datetime], Awaitable[list[AgendaItem]]], ...] = (
    property_rectify.agenda_items,  # overdue rectification tasks, projects flagged for a talk (约谈)
)


async def agenda(uow: UnitOfWork, community: Community, now: datetime) -> list[AgendaItem]:
    """What the committees look at: overdue requests first (longest overdue first), then the new ones to assess,
    the projects behind, the open incidents, the rectification tasks."""
    cid = community.id or 0
    clocked = col(Request.state).in_(list(requests.STAGES))
    overdue = (await uow.session.exec(select(Request).where(
        Request.community_id == cid, clocked, or_(col(Request.rung) > 0, col(Request.due_at) <= now))
        .order_by(col(Request.due_at), col(Request.id)))).all()
    seen = {r.id for r in overdue}
    fresh = [r for r in (await uow.session.exec(select(Request).where(
        Request.community_id == cid, Request.state == "new").order_by(col(Request.id)))).all() if r.id not in seen]
    items = [AgendaItem("overdue_request", r.id or 0, requests.code(r.year, r.number), r.kind, r.state, r.organisation)
             for r in overdue]
    items += [AgendaItem("new_request", r.id or 0, requests.code(r.year, r.number), r.kind, r.state) for r in fresh]
    year = local(now, community.timezone).year
    rows = (await uow.session.exec(select(Project).where(
        Project.community_id == cid, Project.year == year, col(Project.completed_at).is_(None))
        .order_by(col(Project.number)))).all()
    verdicts = await project_colour.verdicts(uow, rows, now) if rows else {}
    for p in rows:
        v = verdicts.get(p.id or 0)
        if (v is not None and v.colour == project_colour.Colour.RED) or p.last_report_at is None:
            items.append(AgendaItem("project", p.id or 0, f"{p.number} {p.title}",
                                    state=v.colour.value if v else None))
    incidents = (await uow.session.exec(select(Incident.id).where(
        Incident.community_id == cid, Incident.status == "open").order_by(col(Incident.id)))).all()
    if incidents:
        items.append(AgendaItem("incidents", 0, str(len(incidents)), ids=tuple(i for i in incidents if i)))
    for source in RECTIFICATIONS:
        items += await source(uow, community, now)
    return items


# ---------------------------------------------------------------- the reminder and the ladder (the scheduler)


async def _committee(uow: UnitOfWork, community_id: int) -> list[tuple[Member, User]]:
    """The community's committee members and admins, each once."""
    rows = (await uow.session.exec(
        select(Member, User).join(User, col(User.id) == col(Member.user_id))
        .where(Member.community_id == community_id, col(Member.id).in_(
            select(RoleGrant.member_id).where(col(RoleGrant.role).in_([Role.COMMITTEE.value, Role.ADMIN.value]),
                                              col(RoleGrant.revoked_at).is_(None))))
        .order_by(col(Member.id)))).all()
    return list(rows)


async def remind(uow: UnitOfWork, *, now: datetime) -> int:
    """The reminders of meetings starting within LEAD, once per meeting; returns how many were queued."""
    queued = 0
    for community in (await uow.session.exec(select(Community).order_by(col(Community.id)))).all():
        schedule = schedule_of(community)
        if schedule is None:
            continue
        at = next_meeting(schedule, community.timezone, now)
        if now < at - LEAD:
            continue
        taken = await uow.session.execute(insert_ignoring(uow, MeetingCall, ["community_id", "at"]).values(
            community_id=community.id, at=at, created_at=now))
        if not taken.rowcount:  # type: ignore[attr-defined]
            continue
        notice = MeetingReminder(community=community.name, at=local(at, community.timezone).isoformat(),
                                 items=[i.params() for i in await agenda(uow, community, now)])
        for member, user in await _committee(uow, community.id or 0):
            outbox.notify(uow, tg_chat_id=user.tg_id, recipient_user_id=user.id, community_id=community.id,
                          lang=user.language or community.locale, now=now, notice=notice,
                          dedupe_key=f"meeting_reminder:{community.id}:{at.isoformat()}:{member.id}")
            queued += 1
    return queued


