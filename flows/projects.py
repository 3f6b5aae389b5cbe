"""The year's livelihood projects after the vote (进度清单, F-3): the progress list, reporting, the colour.

Admins (Perm.PROJECTS) set each project's owner (责任人, a member of the community, told in private),
deadline, budget and funding source, and its milestones; the owner (or an admin) reports progress with a
percent, a note and photos, ticks milestones off, adds before/after photos and marks the project complete.
Owners who have not reported during the previous calendar month are reminded on the community's report
day, and the admins are told who is late (`due`, called by the scheduler).

The colour is computed, never typed in (an admin may override it with a reason): see flows/project_colour.py;
the monthly reminders are in flows/project_reminders.py. Both are re-exported here.

Dates are the community's local dates: a milestone due on the 15th is overdue from 00:00 on the 16th there."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from flows import audit, outbox
from flows.clock import local
from flows.errors import AlreadyDone, Forbidden, Invalid, NotFound
from flows.membership import Actor
from flows.project_colour import STALE_AFTER as STALE_AFTER  # re-exported: callers know them as projects.*
from flows.project_colour import STALE_DAYS as STALE_DAYS
from flows.project_colour import STALE_DAYS_SETTING as STALE_DAYS_SETTING
from flows.project_colour import Colour as Colour
from flows.project_colour import Facts as Facts
from flows.project_colour import Verdict as Verdict
from flows.project_colour import colour as colour
from flows.project_colour import facts as facts
from flows.project_colour import facts_many as facts_many
from flows.project_colour import stale_after as stale_after
from flows.project_colour import today as today
from flows.project_colour import verdict as verdict
from flows.project_colour import verdicts as verdicts
from flows.project_notices import ProjectOwner
from flows.project_reminders import REMIND_AT as REMIND_AT  # re-exported: callers know them as projects.*
from flows.project_reminders import REPORT_DAY as REPORT_DAY
from flows.project_reminders import REPORT_DAY_SETTING as REPORT_DAY_SETTING
from flows.project_reminders import due as due
from flows.project_reminders import report_day as report_day
from flows.roles import Perm, Role
from storage.db import UnitOfWork
from storage.models import (
    Member,
    Project,
    ProjectMilestone,
    ProjectPhoto,
    ProjectReport,
    RoleGrant,
    User,
)

#: Funding source codes (translated in bot/); anything else is the admin's own short text.
FUNDING = ("finance", "welfare", "partner", "property", "other")
LIMITS = {"title": 40, "note": 500, "reason": 200, "funding": 30}
MAX_BUDGET = 10**10  # yuan
MAX_PHOTOS = 10  # per report, and per kind (before / after) for a project
MAX_MILESTONES = 20
PHOTO_KINDS = ("before", "after")


# ---------------------------------------------------------------- settings and input


def clean(field_name: str, text: str | None, *, allow_empty: bool = False) -> str:
    """A free-text input on one line (the note keeps its line breaks), without control characters."""
    value = "".join(c for c in (text or "") if c == "\n" or unicodedata.category(c) not in ("Cc", "Cf", "Cs"))
    value = value.strip()
    if field_name != "note":
        value = " ".join(value.split())
    if not value and not allow_empty:
        raise Invalid(field_name, "empty")
    limit = LIMITS[field_name]
    if len(value) > limit:
        raise Invalid(field_name, "too_long", limit=limit)
    return value


_DATE = re.compile(r"(\d{4})\s*[-./年]\s*(\d{1,2})\s*[-./月]\s*(\d{1,2})\s*日?")


def parse_day(field_name: str, text: str) -> date:
    """A typed date: 2027-05-31 (also 2027/5/31, 2027.5.31, 2027年5月31日)."""
    match = _DATE.fullmatch(text.strip())
    if match is None:
        raise Invalid(field_name, "format")
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise Invalid(field_name, "format") from None


def parse_percent(text: str) -> int:
    """A typed percent, 0–100 ("60" or "60%")."""
    value = text.strip().removesuffix("%").removesuffix("％").strip()
    if not value.isascii() or not value.isdigit():
        raise Invalid("percent", "format")
    return check_percent(int(value))


def check_percent(value: int) -> int:
    if not 0 <= value <= 100:
        raise Invalid("percent", "range", low=0, high=100)
    return value


def parse_amount(text: str) -> int:
    """A typed budget in yuan: "120000", "120,000", "12万" or "12.5万" (whole yuan, 0–10^10)."""
    value = text.strip().replace(",", "").replace("，", "").removesuffix("元").strip()
    factor = 1
    if value.endswith("万"):
        value, factor = value[:-1].strip(), 10_000
    if not re.fullmatch(r"\d{1,11}(\.\d{1,4})?", value):
        raise Invalid("budget", "format")
    whole, _, frac = value.partition(".")
    fraction = int(frac.ljust(4, "0")) if frac else 0
    yuan = int(whole) * factor + (fraction * factor) // 10_000
    if (fraction * factor) % 10_000:
        raise Invalid("budget", "format")
    return check_budget(yuan)


def check_budget(yuan: int) -> int:
    if not 0 <= yuan <= MAX_BUDGET:
        raise Invalid("budget", "range", high=MAX_BUDGET)
    return yuan


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class MilestoneLine:
    id: int
    position: int
    title: str
    due_on: date
    done_on: date | None


@dataclass(frozen=True)
class ProjectView:
    id: int
    number: int
    year: int
    title: str
    category: str
    owner_member_id: int | None
    owner_name: str | None
    deadline: date | None
    budget_yuan: int | None
    funding: str | None
    percent: int
    last_report_at: datetime | None
    completed_at: datetime | None
    override_reason: str | None
    verdict: Verdict
    milestones: tuple[MilestoneLine, ...]
    before_photos: int
    after_photos: int




async def _project(uow: UnitOfWork, community_id: int, project_id: int) -> Project:
    project = await uow.session.get(Project, project_id)
    if project is None or project.community_id != community_id:
        raise NotFound("project", project_id)
    return project


async def _name(uow: UnitOfWork, member_id: int | None) -> str | None:
    if member_id is None:
        return None
    row = (await uow.session.exec(select(Member, User).join(User, col(User.id) == col(Member.user_id))
                                  .where(Member.id == member_id))).first()
    if row is None:
        return None
    return row[0].display_name or row[1].first_name


async def owner_names(uow: UnitOfWork, rows: Sequence[Project]) -> dict[int, str]:
    """The owners' names of these projects, by project id (projects without an owner are left out)."""
    wanted = {p.owner_member_id for p in rows if p.owner_member_id is not None}
    if not wanted:
        return {}
    names = {m.id: m.display_name or u.first_name for m, u in (await uow.session.exec(
        select(Member, User).join(User, col(User.id) == col(Member.user_id))
        .where(col(Member.id).in_(wanted)))).all()}
    return {p.id or 0: names[p.owner_member_id] for p in rows if p.owner_member_id in names}


