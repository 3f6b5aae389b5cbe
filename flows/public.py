"""The public board (公示栏 on the web, F-11.1): read-only queries for people without Telegram.

Everything here is public, so nothing here names a person: a project's owner is shown by role (the most
senior role they hold, with the organisation of a committee member), the care ledger only as counts
(checks done, the share answered on time, incidents by outcome) — never a name, alias, room or contact.
Each function answers one section in a fixed number of queries (never one per project or per community)
and returns plain frozen dataclasses; the web layer words and renders them.

The year shown is each community's current local year."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Select, bindparam, case, func, literal, null
from sqlmodel import col, select

from flows import board as board_flow
from flows import jobs as jobs_flow
from flows import project_colour
from flows.clock import local
from flows.errors import NotFound
from flows.project_colour import Colour
from flows.request_stats import SOLVED
from flows.requests import code as request_label
from flows.visits import stats as visit_stats
from flows.visits.stats import Stats as VisitStats
from storage.db import UnitOfWork
from storage.models import (
    CheckinPrompt,
    Community,
    Incident,
    Need,
    Project,
    ProjectLike,
    ProjectMilestone,
    ProjectPhoto,
    ProjectRating,
    ProjectReport,
    RoleGrant,
)
from storage.models_requests import Request
from storage.types import UTCDateTime

#: The role a project owner is shown by: the first of these they hold (a member without one is a resident)
ROLE_ORDER = ("admin", "grid_worker", "committee", "district_admin", "enthusiast", "volunteer", "representative")
#: Photo kinds shown on the board (a progress report's photos are shown with the report)
PUBLIC_PHOTO_KINDS = ("before", "after", "progress")
MAX_REPORTS = 20  # progress notes on a project's page, newest first
MAX_PHOTOS = 12  # per kind on a project's page
MAX_CLOSED = 10  # solved requests listed on a community's page


def year_of(community: Community, now: datetime) -> int:
    return board_flow.board_year(community, now)


def _changed_at(community: Community, projects: Sequence[Any], now: datetime, stamps: list[datetime]) -> datetime:
    """When what a page shows last changed: the newest of its data's stamps, and the moments a colour may have
    turned without any data changing — the start of the local day (milestones and deadlines pass at midnight)
    and each project's "no report" moment, when it is past."""
    moments = list(stamps)
    today = local(now, community.timezone).replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
    moments.append(today)
    quiet = project_colour.stale_after(community)
    for p in projects:
        flip = (p.last_report_at or p.created_at) + quiet
        if flip <= now:
            moments.append(flip)
    return max(m for m in moments if m <= now) if any(m <= now for m in moments) else now


def _year_bounds(community: Community, year: int) -> tuple[datetime, datetime]:
    tz = ZoneInfo(community.timezone)
    return datetime(year, 1, 1, tzinfo=tz), datetime(year + 1, 1, 1, tzinfo=tz)


# ---------------------------------------------------------------- the district's communities


@dataclass(frozen=True)
class Counts:
    """A community's year in numbers (the overview and the district's roll-up)."""

    green: int = 0
    yellow: int = 0
    red: int = 0
    needs: int = 0
    rating: float | None = None  # average ⭐ over the rated projects' ratings, one decimal
    raters: int = 0
    requests_solved: int | None = None  # confirmed or closed by default

    @property
    def projects(self) -> int:
        return self.green + self.yellow + self.red

    def percent_green(self) -> int:
        return round(100 * self.green / self.projects) if self.projects else 0


@dataclass(frozen=True)
class CommunityLine:
    slug: str
    name: str
    year: int
    counts: Counts
    percent: int  # the average progress of the year's projects


_NEEDS = select(Need.community_id, Need.year, func.count()).where(
    col(Need.year).in_(bindparam("years", expanding=True))).group_by(col(Need.community_id), col(Need.year))
_RATINGS = select(Project.community_id, Project.year, func.avg(ProjectRating.stars), func.count()).join(
    Project, col(Project.id) == col(ProjectRating.project_id)).where(
    col(Project.year).in_(bindparam("years", expanding=True))).group_by(col(Project.community_id), col(Project.year))
_SOLVED_BY = select(Request.community_id, Request.year, func.count()).where(
    col(Request.year).in_(bindparam("years", expanding=True)), col(Request.state).in_(SOLVED)).group_by(
    col(Request.community_id), col(Request.year))


