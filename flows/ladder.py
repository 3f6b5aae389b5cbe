"""The deadline ladder: an item that falls due, climbs rungs while nobody acts, and tells more people at each.

One engine for every feature with a clock that escalates — the daily check-ins (a prompt: reminder → backup
volunteer → grid worker; an incident: re-alerted every half hour) and closed-loop requests (assess / resolve
deadlines: reminder → the organisation's head → the community admins → the district).

The pieces
----------
``Rung(after, tell)``
    One step: it falls due ``after`` the previous rung was reached (the first: after the item started) and
    tells the audiences in ``tell`` — built-in ones (`Audience`: the assignee, the building's grid worker, the
    community admins, the district admins) or names of the caller's own (resolved through ``custom=`` of
    `members`, e.g. ``"org_head"``).
``Ladder(rungs, repeat=False)``
    The rungs in order. ``repeat=True``: the last rung falls due again and again (every ``after``) until the
    item is closed. ``ladder.first_due(started, tz)`` and ``ladder.next_due(reached, rung, tz)`` say when.
``Track(table, kind, …)``
    Where a kind of item keeps its ladder state — no table of its own: the feature's table holds a state column
    (which values are still open), a rung column (how many rungs were reached so far, 0 at the start) and a
    next-due column (NULL when nothing more falls due). The table needs an index on (state, next-due): that is
    what `due` reads. ``kind`` names the item in the alert rows and dedupe keys (``"incident"``, ``"request"``).

Time zones: every time is aware UTC; a rung's ``after`` counts whole days as *local calendar days* of the
community's zone (``timedelta(days=1)`` from 09:00 is 09:00 the next local day, across a DST change too) and
the rest as elapsed time (`later`). Note that ``timedelta(hours=24)`` *is* ``timedelta(days=1)``: a clock of
"24 h" ends at the same local time the next day.

Climbing is compare-and-set: ``UPDATE … SET rung = k+1 WHERE id = … AND rung = k AND state IN (open)``; only the
transaction whose update took the row tells anyone, so two schedulers ticking at once, or a tick racing a button
press, climb a rung once. After a restart the overdue items climb one rung per tick (the next rung falls due
counted from when this one was reached), so every rung is climbed, and each once.

Who was told lives in its own rows (`storage.models_ladder.LadderAlert`, one per item, stage, rung and chat,
unique): `alert` writes that row and queues the notice in the caller's transaction, and does neither when the
row exists already (idempotent by key); `alerted` reads them back, e.g. to tell everyone alerted that the item
was closed. Outbox retention never changes it. An item whose ladder runs more than once (assessment, then
work; work again after a reopen) names each run with ``stage=`` ("assess", "resolve", "resolve#2"), so each
run's rungs tell their people afresh.

Using it (a sketch for closed-loop requests)::

    from flows import ladder

    TRACK = ladder.Track(Request, kind="request", state="status", open=("assessing", "working"),
                         rung="rung", next_at="next_due_at")       # Index("ix_request_due", "status", "next_due_at")
    RESOLVE = ladder.Ladder((
        ladder.Rung(timedelta(days=7), ("assignee",)),                      # the reminder
        ladder.Rung(timedelta(days=1), ("org_head",)),                      # the organisation's head
        ladder.Rung(timedelta(days=1), (ladder.Audience.ADMINS,)),
        ladder.Rung(timedelta(days=2), (ladder.Audience.DISTRICT,)),
    ))

    # when the request is assigned (same transaction as the assignment):
    req.rung, req.next_due_at = 0, RESOLVE.first_due(now, community.timezone)
    # or, moving an existing row to its next stage: await ladder.restart(uow, TRACK, req.id, ladder=RESOLVE, …)

    # the scheduler's tick (scheduler/runner.py DUE: lambda uow, now: requests.tick(uow, now=now)):
    async def tick(uow, *, now):
        async def step(req, rung_index, rung):        # called only when this transaction climbed the rung
            c = await uow.session.get(Community, req.community_id)
            ids = await ladder.members(uow, rung.tell, community_id=c.id, building_id=req.building_id,
                                       assignee=req.assignee_member_id, custom={"org_head": [...]})
            for r in (await ladder.people(uow, ids, locale=c.locale)).values():
                await ladder.alert(uow, TRACK, item_id=req.id, rung=rung_index, community_id=c.id, now=now,
                                   stage=f"{req.status}#{req.reopened}",
                                   tg_chat_id=r.tg_id, recipient_user_id=r.user_id, member_id=r.member_id,
                                   lang=r.lang, notice=RequestOverdue(number=req.number, rung=rung_index))
        return await ladder.run(uow, TRACK, now=now, plan=lambda req: (RESOLVE, tz_of[req.community_id]),
                                on_rung=step)

    # closing: tell everyone who was alerted, in the language they were alerted in
    for a in await ladder.alerted(uow, TRACK, req.id): ...

Notices are typed (flows/notices.py); the default dedupe key of an alert is ``<kind>:<item>:<rung>:<chat>``
(``<kind>:<item>:<stage>:<rung>:<chat>`` with a stage).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import update
from sqlmodel import col, select

from flows import outbox
from flows.notices import Notice
from flows.places import admins_of, grid_workers_of
from flows.roles import Role
from storage.db import UnitOfWork, insert_ignoring
from storage.models import Member, RoleGrant, User
from storage.models_ladder import LadderAlert

DEFAULT_ZONE = "Asia/Shanghai"
BATCH = 500


class Audience(StrEnum):
    """Who a rung tells, resolved by `members` to member ids."""

    ASSIGNEE = "assignee"  # whoever the item is assigned to (the caller says who)
    GRID_WORKER = "grid_worker"  # the grid worker(s) of the item's building (every grid worker when it has none)
    ADMINS = "admins"  # the community's admins (the district admins when the community has none)
    DISTRICT = "district"  # the district admins


@dataclass(frozen=True)
class Rung:
    """One step of a ladder: due `after` the previous one was reached (the first: after the start)."""

    after: timedelta
    tell: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.after < timedelta(0):
            raise ValueError("a rung cannot fall due before the one below it")


@dataclass(frozen=True)
class Ladder:
    rungs: tuple[Rung, ...]
    repeat: bool = False  # the last rung falls due again (every `after`) until the item is closed

    def __post_init__(self) -> None:
        if not self.rungs:
            raise ValueError("a ladder needs at least one rung")

    def rung(self, reached: int) -> Rung | None:
        """The rung with this index (0-based), or None past the top (the last rung, when it repeats)."""
        if reached < len(self.rungs):
            return self.rungs[reached]
        return self.rungs[-1] if self.repeat else None

    def first_due(self, started: datetime, tz: str) -> datetime:
        """When the first rung falls due, for an item started at `started`."""
        return later(started, self.rungs[0].after, tz)

    def next_due(self, reached_at: datetime, reached: int, tz: str) -> datetime | None:
        """When the rung after number `reached` (0-based, just reached at `reached_at`) falls due; None at the top."""
        nxt = self.rung(reached + 1)
        return None if nxt is None else later(reached_at, nxt.after, tz)


def zone(tz: str | None) -> ZoneInfo:
    """The community's zone; an unknown name falls back to the default (a typo never stops a ladder)."""
    try:
        return ZoneInfo(tz or DEFAULT_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)