async def view(uow: UnitOfWork, project: Project, *, now: datetime) -> ProjectView:
    """Everything the project card shows."""
    milestones = (await uow.session.exec(select(ProjectMilestone).where(ProjectMilestone.project_id == project.id)
                                         .order_by(col(ProjectMilestone.position)))).all()
    counts = dict((await uow.session.exec(select(ProjectPhoto.kind, func.count()).where(
        ProjectPhoto.project_id == project.id).group_by(col(ProjectPhoto.kind)))).all())
    return ProjectView(
        id=project.id or 0, number=project.number, year=project.year, title=project.title,
        category=project.category, owner_member_id=project.owner_member_id,
        owner_name=await _name(uow, project.owner_member_id), deadline=project.deadline,
        budget_yuan=project.budget_yuan, funding=project.funding, percent=project.percent,
        last_report_at=project.last_report_at, completed_at=project.completed_at,
        override_reason=project.override_reason, verdict=await verdict(uow, project, now),
        milestones=tuple(MilestoneLine(id=m.id or 0, position=m.position, title=m.title, due_on=m.due_on,
                                       done_on=m.done_on) for m in milestones),
        before_photos=int(counts.get("before", 0)), after_photos=int(counts.get("after", 0)))


async def list_projects(uow: UnitOfWork, *, actor: Actor, now: datetime, year: int | None = None) -> list[Project]:
    """The year's projects of the actor's community (this local year unless given), by number."""
    me = actor.registered()
    year = year if year is not None else local(now, actor.home().timezone).year
    return list((await uow.session.exec(select(Project).where(
        Project.community_id == me.community_id, Project.year == year).order_by(col(Project.number)))).all())