@cache
def _colour_counts() -> Select[Any]:
    """Projects of a year counted by colour and community, with the sum of their percents (built once; parameters:
    flows.project_colour.colour_params, "year" and the communities' "ids"). One made after now is yellow, as on its
    board."""
    shown = func.coalesce(project_colour.colour_sql(), literal(Colour.YELLOW.value))
    each = select(col(Project.community_id).label("cid"), shown.label("colour"),
                  col(Project.percent).label("percent")).where(
        Project.year == bindparam("year"), col(Project.community_id).in_(bindparam("ids", expanding=True))).cte("each")
    if sqlite3.sqlite_version_info >= (3, 35):  # else SQLite works the colour out twice (for grouping and output)
        each = each.prefix_with("MATERIALIZED", dialect="sqlite")
    return (select(each.c.cid, each.c.colour, func.count(), func.sum(each.c.percent))
            .group_by(each.c.cid, each.c.colour))


async def communities(uow: UnitOfWork, *, now: datetime) -> list[CommunityLine]:
    """Every community of the deployment (the district) with its year's counts, by name: five queries (one more per
    further time zone or staleness setting in use). The projects are counted by colour in the database
    (flows.project_colour.colour_sql), never loaded one by one."""
    rows = (await uow.session.exec(select(Community.id, Community.slug, Community.name, Community.timezone,
                                          Community.settings).order_by(col(Community.name), col(Community.id)))).all()
    if not rows:
        return []
    years: dict[int, int] = {}
    alike: dict[tuple[date, datetime], list[int]] = {}  # communities whose colours follow the same day and limit
    for c in rows:  # (what the colour rule reads of a community: its time zone and settings)
        day = project_colour.today(cast(Community, c), now)
        years[c.id] = day.year
        alike.setdefault((day, now - project_colour.stale_after(cast(Community, c))), []).append(c.id)
    wanted = set(years.values())
    colours: dict[int, Counter[str]] = {}
    percents: dict[int, tuple[int, int]] = {}  # the sum of the year's projects' percents, and their number
    for (day, stale_before), ids in alike.items():
        for cid, colour, n, total in (await uow.session.exec(_colour_counts(), params={
                "now": now, "today": day, "stale_before": stale_before, "year": day.year, "ids": ids})).all():
            colours.setdefault(cid, Counter())[colour] += int(n)
            got, count = percents.get(cid, (0, 0))
            percents[cid] = (got + int(total or 0), count + int(n))
    of_years = {"years": sorted(wanted)}
    needs = {(cid, year): int(n) for cid, year, n in (await uow.session.exec(_NEEDS, params=of_years)).all()}
    ratings = {(cid, year): (avg, int(n)) for cid, year, avg, n in (
        await uow.session.exec(_RATINGS, params=of_years)).all()}
    solved = {(cid, year): int(n) for cid, year, n in (await uow.session.exec(_SOLVED_BY, params=of_years)).all()}
    out = []
    for c in rows:
        cid, year = c.id or 0, years[c.id]
        got = colours.get(cid) or Counter()
        avg, raters = ratings.get((cid, year), (None, 0))
        total, count = percents.get(cid, (0, 0))
        out.append(CommunityLine(
            slug=c.slug, name=c.name, year=year,
            counts=Counts(green=got["green"], yellow=got["yellow"], red=got["red"], needs=needs.get((cid, year), 0),
                          rating=round(float(avg), 1) if avg is not None else None, raters=raters,
                          requests_solved=solved.get((cid, year), 0)),
            percent=round(total / count) if count else 0))
    return out


def district_total(lines: Sequence[CommunityLine]) -> Counts:
    """The district's counts: the sums, and the rating averaged over every rating."""
    raters = sum(x.counts.raters for x in lines)
    stars = sum((x.counts.rating or 0) * x.counts.raters for x in lines)
    return Counts(green=sum(x.counts.green for x in lines), yellow=sum(x.counts.yellow for x in lines),
                  red=sum(x.counts.red for x in lines), needs=sum(x.counts.needs for x in lines),
                  rating=round(stars / raters, 1) if raters else None, raters=raters,
                  requests_solved=sum(x.counts.requests_solved or 0 for x in lines))


# ---------------------------------------------------------------- a community's board