def later(start: datetime, after: timedelta, tz: str) -> datetime:
    """`start` + `after`, whole days counted as local calendar days of `tz` (the same wall-clock time, also
    across a change to or from daylight saving time), the rest as elapsed time. Aware UTC in and out."""
    if start.tzinfo is None:
        raise ValueError("times are aware")
    days = timedelta(days=after.days)
    rest = after - days
    if days:
        z = zone(tz)
        wall = start.astimezone(z).replace(tzinfo=None) + days
        start = _from_wall(wall, z)
    return (start + rest).astimezone(UTC)


def _from_wall(wall: datetime, z: ZoneInfo) -> datetime:
    """The instant a wall-clock time of zone `z` stands for (fold 0): a time skipped by a change to daylight
    saving time moves forward by the gap (02:30 on a spring-forward night is 03:30), a time that happens twice
    is its first occurrence."""
    return wall.replace(tzinfo=z, fold=0).astimezone(UTC)


# ---------------------------------------------------------------- where an item keeps its ladder


@dataclass(frozen=True)
class Track:
    """A table whose rows climb a ladder: its state column and open values, its rung and next-due columns."""

    table: Any
    kind: str
    state: str = "status"
    open: tuple[str, ...] = ("open",)
    rung: str = "rung"
    next_at: str = "next_at"
    id: str = "id"

    def column(self, name: str) -> Any:
        return getattr(self.table, name)

    def is_open(self) -> Any:
        return col(self.column(self.state)).in_([str(v) for v in self.open])

    def due_where(self, now: datetime) -> list[Any]:
        """The conditions of the items due at `now` (served by the index on (state, next-due))."""
        return [self.is_open(), col(self.column(self.next_at)) <= now]

    def due_order(self) -> list[Any]:
        return [col(self.column(self.next_at)), col(self.column(self.id))]


async def due(uow: UnitOfWork, track: Track, *, now: datetime, limit: int | None = None,
              where: Iterable[Any] = ()) -> list[Any]:
    """The rows of `track` due at `now`, the longest overdue first (read again from the database)."""
    stmt = (select(track.table).where(*track.due_where(now), *where).order_by(*track.due_order())
            .execution_options(populate_existing=True))
    if limit is not None:
        stmt = stmt.limit(limit)
    return list((await uow.session.exec(stmt)).all())


