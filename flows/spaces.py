"""Micro spaces (微效空间, #16, F-9.3): a space registers its place, weekly opening hours, services and a keeper;
`listing` says which are open now (and when the others open next); a keeper records the services given.

Opening hours are per weekday in the community's time zone: `parse_hours` reads "1-5 08:00-11:30 14:00-17:00; 6
09:00-12:00" (1 = Monday … 7 = Sunday, 每天 = every day); a weekday not named is closed. Community admins and grid
workers (Perm.SPACES) register spaces and change any of their fields; a space's keeper (a member) changes its hours
and services, adds tools and records services. Tool lending is flows/loans.py."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlalchemy import update as sql_update
from sqlmodel import col, select

from flows import audit, paging
from flows.actors import Actor
from flows.clock import local
from flows.errors import AlreadyDone, Forbidden, Invalid, NotFound
from flows.numbering import next_number
from flows.roles import Perm
from storage.db import UnitOfWork
from storage.models import Member
from storage.models_spaces import ServiceRecord, Space, Tool

NAME_MAX, PLACE_MAX, SERVICE_MAX, SERVICES_MAX, TOOL_MAX = 40, 80, 20, 10, 40
#: One record counts at most this many services (a typo such as 300 instead of 3 is refused).
COUNT_MAX = 99
EVERY_DAY = ("每天", "每日", "daily", "every day")
_TIME = r"(\d{1,2})[:：](\d{2})"
_INTERVAL = re.compile(_TIME + r"\s*[-–~～至]\s*" + _TIME)
_DAYS = re.compile(r"^([1-7](?:\s*[-–~]\s*[1-7])?(?:\s*[,，、]\s*[1-7](?:\s*[-–~]\s*[1-7])?)*)\s+(.+)$")
_SPLIT = re.compile(r"[、,，;；/\s]+")

Hours = dict[str, list[list[str]]]


def clean(field: str, text: str, limit: int) -> str:
    value = " ".join(text.split())
    if not value:
        raise Invalid(field, "empty")
    if len(value) > limit:
        raise Invalid(field, "too_long", limit=limit, length=len(value))
    return value


def _days(spec: str) -> list[int]:
    out: list[int] = []
    for part in re.split(r"\s*[,，、]\s*", spec.strip()):
        bounds = [int(x) for x in re.split(r"\s*[-–~]\s*", part)]
        if len(bounds) == 2 and bounds[0] > bounds[1]:
            raise Invalid("hours", "format")
        out += list(range(bounds[0], bounds[-1] + 1))
    return out


def parse_hours(text: str) -> Hours:
    """Weekly opening hours from "1-5 08:00-11:30 14:00-17:00; 6 09:00-12:00" (or 每天 08:00-20:00);
    Invalid("hours", "format") for anything else, "overlap" when two intervals of a day overlap."""
    hours: Hours = {}
    groups = [g.strip() for g in re.split(r"[;；\n]+", text) if g.strip()]
    if not groups or len(text) > 300:
        raise Invalid("hours", "format")
    for group in groups:
        lowered = group.lower()
        prefix = next((p for p in EVERY_DAY if lowered.startswith(p)), None)
        if prefix is not None:
            days, rest = list(range(1, 8)), group[len(prefix):]
        else:
            m = _DAYS.match(group)
            if m is None:
                raise Invalid("hours", "format")
            days, rest = _days(m.group(1)), m.group(2)
        intervals = []
        for m in _INTERVAL.finditer(rest):
            h1, m1, h2, m2 = (int(x) for x in m.groups())
            if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2) or (h1, m1) >= (h2, m2):
                raise Invalid("hours", "format")
            intervals.append([f"{h1:02d}:{m1:02d}", f"{h2:02d}:{m2:02d}"])
        if not intervals or _INTERVAL.sub("", rest).strip(" ,，、"):
            raise Invalid("hours", "format")
        for day in days:
            slots = sorted(hours.get(str(day), []) + intervals)
            if any(a[1] > b[0] for a, b in zip(slots, slots[1:], strict=False)):
                raise Invalid("hours", "overlap")
            hours[str(day)] = slots
    return dict(sorted(hours.items()))


def hours_text(hours: dict[str, Any]) -> str:
    """The hours as they were typed (canonical form): "1-5 08:00-11:30 14:00-17:00; 6 09:00-12:00"."""
    runs: list[tuple[int, int, str]] = []
    for day in range(1, 8):
        slots = hours.get(str(day))
        if not slots:
            continue
        text = " ".join(f"{a}-{b}" for a, b in slots)
        if runs and runs[-1][1] == day - 1 and runs[-1][2] == text:
            runs[-1] = (runs[-1][0], day, text)
        else:
            runs.append((day, day, text))
    return "; ".join((f"{a}" if a == b else f"{a}-{b}") + " " + text for a, b, text in runs)


def parse_services(text: str) -> list[str]:
    items = [s for s in _SPLIT.split(text.strip()) if s]
    if not items:
        raise Invalid("services", "empty")
    if len(items) > SERVICES_MAX:
        raise Invalid("services", "too_many", limit=SERVICES_MAX)
    for s in items:
        clean("service", s, SERVICE_MAX)
    return list(dict.fromkeys(items))


def _at(day: date, hhmm: str, zone: ZoneInfo) -> datetime:
    if hhmm == "24:00":
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    h, m = (int(x) for x in hhmm.split(":"))
    return datetime.combine(day, time(h, m), tzinfo=zone).astimezone(UTC)


def open_until(hours: dict[str, Any], now: datetime, tz: str) -> datetime | None:
    """When the space closes, if it is open at `now`; None when closed."""
    zone = ZoneInfo(tz)
    today = local(now, tz).date()
    for a, b in hours.get(str(today.isoweekday()), []):
        if _at(today, a, zone) <= now < _at(today, b, zone):
            return _at(today, b, zone)
    return None


def next_opening(hours: dict[str, Any], now: datetime, tz: str) -> datetime | None:
    """The next time the space opens after `now` (within a week); None when it has no hours."""
    zone = ZoneInfo(tz)
    today = local(now, tz).date()
    for offset in range(8):
        day = today + timedelta(days=offset)
        for a, _b in hours.get(str(day.isoweekday()), []):
            at = _at(day, a, zone)
            if at > now:
                return at
    return None


# ---------------------------------------------------------------- who manages a space


def may_register(actor: Actor) -> bool:
    return actor.can(Perm.SPACES)


def may_manage(actor: Actor, space: Space) -> bool:
    """Admins and grid workers manage every space of their community; a keeper their own."""
    me = actor.member
    if me is None or me.community_id != space.community_id:
        return False
    return actor.can(Perm.SPACES) or (space.keeper_member_id is not None and space.keeper_member_id == me.id)


async def get(uow: UnitOfWork, *, actor: Actor, number: int) -> Space:
    me = actor.registered()
    space = (await uow.session.exec(select(Space).where(
        Space.community_id == me.community_id, Space.number == number))).first()
    if space is None or not space.active:
        raise NotFound("space", number)
    return space


async def managed(uow: UnitOfWork, *, actor: Actor, number: int) -> Space:
    space = await get(uow, actor=actor, number=number)
    if not may_manage(actor, space):
        raise Forbidden("space:manage")
    return space


async def keeper_of(uow: UnitOfWork, *, actor: Actor, member_no: int) -> Member:
    """A member of the actor's community to keep a space (NotFound otherwise)."""
    me = actor.registered()
    member = await uow.session.get(Member, member_no)
    if member is None or member.community_id != me.community_id:
        raise NotFound("member", member_no)
    return member