@dataclass(frozen=True)
class ProjectLine:
    number: int
    title: str
    colour: str  # Colour value
    reasons: tuple[str, ...]
    percent: int
    owner_role: str | None  # a Role value ("resident" when they hold none), never a name
    owner_org: str | None  # the organisation of a committee member
    next_title: str | None
    next_due: date | None
    completed: bool
    likes: int
    rating: float | None
    raters: int
    rated_at: datetime | None = None  # the newest rating (for Last-Modified)


@dataclass(frozen=True)
class CareStats:
    """The year's check-ins of the care ledger, counted only."""

    checks_done: int = 0  # answered
    checks_due: int = 0  # answered or missed
    on_time: int = 0  # answered before any reminder
    incidents: dict[str, int] = field(default_factory=dict)  # outcome ("open" while open) → count
    changed_at: datetime | None = None  # the newest answer, due check, incident opened or closed

    @property
    def on_time_percent(self) -> int | None:
        return round(100 * self.on_time / self.checks_due) if self.checks_due else None


@dataclass(frozen=True)
class ClosedRequest:
    """A solved request as the public sees it: what kind, which category, who handled it, when — never its text,
    place, pictures or reporter."""

    number: str  # R-2027-0012
    kind: str  # request | dispute | hazard
    category: str
    organisation: str | None  # an Org code
    state: str  # confirmed | closed_default
    reported_on: date
    closed_on: date | None


@dataclass(frozen=True)
class RequestStats:
    """Closed-loop requests of the year, counted (flows/requests.py keeps them)."""

    reported: int = 0
    open: int = 0
    solved: dict[str, int] = field(default_factory=dict)  # per kind
    by_default: int = 0  # of the solved, closed without the reporter's answer
    closed: list[ClosedRequest] = field(default_factory=list)  # the latest solved, newest first
    changed_at: datetime | None = None

    @property
    def solved_total(self) -> int:
        return sum(self.solved.values())


@dataclass(frozen=True)
class CommunityBoard:
    slug: str
    name: str
    year: int
    projects: list[ProjectLine]
    care: CareStats
    requests: RequestStats
    updated_at: datetime  # when what the page shows last changed (Last-Modified)
    visits: VisitStats | None = None  # visits and services of the last 30 days, counted only (#17)
    jobs: jobs_flow.Totals = jobs_flow.Totals(0, 0, 0)  # the year's openings, people trained, income (#16)

    def counts(self) -> Counts:
        got = Counter(p.colour for p in self.projects)
        return Counts(green=got["green"], yellow=got["yellow"], red=got["red"])


_BY_SLUG = select(Community).where(Community.slug == bindparam("slug"))


async def community_by_slug(uow: UnitOfWork, slug: str) -> Community:
    found = (await uow.session.exec(_BY_SLUG, params={"slug": slug})).first()
    if found is None:
        raise NotFound("community", slug)
    return found


_ROLES = select(RoleGrant.member_id, RoleGrant.role, RoleGrant.organisation).where(
    col(RoleGrant.member_id).in_(bindparam("ids", expanding=True)), col(RoleGrant.revoked_at).is_(None))


async def _owner_roles(uow: UnitOfWork, member_ids: set[int]) -> dict[int, tuple[str, str | None]]:
    if not member_ids:
        return {}
    held: dict[int, dict[str, str | None]] = {}
    for mid, role, org in (await uow.session.exec(_ROLES, params={"ids": list(member_ids)})).all():
        held.setdefault(mid, {})[role] = org
    out: dict[int, tuple[str, str | None]] = {}
    for mid in member_ids:
        roles = held.get(mid, {})
        role = next((r for r in ROLE_ORDER if r in roles), "resident")
        out[mid] = (role, roles.get(role) if role == "committee" else None)
    return out