async def my_projects(uow: UnitOfWork, *, actor: Actor, now: datetime) -> list[Project]:
    """The projects the actor is responsible for: unfinished ones, and this year's finished ones."""
    me = actor.registered()
    year = local(now, actor.home().timezone).year
    rows = (await uow.session.exec(select(Project).where(
        Project.community_id == me.community_id, Project.owner_member_id == me.id)
        .order_by(col(Project.year), col(Project.number)))).all()
    return [p for p in rows if p.completed_at is None or p.year == year]


async def get(uow: UnitOfWork, *, actor: Actor, project_id: int) -> Project:
    """A project of the actor's community (any member may look)."""
    return await _project(uow, actor.registered().community_id, project_id)


def may_report(actor: Actor, project: Project) -> bool:
    return actor.member is not None and actor.member.community_id == project.community_id and (
        actor.member.id == project.owner_member_id or actor.can(Perm.PROJECTS))


async def _manageable(uow: UnitOfWork, actor: Actor, project_id: int) -> tuple[Member, Project]:
    me = actor.require(Perm.PROJECTS)
    return me, await _project(uow, me.community_id, project_id)


async def _reportable(uow: UnitOfWork, actor: Actor, project_id: int) -> tuple[Member, Project]:
    me = actor.registered()
    project = await _project(uow, me.community_id, project_id)
    if not may_report(actor, project):
        raise Forbidden("project_owner")
    return me, project


def _audit(uow: UnitOfWork, actor: Actor, project: Project, action: str, now: datetime, **details: Any) -> None:
    audit.record(uow, action=action, now=now, community_id=project.community_id, actor_user_id=actor.user.id,
                 subject_type="project", subject_id=project.id, number=project.number, year=project.year,
                 **details)


# ---------------------------------------------------------------- the progress list (admins)


@dataclass(frozen=True)
class Candidate:
    member_id: int
    name: str
    role: str


async def owner_candidates(uow: UnitOfWork, *, actor: Actor) -> list[Candidate]:
    """Grid workers and committee members of the community, offered as owners by button."""
    me = actor.require(Perm.PROJECTS)
    rows = (await uow.session.exec(
        select(Member, User, RoleGrant.role).join(User, col(User.id) == col(Member.user_id))
        .join(RoleGrant, col(RoleGrant.member_id) == col(Member.id))
        .where(Member.community_id == me.community_id, col(RoleGrant.revoked_at).is_(None),
               col(RoleGrant.role).in_((Role.GRID_WORKER.value, Role.COMMITTEE.value)))
        .order_by(col(Member.id)))).all()
    out: dict[int, Candidate] = {}
    for member, user, role in rows:
        out.setdefault(member.id or 0, Candidate(member.id or 0, member.display_name or user.first_name, role))
    return list(out.values())