@dataclass(frozen=True)
class Draft:
    name: str
    place: str
    hours: Hours
    services: tuple[str, ...]
    keeper_member_id: int


async def register(uow: UnitOfWork, *, actor: Actor, draft: Draft, now: datetime) -> Space:
    if not may_register(actor):
        raise Forbidden("spaces")
    me = actor.registered()
    keeper = await keeper_of(uow, actor=actor, member_no=draft.keeper_member_id)
    number = await next_number(uow, community_id=me.community_id, number=Space.number,
                               community_column=Space.community_id)
    space = Space(community_id=me.community_id, number=number, name=clean("name", draft.name, NAME_MAX),
                  place=clean("place", draft.place, PLACE_MAX), hours=draft.hours, services=list(draft.services),
                  keeper_member_id=keeper.id, created_at=now)
    uow.session.add(space)
    await uow.session.flush()
    audit.record(uow, action="space.register", now=now, community_id=me.community_id, actor_user_id=actor.user.id,
                 space=space.number, keeper=keeper.id)
    return space


#: The fields a keeper may change; the rest (name, place, keeper) are the admins' and grid workers'.
KEEPER_FIELDS = frozenset({"hours", "services"})
FIELDS = ("name", "place", "hours", "services", "keeper")


async def update(uow: UnitOfWork, *, actor: Actor, number: int, field: str, text: str, now: datetime) -> Space:
    space = await managed(uow, actor=actor, number=number)
    if field not in FIELDS:
        raise Invalid("field", "unknown")
    if field not in KEEPER_FIELDS and not actor.can(Perm.SPACES):
        raise Forbidden("space:manage")
    if field == "name":
        space.name = clean("name", text, NAME_MAX)
    elif field == "place":
        space.place = clean("place", text, PLACE_MAX)
    elif field == "hours":
        space.hours = parse_hours(text)
    elif field == "services":
        space.services = parse_services(text)
    else:
        number_text = text.strip().lstrip("#")
        if not number_text.isdigit():
            raise Invalid("keeper", "format")
        space.keeper_member_id = (await keeper_of(uow, actor=actor, member_no=int(number_text))).id
    uow.session.add(space)
    await uow.session.flush()
    audit.record(uow, action="space.update", now=now, community_id=space.community_id, actor_user_id=actor.user.id,
                 space=space.number, field=field)
    return space


# ---------------------------------------------------------------- the list


@dataclass(frozen=True)
class SpaceLine:
    space: Space
    closes_at: datetime | None  # open now, until then
    opens_at: datetime | None  # closed now: opens next then (None: no hours)


