"""The figures: visits done on time per grid, services by kind, time to claim and to complete — for `/visits week`
(those who see the ledger: their grid; admins all) and, in aggregate only, for the public board."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import median

from sqlmodel import col, select

from flows import ladder
from flows.care.ledger import SERVICES, is_admin
from flows.membership import Actor
from flows.roles import Perm
from storage.db import UnitOfWork
from storage.models import Building, Grid, KeyPerson
from storage.models_visits import ServiceRequest, Visit


@dataclass(frozen=True)
class GridWeek:
    grid: str
    visits: int
    on_time: int


@dataclass(frozen=True)
class Stats:
    first_day: str
    last_day: str
    grids: list[GridWeek] = field(default_factory=list)
    services: dict[str, int] = field(default_factory=dict)  # kind → asked in the period
    done: int = 0
    claim_minutes: int | None = None  # median time to claim
    complete_minutes: int | None = None  # median time from asking to done
    changed_at: datetime | None = None  # the newest visit or service step counted (for Last-Modified)

    @property
    def visits(self) -> int:
        return sum(g.visits for g in self.grids)

    @property
    def on_time_percent(self) -> int | None:
        done = self.visits
        return round(100 * sum(g.on_time for g in self.grids) / done) if done else None


def _monday(now: datetime, tz: str) -> datetime:
    local = now.astimezone(ladder.zone(tz))
    return (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)


async def _stats(uow: UnitOfWork, *, community_id: int, since: datetime, until: datetime, grid_ids: list[int] | None,
                 tz: str, per_grid: bool) -> Stats:
    where = [Visit.community_id == community_id, col(Visit.at) >= since, col(Visit.at) < until]
    q = (select(Grid.name, Visit.on_time, Visit.at).select_from(Visit)
         .join(KeyPerson, col(KeyPerson.id) == col(Visit.person_id))
         .join(Building, col(Building.id) == col(KeyPerson.building_id), isouter=True)
         .join(Grid, col(Grid.id) == col(Building.grid_id), isouter=True).where(*where))
    if grid_ids is not None:
        q = q.where(col(Building.grid_id).in_(grid_ids))
    counts: dict[str, list[int]] = {}
    stamps: list[datetime] = []
    for grid, on_time, at in (await uow.session.exec(q)).all():
        stamps.append(at)
        c = counts.setdefault((grid or "") if per_grid else "", [0, 0])
        c[0] += 1
        c[1] += int(bool(on_time))
    sq = (select(ServiceRequest).join(KeyPerson, col(KeyPerson.id) == col(ServiceRequest.person_id))
          .join(Building, col(Building.id) == col(KeyPerson.building_id), isouter=True)
          .where(ServiceRequest.community_id == community_id, col(ServiceRequest.created_at) >= since,
                 col(ServiceRequest.created_at) < until))
    if grid_ids is not None:
        sq = sq.where(col(Building.grid_id).in_(grid_ids))
    kinds = dict.fromkeys(SERVICES, 0)
    claim, complete, done = [], [], 0
    for r in (await uow.session.exec(sq)).all():
        kinds[r.kind] = kinds.get(r.kind, 0) + 1
        stamps += [t for t in (r.created_at, r.claimed_at, r.done_at) if t is not None]
        if r.claimed_at is not None:
            claim.append((r.claimed_at - r.created_at).total_seconds() / 60)
        if r.done_at is not None:
            done += 1
            complete.append((r.done_at - r.created_at).total_seconds() / 60)
    last = (until - timedelta(seconds=1)).astimezone(ladder.zone(tz))
    return Stats(first_day=since.astimezone(ladder.zone(tz)).date().isoformat(), last_day=last.date().isoformat(),
                 grids=[GridWeek(grid=g, visits=v[0], on_time=v[1]) for g, v in sorted(counts.items())],
                 services=kinds, done=done, claim_minutes=round(median(claim)) if claim else None,
                 complete_minutes=round(median(complete)) if complete else None,
                 changed_at=max(stamps) if stamps else None)


async def week(uow: UnitOfWork, *, actor: Actor, now: datetime) -> Stats:
    """This local week so far (Monday on): for an admin the whole community, for a grid worker their grids."""
    me = actor.require(Perm.CHECKINS)
    c = actor.home()
    grid_ids = None
    if not is_admin(actor):
        grid_ids = list((await uow.session.exec(select(Grid.id).where(Grid.worker_member_id == me.id))).all())
    monday = _monday(now, c.timezone)
    return await _stats(uow, community_id=me.community_id, since=monday.astimezone(ladder.zone("UTC")),
                        until=ladder.later(monday.astimezone(ladder.zone("UTC")), timedelta(days=7), c.timezone),
                        grid_ids=grid_ids, tz=c.timezone, per_grid=True)


async def public(uow: UnitOfWork, *, community_id: int, tz: str, now: datetime, days: int = 30) -> Stats:
    """The last `days` days, in aggregate only (no grid names, no alias, no room): for the public board."""
    return await _stats(uow, community_id=community_id, since=now - timedelta(days=days), until=now, grid_ids=None,
                        tz=tz, per_grid=False)