@cache
def _read(page: bool = False) -> Select[Any]:
    """The board's lines of a community's year ("community_id", "year"; by number): the projects' columns, and beside
    them what they are counted with — their "after" photos and the newest report up to "now" (for the colour),
    👍 and ⭐ — in one query built once. `page`: one project ("number") with what its page shows besides."""
    pid, now = col(Project.id), bindparam("now", type_=UTCDateTime)
    ratings = select(ProjectRating).where(col(ProjectRating.project_id) == pid)
    query = select(
        pid, col(Project.number), col(Project.title), col(Project.percent), col(Project.created_at),
        col(Project.last_report_at), col(Project.deadline), col(Project.completed_at), col(Project.colour_override),
        col(Project.override_at), col(Project.owner_member_id),
        select(func.count()).where(col(ProjectPhoto.project_id) == pid, ProjectPhoto.kind == "after",
                                   col(ProjectPhoto.created_at) <= now).scalar_subquery().label("after_photos"),
        case((col(Project.last_report_at) > now, select(func.max(ProjectReport.created_at)).where(
            col(ProjectReport.project_id) == pid, col(ProjectReport.created_at) <= now).scalar_subquery()),
             else_=null()).label("reported"),
        select(func.count()).where(col(ProjectLike.project_id) == pid).scalar_subquery().label("likes"),
        ratings.with_only_columns(func.avg(ProjectRating.stars)).scalar_subquery().label("stars"),
        ratings.with_only_columns(func.count()).scalar_subquery().label("raters"),
        ratings.with_only_columns(func.max(ProjectRating.updated_at)).scalar_subquery().label("rated_at"),
    ).where(Project.community_id == bindparam("community_id"), Project.year == bindparam("year"))
    if page:
        return query.add_columns(col(Project.category), col(Project.budget_yuan), col(Project.funding)).where(
            Project.number == bindparam("number"))
    return query.order_by(col(Project.number))


_MILESTONES = select(ProjectMilestone.project_id, ProjectMilestone.title, ProjectMilestone.due_on,
                     ProjectMilestone.done_on).where(
    col(ProjectMilestone.project_id).in_(bindparam("ids", expanding=True))).order_by(
    col(ProjectMilestone.due_on), col(ProjectMilestone.position))


async def _milestones(uow: UnitOfWork, ids: Sequence[int]) -> dict[int, list[tuple[str, date, date | None]]]:
    """The projects' milestones (title, due on, done on) in their order (due day, position): one query."""
    out: dict[int, list[tuple[str, date, date | None]]] = {i: [] for i in ids}
    if ids:
        for pid, title, due, done in (await uow.session.exec(_MILESTONES, params={"ids": list(ids)})).all():
            out[pid].append((title, due, done))
    return out


async def _lines(uow: UnitOfWork, community: Community, rows: Sequence[Any], now: datetime,
                 steps: dict[int, list[tuple[str, date, date | None]]]) -> list[ProjectLine]:
    """The board's lines of projects read with `_read`, their milestones `steps`: the colour by the rule
    (flows.project_colour; a project made after now is yellow), the owner by role (one query)."""
    roles = await _owner_roles(uow, {p.owner_member_id for p in rows if p.owner_member_id})
    day, tz, quiet = project_colour.today(community, now), community.timezone, project_colour.stale_after(community)
    out = []
    for p in rows:
        mine = steps.get(p.id, [])
        v = None
        if p.created_at <= now:
            v = project_colour.colour(project_colour.facts_of(
                p, day=day, as_of=now, milestones=[(due, done) for _, due, done in mine],
                after_photos=int(p.after_photos), reported=p.reported), now=now, timezone=tz, stale_after=quiet)
        nxt = next(((title, due) for title, due, done in mine if done is None), None)
        role, org = roles.get(p.owner_member_id or 0, (None, None))
        out.append(ProjectLine(
            number=p.number, title=p.title, colour=v.colour.value if v else Colour.YELLOW.value,
            reasons=v.reasons if v else (), percent=p.percent, owner_role=role, owner_org=org,
            next_title=nxt[0] if nxt else None, next_due=nxt[1] if nxt else None,
            completed=p.completed_at is not None, likes=int(p.likes),
            rating=round(float(p.stars), 1) if p.stars is not None else None, raters=int(p.raters),
            rated_at=p.rated_at))
    return out


_CHECKS = select(CheckinPrompt.status, CheckinPrompt.stage, func.count(), func.max(CheckinPrompt.answered_at),
                 func.max(CheckinPrompt.due_at)).where(
    CheckinPrompt.community_id == bindparam("community_id"), col(CheckinPrompt.status).in_(("answered", "missed")),
    col(CheckinPrompt.local_date) >= bindparam("first"), col(CheckinPrompt.local_date) <= bindparam("last")).group_by(
    col(CheckinPrompt.status), col(CheckinPrompt.stage))