PAGE = 8


async def listing(uow: UnitOfWork, *, actor: Actor, now: datetime, page: int = 1,
                  size: int = PAGE) -> paging.Page[SpaceLine]:
    """The community's spaces, the open ones first (then by number), paged."""
    community = actor.home()
    actor.registered()
    spaces = (await uow.session.exec(select(Space).where(Space.community_id == community.id, col(Space.active))
                                     .order_by(col(Space.number)))).all()
    tz = community.timezone
    lines = [SpaceLine(s, open_until(s.hours, now, tz), None) for s in spaces]
    lines = [ln if ln.closes_at else SpaceLine(ln.space, None, next_opening(ln.space.hours, now, tz)) for ln in lines]
    lines.sort(key=lambda ln: (ln.closes_at is None, ln.space.number))
    return paging.of_list(lines, page, size)


async def tools(uow: UnitOfWork, *, space: Space) -> list[Tool]:
    return list((await uow.session.exec(select(Tool).where(Tool.space_id == space.id, Tool.state != "retired")
                                        .order_by(col(Tool.number)))).all())


async def add_tool(uow: UnitOfWork, *, actor: Actor, number: int, name: str, now: datetime) -> Tool:
    space = await managed(uow, actor=actor, number=number)
    tool_no = await next_number(uow, community_id=space.community_id, number=Tool.number,
                                community_column=Tool.community_id)
    tool = Tool(community_id=space.community_id, space_id=space.id or 0, number=tool_no,
                name=clean("tool", name, TOOL_MAX), created_at=now)
    uow.session.add(tool)
    await uow.session.flush()
    return tool


async def tool_at(uow: UnitOfWork, *, actor: Actor, number: int) -> tuple[Tool, Space]:
    """A tool of the actor's community by its number, and its space (NotFound once retired)."""
    me = actor.registered()
    tool = (await uow.session.exec(select(Tool).where(Tool.community_id == me.community_id,
                                                      Tool.number == number))).first()
    if tool is None or tool.state == "retired":
        raise NotFound("tool", number)
    space = await uow.session.get(Space, tool.space_id)
    assert space is not None
    return tool, space


async def retire_tool(uow: UnitOfWork, *, actor: Actor, tool_number: int, now: datetime) -> Tool:
    """A tool broken, lost or given away leaves its space's list and can no longer be asked for; its loans stay in
    the history. Only a free one: a tool on loan or asked for is retired once it is back (AlreadyDone "tool:busy").
    Those who manage the space do it (its keeper, admins, grid workers); compare-and-set — twice acts once."""
    me = actor.registered()
    tool, space = await tool_at(uow, actor=actor, number=tool_number)
    if not may_manage(actor, space):
        raise Forbidden("space:manage")
    took = await uow.session.execute(
        sql_update(Tool).where(col(Tool.id) == tool.id, col(Tool.state) == "in").values(state="retired")
        .execution_options(synchronize_session=False))
    if not took.rowcount:  # type: ignore[attr-defined]
        raise AlreadyDone("tool:busy")
    audit.record(uow, action="tool.retire", now=now, community_id=me.community_id, actor_user_id=actor.user.id,
                 subject_type="tool", subject_id=tool.id, space=space.number, tool=tool.number)
    return tool


# ---------------------------------------------------------------- service records


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


async def record_service(uow: UnitOfWork, *, actor: Actor, number: int, service: str, count: int,
                         now: datetime) -> int:
    """A keeper records `count` services given today; returns the month's count of that service at the space."""
    space = await managed(uow, actor=actor, number=number)
    service = clean("service", service, SERVICE_MAX)
    if not 1 <= count <= COUNT_MAX:
        raise Invalid("count", "range", limit=COUNT_MAX)
    me = actor.registered()
    day = local(now, actor.home().timezone).date()
    uow.session.add(ServiceRecord(community_id=space.community_id, space_id=space.id or 0, service=service,
                                  count=count, day=day, month=month_of(day), recorded_by=me.id or 0, created_at=now))
    await uow.session.flush()
    return int((await uow.session.exec(select(func.coalesce(func.sum(ServiceRecord.count), 0)).where(
        ServiceRecord.space_id == space.id, ServiceRecord.service == service,
        ServiceRecord.month == month_of(day)))).one())


async def month_counts(uow: UnitOfWork, *, community_id: int, month: str) -> list[tuple[int, str, str, int]]:
    """The month's services per space: (space number, space name, service, count), by space then service."""
    rows = (await uow.session.exec(
        select(Space.number, Space.name, ServiceRecord.service, func.sum(ServiceRecord.count))
        .join(Space, col(Space.id) == col(ServiceRecord.space_id))
        .where(ServiceRecord.community_id == community_id, ServiceRecord.month == month)
        .group_by(col(Space.number), col(Space.name), col(ServiceRecord.service))
        .order_by(col(Space.number), col(ServiceRecord.service)))).all()
    return [(n, name, service, int(total)) for n, name, service, total in rows]