async def climb(uow: UnitOfWork, track: Track, item_id: int, *, rung: int, next_at: datetime | None,
                to: int | None = None, expect: Mapping[str, Any] | None = None, **values: Any) -> bool:
    """Compare-and-set one item from rung `rung` to `to` (default rung + 1), due again at `next_at` (None: no
    more), while it is open and matches `expect` (column → value); `values` are set too. True when this
    transaction took it: tell people only then."""
    conds = [col(track.column(track.id)) == item_id, track.is_open(), col(track.column(track.rung)) == rung]
    conds += [col(track.column(k)) == v for k, v in (expect or {}).items()]
    values = {track.rung: rung + 1 if to is None else to, track.next_at: next_at, **values}
    result = await uow.session.execute(update(track.table).where(*conds).values(**values)
                                       .execution_options(synchronize_session=False))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def take(uow: UnitOfWork, track: Track, ids: Sequence[int], *, expect: Mapping[str, Any],
               **values: Any) -> set[int]:
    """Compare-and-set many items at once: those of `ids` still matching `expect` get `values`; returns the ids
    this transaction took (`UPDATE … RETURNING`, in batches)."""
    took: set[int] = set()
    conds = [col(track.column(k)).in_(v) if isinstance(v, tuple | list | set | frozenset) else
             col(track.column(k)) == v for k, v in expect.items()]
    ids = list(ids)
    for i in range(0, len(ids), BATCH):
        result = await uow.session.execute(
            update(track.table).where(col(track.column(track.id)).in_(ids[i:i + BATCH]), *conds).values(**values)
            .returning(col(track.column(track.id))).execution_options(synchronize_session=False))
        took.update(result.scalars().all())
    return took


async def restart(uow: UnitOfWork, track: Track, item_id: int, *, ladder: Ladder, now: datetime, tz: str,
                  expect: Mapping[str, Any] | None = None, **values: Any) -> bool:
    """Start the item's ladder afresh at rung 0 (e.g. a request moving from assessment to work), compare-and-set
    over `expect` (column → value); True when this transaction did it."""
    conds = [col(track.column(track.id)) == item_id]
    conds += [col(track.column(k)) == v for k, v in (expect or {}).items()]
    result = await uow.session.execute(
        update(track.table).where(*conds)
        .values(**{track.rung: 0, track.next_at: ladder.first_due(now, tz), **values})
        .execution_options(synchronize_session=False))
    return bool(result.rowcount)  # type: ignore[attr-defined]


Plan = Callable[[Any], tuple[Ladder, str] | None]
Step = Callable[[Any, int, Rung], Awaitable[None]]


async def run(uow: UnitOfWork, track: Track, *, now: datetime, plan: Plan, on_rung: Step,
              limit: int = BATCH, where: Iterable[Any] = ()) -> int:
    """The scheduler's pass over one track: every item due at `now` climbs one rung (compare-and-set), and
    `on_rung(row, index, rung)` tells the rung's audiences — only for the items this transaction climbed.
    `plan(row)` gives the item's ladder and its community's time zone (None: leave the row alone this time).
    An item past the top of a ladder that does not repeat stops being due. Returns how many rungs were climbed;
    at most `limit` items a pass (call again while it returns `limit`)."""
    climbed = 0
    for row in await due(uow, track, now=now, limit=limit, where=where):
        planned = plan(row)
        if planned is None:
            continue
        ladder, tz = planned
        reached = int(getattr(row, track.rung))
        rung = ladder.rung(reached)
        item_id = getattr(row, track.id)
        if rung is None:  # past the top: nothing more falls due
            await climb(uow, track, item_id, rung=reached, to=reached, next_at=None)
            continue
        if await climb(uow, track, item_id, rung=reached, next_at=ladder.next_due(now, reached, tz)):
            await on_rung(row, reached, rung)
            climbed += 1
    return climbed


# ---------------------------------------------------------------- who is told


@dataclass(frozen=True)
class Recipient:
    member_id: int
    tg_id: int
    user_id: int
    lang: str
    name: str


async def members(uow: UnitOfWork, tell: Iterable[str], *, community_id: int, building_id: int | None = None,
                  assignee: int | None = None, custom: Mapping[str, Iterable[int]] | None = None) -> list[int]:
    """The member ids the audiences of `tell` stand for, each once, in the order of `tell`. An audience of the
    caller's own is looked up in `custom`; an unknown one tells nobody."""
    out: dict[int, None] = {}
    for who in tell:
        ids: Iterable[int | None]
        if who == Audience.ASSIGNEE:
            ids = [assignee]
        elif who == Audience.GRID_WORKER:
            ids = [w.id for w in await grid_workers_of(uow, community_id=community_id, building_id=building_id)]
        elif who == Audience.ADMINS:
            ids = await admins_of(uow, community_id=community_id)
        elif who == Audience.DISTRICT:
            ids = await district_admins(uow, community_id=community_id)
        else:
            ids = list((custom or {}).get(who, ()))
        out.update((i, None) for i in ids if i is not None)
    return list(out)


