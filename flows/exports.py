"""Exports (F-11.3): a community's lists as rows, for the CLI and the bot to render as CSV or XLSX.

Each list is a header (column keys, worded by the renderer in the reader's language) and rows of plain
values. Rows are read in batches (keyset by id), so a district's thousands of rows never sit in one query.
Every text cell that a spreadsheet would read as a formula (= + - @, a tab or a carriage return first) is
neutralised here with a leading apostrophe, so both renderers get safe cells.

Who may export: a community's admins (and district admins) every list of their community; a grid worker the
care ledger and the check-ins of their grid's buildings only; nobody else. The CLI is the operator
(`actor=None`). The ledger's sealed fields are opened only into the returned rows (never logged, never
stored); each ledger export is audited as a ledger read (person.read, via export) with the persons' ids."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import col, select

from flows import audit
from flows.actors import Actor
from flows.care.ledger import is_admin, manageable_buildings
from flows.clock import local
from flows.errors import Forbidden, Invalid
from flows.places import is_grid_worker_of
from flows.roles import Perm
from storage.crypto import Sealer
from storage.db import UnitOfWork
from storage.models import (
    Ballot,
    BallotCandidate,
    Building,
    CheckinPrompt,
    Community,
    KeyPerson,
    Need,
    Project,
)
from storage.models_micro import MicroPost, Wish
from storage.models_requests import Request
from storage.models_spaces import Job, Loan, Space, Tool, Training

KINDS = ("needs", "ballot", "projects", "requests", "ledger", "checkins", "wishes", "posts", "spaces", "loans", "jobs",
         "trainings")
PERSONAL = frozenset({"ledger", "checkins"})  # lists about key persons: admins, and grid workers for their grid
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
BATCH = 500

Cell = str | int | float | None

HEADERS: dict[str, tuple[str, ...]] = {
    "needs": ("year", "number", "category", "status", "channel", "text", "author", "created_at"),
    "ballot": ("year", "round", "status", "position", "title", "category", "votes", "withdrawn_at"),
    "projects": ("year", "number", "title", "category", "votes", "owner", "deadline", "budget_yuan", "funding",
                 "percent", "last_report_at", "completed_at"),
    "requests": ("year", "number", "kind", "category", "state", "organisation", "building", "text", "created_at",
                 "closed_at"),
    "ledger": ("building", "room", "alias", "name", "contact", "notes", "groups", "risk", "services", "primary",
               "backup", "active", "closed_reason"),
    "checkins": ("date", "slot", "building", "room", "alias", "status", "answer", "answered_at"),
    # micro-wishes and micro posts (F-9.2, F-9.4): no resident's name, the claimer by member number
    "wishes": ("number", "building", "text", "state", "claimer", "claimer_kind", "due", "created_at", "claimed_at",
               "fulfilled_at", "thanked_at", "reopened"),
    "posts": ("number", "kind", "title", "state", "claimer", "created_at", "claimed_at", "done_at", "note"),
    "spaces": ("number", "space", "place", "hours", "offered", "keeper", "tools", "active", "created_at"),
    "loans": ("number", "space", "tool", "borrower", "state", "due_on", "created_at", "handed_at", "returned_at",
              "overdue_reminders"),
    "jobs": ("year", "number", "title", "employer", "pay", "place", "closes_on", "state", "applications",
             "created_at"),
    "trainings": ("year", "number", "title", "place", "starts_at", "capacity", "signed_up", "attended"),
}


@dataclass(frozen=True)
class Table:
    kind: str
    community: str  # the slug
    header: tuple[str, ...]
    rows: list[tuple[Cell, ...]]


def neutralise(value: Any) -> Cell:
    """A cell as it may go into a spreadsheet: a text that would start a formula gets a leading apostrophe."""
    if value is None or isinstance(value, bool):
        return None if value is None else int(value)
    if isinstance(value, (int, float)):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _when(at: datetime | date | None, tz: str) -> str | None:
    if at is None:
        return None
    if isinstance(at, datetime):
        return local(at, tz).strftime("%Y-%m-%d %H:%M")
    return at.isoformat()


async def _visible_buildings(uow: UnitOfWork, actor: Actor | None, kind: str,
                             community: Community) -> list[int | None] | None:
    """None: every row (the operator, an admin); else the building ids the actor may see (None: no building)."""
    if actor is None:
        return None
    me = actor.registered()
    if me.community_id != community.id:
        raise Forbidden("export:community")
    if is_admin(actor):
        return None
    if kind not in PERSONAL or not actor.can(Perm.PERSONS):
        raise Forbidden("export")
    ids: list[int | None] = [b.id for b in await manageable_buildings(uow, actor=actor)]
    if await is_grid_worker_of(uow, member=me, building_id=None):
        ids.append(None)
    if not ids:
        raise Forbidden("export")
    return ids


async def allowed_kinds(uow: UnitOfWork, *, actor: Actor) -> tuple[str, ...]:
    """The lists the actor may export in their community (Forbidden when none)."""
    community = actor.home()
    if is_admin(actor):
        return KINDS
    await _visible_buildings(uow, actor, "ledger", community)  # Forbidden unless a grid worker with a grid
    return tuple(k for k in KINDS if k in PERSONAL)


def _within(column: Any, visible: list[int | None]) -> Any:
    """The rows whose building is one of `visible` (None in it: also those without a building)."""
    cond = col(column).in_([i for i in visible if i is not None])
    return or_(cond, col(column).is_(None)) if None in visible else cond


async def _batches(uow: UnitOfWork, stmt: Any, id_col: Any, size: int) -> Any:
    """The statement's rows by ascending id, `size` at a time."""
    last = 0
    while True:
        rows = (await uow.session.exec(stmt.where(id_col > last).order_by(id_col).limit(size))).all()
        for row in rows:
            yield row
        if len(rows) < size:
            return
        last = (row[0] if isinstance(row, Sequence) else row).id


