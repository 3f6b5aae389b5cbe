"""The colour of a project (进度清单, F-3): computed, never typed in (an admin may override it with a reason).

- 🟢 done (已完成): marked complete and at least one "after" photo;
- 🔴 behind (滞后): a milestone not done after its due date, the deadline passed before completion, or no
  progress report for more than `stale_after` (default 35 days; counted from the project's start when there
  has been no report yet);
- 🟡 in progress (推进中): everything else — also a project marked complete that still lacks its "after" photo.

`colour` is the pure rule; `facts`/`facts_many` read what it looks at from the database, as things stood at a
moment; `verdict`/`verdicts` apply it with each community's time zone and "project_stale_days" setting.
Dates are the community's local dates: a milestone due on the 15th is overdue from 00:00 on the 16th there.
flows/projects.py re-exports these names."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import Any, Protocol

from sqlalchemy import (
    ColumnElement,
    Date,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal,
    null,
    or_,
    type_coerce,
)
from sqlmodel import col, select

from flows.clock import local
from flows.errors import NotFound
from storage.db import UnitOfWork
from storage.models import Community, Project, ProjectMilestone, ProjectPhoto, ProjectReport
from storage.types import UTCDateTime

STALE_AFTER = timedelta(days=35)
#: Community.settings key and its default.
STALE_DAYS_SETTING, STALE_DAYS = "project_stale_days", 35


class Colour(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


@dataclass(frozen=True)
class Facts:
    """What the rule looks at, for one project."""

    started_at: datetime  # when the project was made (the vote's result)
    deadline: date | None = None
    milestones: Sequence[tuple[date, date | None]] = ()  # (due on, done on)
    completed: bool = False
    after_photos: int = 0
    last_report_at: datetime | None = None
    override: Colour | None = None


@dataclass(frozen=True)
class Verdict:
    colour: Colour
    #: why, as stable codes: "override", "done", "after_photo_missing", "milestone_overdue",
    #: "deadline_passed", "no_report" — for the board's wording
    reasons: tuple[str, ...]
    overdue_milestones: int = 0
    days_without_report: int = 0


def colour(facts: Facts, *, now: datetime, timezone: str, stale_after: timedelta = STALE_AFTER) -> Verdict:
    """The project's colour now (pure: no database, no clock)."""
    if facts.override is not None:
        return Verdict(facts.override, ("override",))
    if facts.completed:
        if facts.after_photos > 0:
            return Verdict(Colour.GREEN, ("done",))
        return Verdict(Colour.YELLOW, ("after_photo_missing",))
    today = local(now, timezone).date()
    reasons: list[str] = []
    overdue = sum(1 for due, done in facts.milestones if done is None and due < today)
    if overdue:
        reasons.append("milestone_overdue")
    if facts.deadline is not None and facts.deadline < today:
        reasons.append("deadline_passed")
    since = facts.last_report_at or facts.started_at
    quiet = now - since
    if quiet > stale_after:
        reasons.append("no_report")
    days = max(0, quiet.days)
    if reasons:
        return Verdict(Colour.RED, tuple(reasons), overdue_milestones=overdue, days_without_report=days)
    return Verdict(Colour.YELLOW, (), days_without_report=days)


# ---------------------------------------------------------------- settings


def setting_int(community: Community, key: str, default: int, low: int, high: int) -> int:
    value = (community.settings or {}).get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return default
    return value


def stale_after(community: Community) -> timedelta:
    """How long a project may go without a report before it turns red ("project_stale_days", default 35)."""
    return timedelta(days=setting_int(community, STALE_DAYS_SETTING, STALE_DAYS, 1, 366))


def today(community: Community, now: datetime) -> date:
    return local(now, community.timezone).date()


# ---------------------------------------------------------------- the colour of a stored project


async def _community_of(uow: UnitOfWork, project: Project) -> Community:
    community = await uow.session.get(Community, project.community_id)
    if community is None:
        raise NotFound("community", project.community_id)
    return community


async def facts(uow: UnitOfWork, project: Project, *, as_of: datetime) -> Facts:
    """What the colour rule looks at, as things stood at `as_of`: only reports, ticks, photos, the
    completion and the override up to then (milestones and the deadline as they are now)."""
    return (await facts_many(uow, [project], as_of=as_of))[project.id or 0]


async def facts_many(uow: UnitOfWork, rows: Sequence[Project], *, as_of: datetime) -> dict[int, Facts]:
    """`facts` for many projects at once (a few queries in all), by project id."""
    ids = [p.id for p in rows if p.id is not None]
    if not ids:
        return {}
    days: dict[int, date] = {}
    for p in rows:
        if p.community_id not in days:
            days[p.community_id] = today(await _community_of(uow, p), as_of)
    marks: dict[int, list[tuple[date, date | None]]] = {i: [] for i in ids}
    for pid, due_on, done_on in (await uow.session.exec(
            select(ProjectMilestone.project_id, ProjectMilestone.due_on, ProjectMilestone.done_on)
            .where(col(ProjectMilestone.project_id).in_(ids))
            .order_by(col(ProjectMilestone.project_id), col(ProjectMilestone.position)))).all():
        marks[pid].append((due_on, done_on))
    after = dict((await uow.session.exec(
        select(ProjectPhoto.project_id, func.count()).where(
            col(ProjectPhoto.project_id).in_(ids), ProjectPhoto.kind == "after",
            col(ProjectPhoto.created_at) <= as_of).group_by(col(ProjectPhoto.project_id)))).all())
    older = [p.id for p in rows if p.id is not None and p.last_report_at is not None and p.last_report_at > as_of]
    reported: dict[int, datetime] = {}
    if older:
        reported = dict((await uow.session.exec(
            select(ProjectReport.project_id, func.max(ProjectReport.created_at)).where(
                col(ProjectReport.project_id).in_(older), col(ProjectReport.created_at) <= as_of)
            .group_by(col(ProjectReport.project_id)))).all())
    return {p.id: facts_of(p, day=days[p.community_id], as_of=as_of, milestones=marks[p.id],
                           after_photos=int(after.get(p.id, 0)), reported=reported.get(p.id))
            for p in rows if p.id is not None}