async def district_admins(uow: UnitOfWork, *, community_id: int) -> list[int]:
    """Every district admin, one membership per person (their membership in this community first)."""
    rows = (await uow.session.exec(
        select(Member.id, Member.user_id, Member.community_id).where(col(Member.id).in_(
            select(RoleGrant.member_id).where(RoleGrant.role == Role.DISTRICT_ADMIN.value,
                                              col(RoleGrant.revoked_at).is_(None))))
        .order_by(col(Member.id)))).all()
    chosen: dict[int, int] = {}
    for member_id, user_id, member_community in rows:
        if user_id not in chosen or member_community == community_id:
            chosen[user_id] = member_id
    return sorted(chosen.values())


async def people(uow: UnitOfWork, member_ids: Iterable[int | None], *, locale: str) -> dict[int, Recipient]:
    """Where to reach each member (their Telegram id and language, `locale` when they chose none), cached for
    the unit of work (one tick reads each member once)."""
    cache: dict[int, Recipient] = _cache(uow)
    ids = {m for m in member_ids if m is not None}
    missing = [m for m in ids if m not in cache]
    for i in range(0, len(missing), BATCH):
        rows = await uow.session.exec(
            select(Member, User).join(User, col(User.id) == col(Member.user_id))
            .where(col(Member.id).in_(missing[i:i + BATCH])))
        for m, u in rows.all():
            if m.id is not None and u.id is not None:
                cache[m.id] = Recipient(m.id, u.tg_id, u.id, u.language or locale, m.display_name or u.first_name)
    return {m: cache[m] for m in ids if m in cache}


def _cache(uow: UnitOfWork) -> dict[int, Recipient]:
    cache: dict[int, Recipient] | None = getattr(uow, "_ladder_people", None)
    if cache is None:
        cache = {}
        uow._ladder_people = cache  # type: ignore[attr-defined]
    return cache


# ---------------------------------------------------------------- alerts, in rows of their own


@dataclass(frozen=True)
class Alerted:
    tg_chat_id: int
    user_id: int | None  # None: a group chat
    member_id: int | None
    lang: str


async def alert(uow: UnitOfWork, track: Track | str, *, item_id: int, rung: int, community_id: int, now: datetime,
                tg_chat_id: int, lang: str, notice: Notice, recipient_user_id: int | None = None,
                member_id: int | None = None, stage: str = "", dedupe_key: str | None = None) -> bool:
    """Tell one chat about an item at a rung: the alert row and the notice, both in the caller's transaction —
    or neither, when this chat was told at this rung already (False). `stage` names the run of the ladder when
    an item climbs more than one (e.g. "assess", then "resolve", "resolve#2" after a reopen): each run's rungs
    tell their people afresh."""
    kind = track.kind if isinstance(track, Track) else track
    stmt = insert_ignoring(uow, LadderAlert, ["kind", "item_id", "stage", "rung", "tg_chat_id"]).values(
        community_id=community_id, kind=kind, item_id=item_id, stage=stage, rung=rung, tg_chat_id=tg_chat_id,
        recipient_user_id=recipient_user_id, member_id=member_id, lang=lang, created_at=now)
    if not (await uow.session.execute(stmt)).rowcount:  # type: ignore[attr-defined]
        return False
    where = f"{stage}:" if stage else ""
    outbox.notify(uow, tg_chat_id=tg_chat_id, recipient_user_id=recipient_user_id, community_id=community_id,
                  lang=lang, now=now, notice=notice,
                  dedupe_key=dedupe_key or f"{kind}:{item_id}:{where}{rung}:{tg_chat_id}")
    return True


async def alerted(uow: UnitOfWork, track: Track | str, item_id: int, *, user_id: int | None = None,
                  stage: str | None = None) -> list[Alerted]:
    """Every chat alerted about the item (in every run of its ladder, or in `stage` only), once each, in the order
    first alerted (in the language of that first alert); with `user_id`, only that person's."""
    kind = track.kind if isinstance(track, Track) else track
    stmt = select(LadderAlert).where(LadderAlert.kind == kind, LadderAlert.item_id == item_id)
    if user_id is not None:
        stmt = stmt.where(LadderAlert.recipient_user_id == user_id)
    if stage is not None:
        stmt = stmt.where(LadderAlert.stage == stage)
    seen: dict[int, Alerted] = {}
    for a in (await uow.session.exec(stmt.order_by(col(LadderAlert.id)))).all():
        seen.setdefault(a.tg_chat_id, Alerted(a.tg_chat_id, a.recipient_user_id, a.member_id, a.lang))
    return list(seen.values())