async def set_owner(uow: UnitOfWork, *, actor: Actor, project_id: int, member_id: int, now: datetime) -> Project:
    """Make a member of the community the project's owner (责任人); they are told in private."""
    me, project = await _manageable(uow, actor, project_id)
    row = (await uow.session.exec(select(Member, User).join(User, col(User.id) == col(Member.user_id))
                                  .where(Member.id == member_id))).first()
    if row is None or row[0].community_id != me.community_id:
        raise NotFound("member", member_id)
    member, user = row
    if project.owner_member_id == member.id:
        raise AlreadyDone("project_owner")
    before = project.owner_member_id
    project.owner_member_id = member.id
    uow.session.add(project)
    _audit(uow, actor, project, "project.owner", now, owner=member.id, was=before)
    community = actor.home()
    outbox.notify(uow, tg_chat_id=user.tg_id, lang=user.language or community.locale,
                  now=now, community_id=project.community_id, recipient_user_id=user.id,
                  dedupe_key=f"project_owner:{project.id}:{member.id}:{int(now.timestamp())}",
                  notice=ProjectOwner(number=project.number, title=project.title, year=project.year,
                                      community=community.name,
                                      deadline=project.deadline.isoformat() if project.deadline else None))
    return project


async def set_deadline(uow: UnitOfWork, *, actor: Actor, project_id: int, deadline: date, now: datetime) -> Project:
    """The project's deadline: a local date, today or later."""
    _me, project = await _manageable(uow, actor, project_id)
    if deadline < today(actor.home(), now):
        raise Invalid("deadline", "past")
    before = project.deadline
    project.deadline = deadline
    uow.session.add(project)
    _audit(uow, actor, project, "project.deadline", now, deadline=deadline.isoformat(),
           was=before.isoformat() if before else None)
    return project


async def set_budget(uow: UnitOfWork, *, actor: Actor, project_id: int, now: datetime,
                     budget_yuan: int | None = None, funding: str | None = None) -> Project:
    """Set the budget (whole yuan) and/or the funding source (a code of FUNDING or a short text)."""
    _me, project = await _manageable(uow, actor, project_id)
    if budget_yuan is None and funding is None:
        raise Invalid("budget", "empty")
    if budget_yuan is not None:
        project.budget_yuan = check_budget(budget_yuan)
    if funding is not None:
        project.funding = funding if funding in FUNDING else clean("funding", funding)
    uow.session.add(project)
    _audit(uow, actor, project, "project.budget", now, budget=project.budget_yuan, funding=project.funding)
    return project


async def _milestone(uow: UnitOfWork, community_id: int, milestone_id: int) -> tuple[ProjectMilestone, Project]:
    row = (await uow.session.exec(select(ProjectMilestone, Project)
                                  .join(Project, col(Project.id) == col(ProjectMilestone.project_id))
                                  .where(ProjectMilestone.id == milestone_id))).first()
    if row is None or row[1].community_id != community_id:
        raise NotFound("milestone", milestone_id)
    return row[0], row[1]


async def add_milestone(uow: UnitOfWork, *, actor: Actor, project_id: int, title: str, due_on: date,
                        now: datetime) -> ProjectMilestone:
    """A step of the road-map (title ≤ 40 characters) due on a local date, today or later."""
    _me, project = await _manageable(uow, actor, project_id)
    name = clean("title", title)
    if due_on < today(actor.home(), now):
        raise Invalid("due_on", "past")
    count, last = (await uow.session.exec(select(func.count(), func.max(ProjectMilestone.position)).where(
        ProjectMilestone.project_id == project.id))).one()
    if count >= MAX_MILESTONES:
        raise Invalid("milestones", "too_many", limit=MAX_MILESTONES)
    milestone = ProjectMilestone(project_id=project.id or 0, position=(last or 0) + 1, title=name, due_on=due_on)
    uow.session.add(milestone)
    await uow.session.flush()
    _audit(uow, actor, project, "project.milestone_add", now, milestone=milestone.id, title=name,
           due_on=due_on.isoformat())
    return milestone