_INCIDENTS = select(Incident.outcome, func.count(), func.max(Incident.opened_at), func.max(Incident.closed_at)).where(
    Incident.community_id == bindparam("community_id"), col(Incident.opened_at) >= bindparam("start", type_=UTCDateTime),
    col(Incident.opened_at) < bindparam("end", type_=UTCDateTime)).group_by(col(Incident.outcome))


async def care_stats(uow: UnitOfWork, community: Community, year: int) -> CareStats:
    """The year's check-ins and incidents of a community, counted (two queries)."""
    cid = community.id or 0
    checks = (await uow.session.exec(_CHECKS, params={"community_id": cid, "first": f"{year}-01-01",
                                                      "last": f"{year}-12-31"})).all()
    done = sum(int(n) for status, _, n, _, _ in checks if status == "answered")
    on_time = sum(int(n) for status, stage, n, _, _ in checks if status == "answered" and stage == 0)
    start, end = _year_bounds(community, year)
    incidents = (await uow.session.exec(_INCIDENTS, params={"community_id": cid, "start": start, "end": end})).all()
    stamps = [t for row in checks for t in row[3:] if t is not None]
    stamps += [t for row in incidents for t in row[2:] if t is not None]
    return CareStats(checks_done=done, checks_due=sum(int(row[2]) for row in checks), on_time=on_time,
                     incidents={(outcome or "open"): int(n) for outcome, n, _, _ in incidents},
                     changed_at=max(stamps) if stamps else None)


_REQUESTS = select(Request.state, Request.kind, func.count(), func.max(Request.updated_at)).where(
    Request.community_id == bindparam("community_id"), Request.year == bindparam("year")).group_by(
    col(Request.state), col(Request.kind))
_SOLVED = select(Request.year, Request.number, Request.kind, Request.category, Request.organisation, Request.state,
                 Request.created_at, Request.closed_at).where(
    Request.community_id == bindparam("community_id"), Request.year == bindparam("year"),
    col(Request.state).in_(SOLVED)).order_by(col(Request.closed_at).desc(), col(Request.number).desc()).limit(MAX_CLOSED)


async def request_stats(uow: UnitOfWork, community: Community, year: int, *, now: datetime,
                        latest: bool = True) -> RequestStats:
    """The year's requests of a community, counted, and the latest solved ones without personal data (two queries;
    one without the latest, `latest=False`)."""
    where = {"community_id": community.id, "year": year}
    counts = (await uow.session.exec(_REQUESTS, params=where)).all()
    solved: dict[str, int] = {}
    for state, kind, n, _ in counts:
        if state in SOLVED:
            solved[kind] = solved.get(kind, 0) + int(n)
    solved_rows = (await uow.session.exec(_SOLVED, params=where)).all() if latest else []
    tz = community.timezone
    stamps = [at for *_, at in counts if at is not None and at <= now]
    return RequestStats(
        reported=sum(int(n) for _, _, n, _ in counts),
        open=sum(int(n) for state, _, n, _ in counts if state not in (*SOLVED, "rejected", "merged")),
        solved=solved, by_default=sum(int(n) for state, _, n, _ in counts if state == "closed_default"),
        closed=[ClosedRequest(request_label(y, number), kind, category, org, state, local(created, tz).date(),
                              local(closed, tz).date() if closed else None)
                for y, number, kind, category, org, state, created, closed in solved_rows],
        changed_at=max(stamps) if stamps else None)


async def community_board(uow: UnitOfWork, *, slug: str, now: datetime, closed: bool = True) -> CommunityBoard:
    """A community's board of the year: its projects, care statistics and request statistics (eight queries, seven
    without the latest solved requests, `closed=False`: the printed board does not list them)."""
    community = await community_by_slug(uow, slug)
    year = year_of(community, now)
    projects = (await uow.session.exec(_read(), params={"now": now, "community_id": community.id,
                                                       "year": year})).all()
    lines = await _lines(uow, community, projects, now, await _milestones(uow, [p.id for p in projects]))
    latest = [p.created_at for p in projects] + [p.last_report_at for p in projects if p.last_report_at]
    latest += [p.completed_at for p in projects if p.completed_at] + [p.override_at for p in projects if p.override_at]
    latest += [x.rated_at for x in lines if x.rated_at is not None]
    care = await care_stats(uow, community, year)
    requests = await request_stats(uow, community, year, now=now, latest=closed)
    visits = await visit_stats.public(uow, community_id=community.id or 0, tz=community.timezone, now=now)
    latest += [t for t in (care.changed_at, requests.changed_at, visits.changed_at) if t is not None]
    employment = await jobs_flow.totals(uow, community_id=community.id, year=year)
    latest += [t for t in (await jobs_flow.changed_at(uow, community_id=community.id or 0, now=now),) if t is not None]
    return CommunityBoard(slug=community.slug, name=community.name, year=year,
                          projects=lines, care=care, requests=requests, visits=visits, jobs=employment,
                          updated_at=_changed_at(community, projects, now, latest))