MICRO = ("spaces", "loans", "jobs", "trainings")


async def _micro(uow: UnitOfWork, kind: str, cid: int, tz: str, year: int | None, batch: int,
                 add: Callable[[Sequence[Any]], None]) -> None:
    """Micro spaces and employment (#16): spaces, loans, jobs, trainings (admins' lists)."""
    from flows.spaces import hours_text
    from storage.models_spaces import JobApplication, TrainingSignup

    def counts(column: Any, where: Any) -> Any:
        return select(column, func.count()).where(where).group_by(column)

    if kind == "spaces":
        tools = dict((await uow.session.exec(counts(Tool.space_id, Tool.community_id == cid))).all())
        async for sp in _batches(uow, select(Space).where(Space.community_id == cid), col(Space.id), batch):
            add((sp.number, sp.name, sp.place, hours_text(sp.hours), "、".join(sp.services), sp.keeper_member_id,
                 tools.get(sp.id, 0), sp.active, _when(sp.created_at, tz)))
    elif kind == "loans":
        stmt: Any = select(Loan, Tool.name, Space.name).join(Tool, col(Tool.id) == col(Loan.tool_id)) \
            .join(Space, col(Space.id) == col(Loan.space_id)).where(Loan.community_id == cid)
        if year is not None:
            stmt = stmt.where(col(Loan.due_on) >= date(year, 1, 1), col(Loan.due_on) <= date(year, 12, 31))
        async for loan, tool, space in _batches(uow, stmt, col(Loan.id), batch):
            add((loan.number, space, tool, loan.borrower_member_id, loan.state, loan.due_on.isoformat(),
                 _when(loan.requested_at, tz), _when(loan.handed_at, tz), _when(loan.returned_at, tz),
                 loan.overdue_sent))
    elif kind == "jobs":
        applied = dict((await uow.session.exec(counts(JobApplication.job_id, JobApplication.community_id == cid))).all())
        async for j in _batches(uow, select(Job).where(Job.community_id == cid), col(Job.id), batch):
            if year is None or local(j.created_at, tz).year == year:
                add((local(j.created_at, tz).year, j.number, j.title, j.employer, j.pay, j.place,
                     j.closes_on.isoformat(), j.state, applied.get(j.id, 0), _when(j.created_at, tz)))
    else:
        signed = dict((await uow.session.exec(counts(TrainingSignup.training_id,
                                                     TrainingSignup.community_id == cid))).all())
        came = dict((await uow.session.exec(counts(TrainingSignup.training_id, (TrainingSignup.community_id == cid)
                                                   & col(TrainingSignup.attended).is_(True)))).all())
        async for t in _batches(uow, select(Training).where(Training.community_id == cid), col(Training.id), batch):
            if year is None or local(t.starts_at, tz).year == year:
                add((local(t.starts_at, tz).year, t.number, t.title, t.place, _when(t.starts_at, tz), t.capacity,
                     signed.get(t.id, 0), came.get(t.id, 0)))