async def edit_milestone(uow: UnitOfWork, *, actor: Actor, milestone_id: int, now: datetime,
                         title: str | None = None, due_on: date | None = None) -> ProjectMilestone:
    me = actor.require(Perm.PROJECTS)
    milestone, project = await _milestone(uow, me.community_id, milestone_id)
    if title is not None:
        milestone.title = clean("title", title)
    if due_on is not None:
        if due_on < today(actor.home(), now) and due_on != milestone.due_on:
            raise Invalid("due_on", "past")
        milestone.due_on = due_on
    uow.session.add(milestone)
    _audit(uow, actor, project, "project.milestone_edit", now, milestone=milestone.id, title=milestone.title,
           due_on=milestone.due_on.isoformat())
    return milestone


async def remove_milestone(uow: UnitOfWork, *, actor: Actor, milestone_id: int, now: datetime) -> Project:
    me = actor.require(Perm.PROJECTS)
    milestone, project = await _milestone(uow, me.community_id, milestone_id)
    _audit(uow, actor, project, "project.milestone_remove", now, milestone=milestone.id, title=milestone.title,
           due_on=milestone.due_on.isoformat(), done_on=milestone.done_on.isoformat() if milestone.done_on else None)
    await uow.session.delete(milestone)
    await uow.session.flush()
    return project


async def milestone_of(uow: UnitOfWork, *, actor: Actor, milestone_id: int) -> tuple[ProjectMilestone, Project]:
    return await _milestone(uow, actor.registered().community_id, milestone_id)


async def tick_milestone(uow: UnitOfWork, *, actor: Actor, milestone_id: int, done_on: date,
                         now: datetime) -> ProjectMilestone:
    """Tick a milestone off with the (local) date it was done: not in the future, not before the project."""
    me = actor.registered()
    milestone, project = await _milestone(uow, me.community_id, milestone_id)
    if not may_report(actor, project):
        raise Forbidden("project_owner")
    community = actor.home()
    if milestone.done_on is not None:
        raise AlreadyDone("milestone")
    if done_on > today(community, now):
        raise Invalid("done_on", "future")
    if done_on < today(community, project.created_at):
        raise Invalid("done_on", "before_start", start=today(community, project.created_at).isoformat())
    milestone.done_on = done_on
    uow.session.add(milestone)
    _audit(uow, actor, project, "project.milestone_done", now, milestone=milestone.id, done_on=done_on.isoformat())
    return milestone


# ---------------------------------------------------------------- reporting (the owner)


def _check_photos(photos: Sequence[tuple[str, str]], limit: int) -> list[tuple[str, str]]:
    """(file_id, file_unique_id) pairs, without repeats; at most `limit`."""
    out: dict[str, str] = {}
    for file_id, unique in photos:
        if not file_id or not unique or len(file_id) > 255 or len(unique) > 64:
            raise Invalid("photo", "bad")
        out.setdefault(unique, file_id)
    if len(out) > limit:
        raise Invalid("photos", "too_many", limit=MAX_PHOTOS)
    return [(file_id, unique) for unique, file_id in out.items()]


async def _known(uow: UnitOfWork, project_id: int | None) -> set[str]:
    return set((await uow.session.exec(select(ProjectPhoto.file_unique_id).where(
        ProjectPhoto.project_id == project_id))).all())


async def report(uow: UnitOfWork, *, actor: Actor, project_id: int, percent: int, now: datetime, note: str = "",
                 photos: Sequence[tuple[str, str]] = ()) -> ProjectReport:
    """A progress report by the owner (or an admin): percent 0–100, a note (≤ 500), ≤ 10 photos
    as (file_id, file_unique_id); a photo already filed for the project is not stored twice."""
    me, project = await _reportable(uow, actor, project_id)
    check_percent(percent)
    text = clean("note", note, allow_empty=True)
    pictures = _check_photos(photos, MAX_PHOTOS)
    if project.completed_at is not None:
        raise AlreadyDone("project_complete")
    row = ProjectReport(project_id=project.id or 0, member_id=me.id or 0, percent=percent, note=text, created_at=now)
    uow.session.add(row)
    await uow.session.flush()
    known = await _known(uow, project.id)
    added = 0
    for file_id, unique in pictures:
        if unique not in known:
            uow.session.add(ProjectPhoto(project_id=project.id or 0, report_id=row.id, kind="progress",
                                         file_id=file_id, file_unique_id=unique, member_id=me.id or 0,
                                         created_at=now))
            added += 1
    project.percent, project.last_report_at = percent, now
    uow.session.add(project)
    _audit(uow, actor, project, "project.report", now, report=row.id, percent=percent, photos=added)
    return row