class Stored(Protocol):
    """What the rule reads of a stored project (a Project, or a row of just these columns)."""

    created_at: datetime
    deadline: date | None
    completed_at: datetime | None
    last_report_at: datetime | None
    colour_override: str | None
    override_at: datetime | None


def facts_of(p: Stored, *, day: date, as_of: datetime, milestones: Iterable[tuple[date, date | None]],
             after_photos: int, reported: datetime | None) -> Facts:
    """A stored project's `Facts` as things stood at `as_of` (pure), from what was read of it: its milestones
    (due on, done on), its "after" photos taken by then, the newest report by then when `last_report_at` is later
    (`reported`), and `day`, the community's local date at `as_of`."""
    last = None if p.last_report_at is None else p.last_report_at if p.last_report_at <= as_of else reported
    override = None
    if p.colour_override and (p.override_at is None or p.override_at <= as_of):
        override = Colour(p.colour_override)
    return Facts(
        started_at=p.created_at, deadline=p.deadline,
        milestones=[(due, done if done is not None and done <= day else None) for due, done in milestones],
        completed=p.completed_at is not None and p.completed_at <= as_of, after_photos=after_photos,
        last_report_at=last, override=override)


@cache
def colour_sql() -> ColumnElement[Any]:
    """`colour` (with `facts_of`) as one SQL expression over a row of `project`: its Colour value, or NULL for a
    project made after the moment (left out, as `verdicts` leaves it). For counting many projects by colour in the
    database without loading them (the district's overview). Built once: its bound parameters ("now", "today",
    "stale_before") are given by `colour_params`. tests/flows/test_colour_sql.py holds it to the Python rule."""
    now = bindparam("now", type_=UTCDateTime)
    today = bindparam("today", type_=Date)
    overdue = exists().where(
        col(ProjectMilestone.project_id) == col(Project.id), col(ProjectMilestone.due_on) < today,
        or_(col(ProjectMilestone.done_on).is_(None), col(ProjectMilestone.done_on) > today))
    after = exists().where(col(ProjectPhoto.project_id) == col(Project.id), ProjectPhoto.kind == "after",
                           col(ProjectPhoto.created_at) <= now)
    reported = (select(func.max(ProjectReport.created_at))
                .where(col(ProjectReport.project_id) == col(Project.id), col(ProjectReport.created_at) <= now)
                .scalar_subquery())
    last = case((col(Project.last_report_at).is_(None), null()), (col(Project.last_report_at) <= now,
                                                                   col(Project.last_report_at)), else_=reported)
    return case(
        (col(Project.created_at) > now, null()),
        (and_(col(Project.colour_override).is_not(None), col(Project.colour_override) != "",
              or_(col(Project.override_at).is_(None), col(Project.override_at) <= now)), col(Project.colour_override)),
        (and_(col(Project.completed_at).is_not(None), col(Project.completed_at) <= now),
         case((after, literal(Colour.GREEN.value)), else_=literal(Colour.YELLOW.value))),
        (overdue, literal(Colour.RED.value)),
        (and_(col(Project.deadline).is_not(None), col(Project.deadline) < today), literal(Colour.RED.value)),
        (type_coerce(func.coalesce(last, col(Project.created_at)), UTCDateTime)
         < bindparam("stale_before", type_=UTCDateTime), literal(Colour.RED.value)),
        else_=literal(Colour.YELLOW.value))


def colour_params(community: Community, now: datetime) -> dict[str, Any]:
    """`colour_sql`'s parameters for a community's projects at `now`: the moment, the community's local date and
    the moment before which a last report (or the start) is too old."""
    return {"now": now, "today": today(community, now), "stale_before": now - stale_after(community)}


async def verdict(uow: UnitOfWork, project: Project, now: datetime) -> Verdict:
    """The project's colour at `now`, with the community's time zone and staleness setting."""
    return (await verdicts(uow, [project], now))[project.id or 0]


async def verdicts(uow: UnitOfWork, rows: Sequence[Project], now: datetime) -> dict[int, Verdict]:
    """`verdict` for many projects at once, by project id."""
    known = await facts_many(uow, rows, as_of=now)
    out = {}
    rules: dict[int, tuple[str, timedelta]] = {}  # per community, not per project (a district has a thousand)
    for p in rows:
        if p.id in known:
            if p.community_id not in rules:
                community = await _community_of(uow, p)
                rules[p.community_id] = (community.timezone, stale_after(community))
            tz, quiet = rules[p.community_id]
            out[p.id] = colour(known[p.id], now=now, timezone=tz, stale_after=quiet)
    return out