async def export(uow: UnitOfWork, *, kind: str, community: Community, actor: Actor | None, sealer: Sealer,
                 now: datetime, year: int | None = None, via: str = "bot", batch: int = BATCH,
                 progress: Callable[[int], None] | None = None) -> Table:
    """The list `kind` of the community, checked for the actor and audited (with the rows' count)."""
    if kind not in KINDS:
        raise Invalid("list", "unknown")
    visible = await _visible_buildings(uow, actor, kind, community)
    cid = community.id
    assert cid is not None
    tz = community.timezone
    labels = {b.id: b.label for b in (await uow.session.exec(select(Building).where(Building.community_id == cid))).all()}
    rows: list[tuple[Cell, ...]] = []
    person_ids: list[int] = []

    def add(values: Sequence[Any]) -> None:
        rows.append(tuple(neutralise(v) for v in values))
        if progress and len(rows) % batch == 0:
            progress(len(rows))

    if kind == "needs":
        stmt: Any = select(Need).where(Need.community_id == cid)
        if year is not None:
            stmt = stmt.where(Need.year == year)
        async for n in _batches(uow, stmt, col(Need.id), batch):
            add((n.year, n.number, n.category, n.status, n.channel, n.text, n.author_member_id,
                 _when(n.created_at, tz)))
    elif kind == "ballot":
        stmt = select(BallotCandidate, Ballot).join(Ballot, col(Ballot.id) == col(BallotCandidate.ballot_id)) \
            .where(Ballot.community_id == cid)
        if year is not None:
            stmt = stmt.where(Ballot.year == year)
        async for c, b in _batches(uow, stmt, col(BallotCandidate.id), batch):
            add((b.year, b.round, b.status, c.position, c.title, c.category, c.votes, _when(c.withdrawn_at, tz)))
    elif kind == "projects":
        stmt = select(Project).where(Project.community_id == cid)
        if year is not None:
            stmt = stmt.where(Project.year == year)
        async for p in _batches(uow, stmt, col(Project.id), batch):
            add((p.year, p.number, p.title, p.category, p.votes, p.owner_member_id,
                 _when(p.deadline, tz), p.budget_yuan, p.funding, p.percent, _when(p.last_report_at, tz),
                 _when(p.completed_at, tz)))
    elif kind == "requests":
        stmt = select(Request).where(Request.community_id == cid)
        if year is not None:
            stmt = stmt.where(Request.year == year)
        async for r in _batches(uow, stmt, col(Request.id), batch):
            add((r.year, r.number, r.kind, r.category, r.state, r.organisation, labels.get(r.building_id),
                 r.text, _when(r.created_at, tz), _when(r.closed_at, tz)))
    elif kind == "ledger":
        stmt = select(KeyPerson).where(KeyPerson.community_id == cid)
        if visible is not None:
            stmt = stmt.where(_within(KeyPerson.building_id, visible))
        async for p in _batches(uow, stmt, col(KeyPerson.id), batch):
            person_ids.append(p.id or 0)
            add((labels.get(p.building_id), p.room, p.alias, sealer.open(p.name_enc), sealer.open(p.contact_enc),
                 sealer.open(p.notes_enc), ",".join(p.groups), p.risk, ",".join(p.services),
                 p.primary_volunteer_id, p.backup_volunteer_id, p.active,
                 p.closed_reason))
    elif kind == "wishes":
        stmt = select(Wish).where(Wish.community_id == cid)
        async for w in _batches(uow, stmt, col(Wish.id), batch):
            if year is None or local(w.created_at, tz).year == year:
                add((w.number, labels.get(w.building_id), w.text, w.state, w.claimer_member_id, w.claimer_kind,
                     _when(w.due_at, tz), _when(w.created_at, tz), _when(w.claimed_at, tz),
                     _when(w.fulfilled_at, tz), _when(w.thanked_at, tz), w.reopened))
    elif kind == "posts":
        stmt = select(MicroPost).where(MicroPost.community_id == cid)
        async for m in _batches(uow, stmt, col(MicroPost.id), batch):
            if year is None or local(m.created_at, tz).year == year:
                add((m.number, m.kind, m.title, m.state, m.claimer_member_id, _when(m.created_at, tz),
                     _when(m.claimed_at, tz), _when(m.done_at, tz), m.done_note))
    elif kind in MICRO:
        await _micro(uow, kind, cid, tz, year, batch, add)
    else:  # checkins
        stmt = select(CheckinPrompt, KeyPerson).join(KeyPerson, col(KeyPerson.id) == col(CheckinPrompt.person_id)) \
            .where(CheckinPrompt.community_id == cid)
        if year is not None:
            stmt = stmt.where(col(CheckinPrompt.local_date).startswith(f"{year:04d}-"))
        if visible is not None:
            stmt = stmt.where(_within(KeyPerson.building_id, visible))
        async for c, p in _batches(uow, stmt, col(CheckinPrompt.id), batch):
            add((c.local_date, c.slot, labels.get(p.building_id), p.room, p.alias, c.status, c.answer,
                 _when(c.answered_at, tz)))
    if progress:
        progress(len(rows))
    actor_id = actor.user.id if actor is not None else None
    audit.record(uow, action="export", now=now, community_id=cid, actor_user_id=actor_id, list=kind, year=year,
                 rows=len(rows), via=via)
    if kind == "ledger":
        audit.record(uow, action="person.read", now=now, community_id=cid, actor_user_id=actor_id, via="export",
                     person_ids=person_ids)
    return Table(kind=kind, community=community.slug, header=HEADERS[kind], rows=rows)