async def add_photos(uow: UnitOfWork, *, actor: Actor, project_id: int, kind: str,
                     photos: Sequence[tuple[str, str]], now: datetime) -> int:
    """Before (整改前) or after (整改后) photos, at most MAX_PHOTOS of each kind; returns how many were new.
    The first "after" photo of a project already marked complete makes it done: the comparison is posted."""
    me, project = await _reportable(uow, actor, project_id)
    if kind not in PHOTO_KINDS:
        raise Invalid("kind", "unknown")
    pictures = _check_photos(photos, MAX_PHOTOS)
    if not pictures:
        raise Invalid("photos", "empty")
    known = await _known(uow, project.id)
    fresh = [(f, u) for f, u in pictures if u not in known]
    have = (await uow.session.exec(select(func.count()).select_from(ProjectPhoto).where(
        ProjectPhoto.project_id == project.id, ProjectPhoto.kind == kind))).one()
    if have + len(fresh) > MAX_PHOTOS:
        raise Invalid("photos", "too_many", limit=MAX_PHOTOS, have=int(have))
    for file_id, unique in fresh:
        uow.session.add(ProjectPhoto(project_id=project.id or 0, kind=kind, file_id=file_id, file_unique_id=unique,
                                     member_id=me.id or 0, created_at=now))
    await uow.session.flush()
    _audit(uow, actor, project, "project.photos", now, kind=kind, added=len(fresh))
    if kind == "after" and fresh and have == 0 and project.completed_at is not None:
        from flows import acceptance  # the acceptance flow may read this module's tables

        await acceptance.completed(uow, project=project, now=now)
    return len(fresh)


async def complete(uow: UnitOfWork, *, actor: Actor, project_id: int, now: datetime) -> Verdict:
    """Mark the project complete (percent 100). Without an "after" photo it stays 🟡 (after_photo_missing)."""
    _me, project = await _reportable(uow, actor, project_id)
    if project.completed_at is not None:
        raise AlreadyDone("project_complete")
    project.completed_at, project.percent = now, 100
    uow.session.add(project)
    await uow.session.flush()
    _audit(uow, actor, project, "project.complete", now)
    from flows import acceptance  # the acceptance flow may read this module's tables

    await acceptance.completed(uow, project=project, now=now)
    return await verdict(uow, project, now)


# ---------------------------------------------------------------- colour override (admins)


async def override(uow: UnitOfWork, *, actor: Actor, project_id: int, colour_code: str, reason: str,
                   now: datetime) -> Project:
    """Set the colour by hand with a reason (≤ 200 characters); shown on the board and audited."""
    me, project = await _manageable(uow, actor, project_id)
    try:
        chosen = Colour(colour_code)
    except ValueError:
        raise Invalid("colour", "unknown") from None
    why = clean("reason", reason)
    project.colour_override, project.override_reason = chosen.value, why
    project.override_by_member_id, project.override_at = me.id, now
    uow.session.add(project)
    _audit(uow, actor, project, "project.override", now, colour=chosen.value, reason=why)
    return project


async def clear_override(uow: UnitOfWork, *, actor: Actor, project_id: int, now: datetime) -> Project:
    _me, project = await _manageable(uow, actor, project_id)
    if project.colour_override is None:
        raise AlreadyDone("override_cleared")
    _audit(uow, actor, project, "project.override_clear", now, colour=project.colour_override)
    project.colour_override = project.override_reason = None
    project.override_by_member_id = project.override_at = None
    uow.session.add(project)
    return project