# ---------------------------------------------------------------- a project's page


@dataclass(frozen=True)
class Step:
    title: str
    due_on: date
    done_on: date | None


@dataclass(frozen=True)
class Note:
    at: datetime
    percent: int
    note: str
    photos: list[str]  # media ids (file_unique_id) of the report's photos


@dataclass(frozen=True)
class ProjectPage:
    community: str
    slug: str
    year: int
    line: ProjectLine
    category: str
    deadline: date | None
    budget_yuan: int | None
    funding: str | None
    started_at: datetime
    completed_at: datetime | None
    milestones: list[Step]
    notes: list[Note]  # newest first
    before: list[str]  # media ids
    after: list[str]
    updated_at: datetime


_PHOTOS = select(ProjectPhoto.kind, ProjectPhoto.report_id, ProjectPhoto.file_unique_id).where(
    ProjectPhoto.project_id == bindparam("project_id")).order_by(col(ProjectPhoto.created_at), col(ProjectPhoto.id))
_REPORTS = select(ProjectReport.id, ProjectReport.percent, ProjectReport.note, ProjectReport.created_at).where(
    ProjectReport.project_id == bindparam("project_id")).order_by(
    col(ProjectReport.created_at).desc(), col(ProjectReport.id).desc()).limit(MAX_REPORTS)


async def project_page(uow: UnitOfWork, *, slug: str, number: int, now: datetime) -> ProjectPage:
    """A project of this year on a community's board, by its number (NotFound otherwise): six queries."""
    community = await community_by_slug(uow, slug)
    year = year_of(community, now)
    project = (await uow.session.exec(_read(page=True), params={
        "now": now, "community_id": community.id, "year": year, "number": number})).first()
    if project is None:
        raise NotFound("project", number)
    pid = project.id
    steps = await _milestones(uow, [pid])
    line = (await _lines(uow, community, [project], now, steps))[0]
    photos = (await uow.session.exec(_PHOTOS, params={"project_id": pid})).all()
    by_report: dict[int, list[str]] = {}
    for kind, report_id, unique in photos:
        if kind == "progress" and report_id is not None:
            by_report.setdefault(report_id, []).append(unique)
    reports = (await uow.session.exec(_REPORTS, params={"project_id": pid})).all()
    stamps = [project.created_at] + [t for t in (project.last_report_at, project.completed_at, project.override_at,
                                                 line.rated_at) if t is not None]
    return ProjectPage(
        community=community.name, slug=community.slug, year=year, line=line, category=project.category,
        deadline=project.deadline, budget_yuan=project.budget_yuan, funding=project.funding,
        started_at=project.created_at, completed_at=project.completed_at,
        milestones=[Step(title, due, done) for title, due, done in steps[pid]],
        notes=[Note(at, percent, note, by_report.get(rid, [])[:MAX_PHOTOS]) for rid, percent, note, at in reports],
        before=[u for k, _, u in photos if k == "before"][:MAX_PHOTOS],
        after=[u for k, _, u in photos if k == "after"][:MAX_PHOTOS],
        updated_at=_changed_at(community, [project], now, stamps))


# ---------------------------------------------------------------- pictures


async def public_photo(uow: UnitOfWork, media_id: str) -> str | None:
    """The Telegram file id of a project's picture shown on the board, by its media id (the file's
    file_unique_id), or None: only project pictures are public (never a ledger's, a need's or a voice)."""
    return (await uow.session.exec(select(ProjectPhoto.file_id).where(
        ProjectPhoto.file_unique_id == media_id, col(ProjectPhoto.kind).in_(PUBLIC_PHOTO_KINDS))
        .order_by(col(ProjectPhoto.id)).limit(1))).first()
