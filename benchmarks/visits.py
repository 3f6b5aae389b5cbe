"""Visits (#17, F-5.3): a district of 5,000 key persons — the scheduler's tick finding the due visits.

20 communities of 250 key persons, each with a visit plan (the index ix_visitplan_due on (status, next-due));
2% of them due at the instant measured, the rest spread over the next month, plus 5,000 recorded visits. Figures:
the index-backed query that finds the due plans (median of 20 runs; target 50 ms, printed as a ratio), the
statement that gives new persons their plan (nothing to add: the steady state), the whole tick that climbs the due
ones and queues their notices, and the tick after it (nothing due)."""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from benchmarks.common import Databases, Table, ms, ratio, say, timed
from flows import visits
from flows.visits import plans
from storage.db import Database
from storage.models import Building, Community, Grid, KeyPerson, Member, RoleGrant, User
from storage.models_visits import Visit, VisitPlan

NOW = datetime(2027, 6, 1, 2, 0, tzinfo=UTC)
TARGET_S = 0.050


async def seed(db: Database, *, communities: int, per_community: int) -> None:
    async with db.uow(write=True) as uow:
        persons: list[tuple[int, int, int]] = []  # community, first person id, count
        for n in range(communities):
            c = Community(slug=f"c{n}", name=f"社区{n}", timezone="Asia/Shanghai", locale="zh_CN", created_at=NOW)
            uow.session.add(c)
            await uow.session.flush()
            grid = Grid(community_id=c.id, name="一网格")
            uow.session.add(grid)
            await uow.session.flush()
            b = Building(community_id=c.id, grid_id=grid.id, label="1", sort_key=1)
            users = [User(tg_id=700_000 + n * 10 + k, first_name="志愿者", language="zh_CN", created_at=NOW)
                     for k in range(2)]
            uow.session.add_all([b, *users])
            await uow.session.flush()
            grid_m = Member(community_id=c.id, user_id=users[0].id, building_id=b.id, display_name="网格员",
                            consent_at=NOW, joined_at=NOW)
            vol = Member(community_id=c.id, user_id=users[1].id, building_id=b.id, display_name="志愿者",
                         consent_at=NOW, joined_at=NOW)
            uow.session.add_all([grid_m, vol])
            await uow.session.flush()
            uow.session.add_all([RoleGrant(community_id=c.id, member_id=grid_m.id, role="grid_worker", granted_at=NOW),
                                 RoleGrant(community_id=c.id, member_id=vol.id, role="volunteer", granted_at=NOW)])
            grid.worker_member_id = grid_m.id
            await uow.session.execute(insert(KeyPerson), [
                {"community_id": c.id, "building_id": b.id, "room": str(100 + i), "alias": f"1-{100 + i}",
                 "name_enc": "x", "contact_enc": "x", "notes_enc": "", "groups": [], "services": [],
                 "risk": ("red", "yellow", "green")[i % 3], "midday_check": False, "active": True,
                 "primary_volunteer_id": vol.id, "created_at": NOW, "updated_at": NOW} for i in range(per_community)])
            persons.append((c.id or 0, 0, per_community))
        ids = (await uow.session.exec(KeyPerson.__table__.select().with_only_columns(  # type: ignore[attr-defined]
            KeyPerson.__table__.c.id, KeyPerson.__table__.c.community_id))).all()
        rows, past = [], []
        for i, (pid, cid) in enumerate(ids):
            due = NOW - timedelta(hours=1) if i % 50 == 0 else NOW + timedelta(hours=1 + i % 720)
            rows.append({"community_id": cid, "person_id": pid, "status": "open", "due_at": due, "rung": 0,
                         "next_at": due, "visits": 1, "last_visit_at": NOW - timedelta(days=7)})
            past.append({"community_id": cid, "person_id": pid, "member_id": None, "at": NOW - timedelta(days=7),
                         "due_at": NOW - timedelta(days=7), "on_time": True, "outcome": "home", "note_enc": "",
                         "voice_enc": "", "risk_before": "red", "risk_after": "red", "risk_reason_enc": ""})
        for i in range(0, len(rows), 1000):
            await uow.session.execute(insert(VisitPlan), rows[i:i + 1000])
            await uow.session.execute(insert(Visit), past[i:i + 1000])
        await uow.commit()


async def measure(db: Database) -> dict[str, str]:
    found: list[float] = []
    ensure: list[float] = []
    due_n = 0
    for _ in range(20):
        async with db.uow() as uow:
            with timed() as elapsed:
                due_n = len(await plans.due_plans(uow, now=NOW))
            found.append(elapsed())
        async with db.uow(write=True) as uow:
            with timed() as elapsed:
                await plans.ensure_plans(uow, now=NOW)
            ensure.append(elapsed())
            await uow.commit()
    median = statistics.median(found)

    async def tick(at: datetime) -> tuple[dict[str, int], float]:
        with timed() as elapsed:
            async with db.uow(write=True) as uow:
                done = await visits.tick(uow, now=at)
                await uow.commit()
        return done, elapsed()

    done, tick_s = await tick(NOW)
    again, idle_s = await tick(NOW + timedelta(seconds=1))
    return {
        "finding the due visits (median of 20)": f"{due_n:,} in {ms(median)}",
        "ratio to the 50 ms target": ratio(median, TARGET_S),
        "new persons' plans (none to add; median of 20)": ms(statistics.median(ensure)),
        "the tick that climbs them (notices queued)": f"{done['visits']:,} in {ms(tick_s)}",
        "the next tick (nothing due)": f"{again['visits']:,} in {ms(idle_s)}",
    }


async def run(root: Path, quick: bool) -> None:
    databases = Databases(root)
    communities, per = (4, 250) if quick else (20, 250)
    say(f"\n== visits: {communities * per:,} key persons in {communities} communities, {databases.backend} ==")
    started = time.monotonic()
    db = Database(databases.fresh("visits"))
    try:
        await seed(db, communities=communities, per_community=per)
        fig = await measure(db)
    finally:
        await db.dispose()
    table = Table(f"visits — the tick's due query ({databases.backend})", ["", "value"])
    for k, v in fig.items():
        table.add(k, v)
    table.notes.append(f"total {time.monotonic() - started:.0f} s")
    table.print()
