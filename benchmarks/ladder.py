"""The deadline ladder (flows/ladder.py): the scheduler's tick finding what is due among a district's open items.

A district's year (PRODUCT F-12: 8,000 items a year): 2,000 open items spread over 20 communities (1% of them
due at the instant measured) and 6,000 closed ones. Figures: the index-backed query that finds what is due
(median of 20 runs; the target is 50 ms, printed as a ratio), the pass that climbs those items one rung and
alerts each rung's audience (alert rows and notices queued), and the pass after it (nothing due).
Incident rows stand in for the items: the ladder keeps its state in the feature's own table.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from benchmarks.common import Databases, Table, ms, ratio, say, timed
from flows import ladder
from flows.checkins import INCIDENTS
from flows.ladder import Audience, Ladder, Rung
from flows.roles import RoleRevoked
from storage.db import Database
from storage.models import Building, Community, Grid, Incident, KeyPerson, Member, RoleGrant, User

NOW = datetime(2027, 6, 1, 2, 0, tzinfo=UTC)
LADDER = Ladder((Rung(timedelta(hours=2), (Audience.ASSIGNEE,)), Rung(timedelta(hours=4), (Audience.GRID_WORKER,)),
                 Rung(timedelta(days=1), (Audience.ADMINS,)), Rung(timedelta(days=2), (Audience.DISTRICT,))))
TARGET_S = 0.050


async def seed(db: Database, *, communities: int, open_items: int, closed_items: int) -> None:
    async with db.uow(write=True) as uow:
        persons: list[tuple[int, int]] = []
        for n in range(communities):
            c = Community(slug=f"c{n}", name=f"社区{n}", timezone="Asia/Shanghai", locale="zh_CN", created_at=NOW)
            uow.session.add(c)
            await uow.session.flush()
            grid = Grid(community_id=c.id, name="一网格")
            uow.session.add(grid)
            await uow.session.flush()
            b = Building(community_id=c.id, grid_id=grid.id, label="1", sort_key=1)
            u = User(tg_id=700_000 + n, first_name="网格员", language="zh_CN", created_at=NOW)
            uow.session.add_all([b, u])
            await uow.session.flush()
            m = Member(community_id=c.id, user_id=u.id, building_id=b.id, display_name="网格员", consent_at=NOW,
                       joined_at=NOW)
            uow.session.add(m)
            await uow.session.flush()
            uow.session.add(RoleGrant(community_id=c.id, member_id=m.id, role="grid_worker", granted_at=NOW))
            grid.worker_member_id = m.id
            for i in range(10):
                p = KeyPerson(community_id=c.id, building_id=b.id, room=str(100 + i), alias=f"1-{100 + i}",
                              name_enc="x", contact_enc="x", risk="green", created_at=NOW, updated_at=NOW)
                uow.session.add(p)
                await uow.session.flush()
                persons.append((c.id or 0, p.id or 0))
        rows = []
        due_every = 100  # 1% due at NOW
        for i in range(open_items + closed_items):
            cid, pid = persons[i % len(persons)]
            is_open = i < open_items
            due = NOW - timedelta(minutes=1) if is_open and i % due_every == 0 else NOW + timedelta(hours=1 + i % 48)
            rows.append({"community_id": cid, "person_id": pid, "reason": "not_ok",
                         "status": "open" if is_open else "closed", "level": i % 3 if is_open else 4,
                         "opened_at": NOW - timedelta(days=i % 300), "next_escalation_at": due if is_open else None,
                         "note_enc": ""})
        for i in range(0, len(rows), 1000):
            await uow.session.execute(insert(Incident), rows[i:i + 1000])
        await uow.commit()


async def measure(db: Database) -> dict[str, str]:
    found: list[float] = []
    due_n = 0
    for _ in range(20):
        async with db.uow() as uow:
            with timed() as elapsed:
                due_n = len(await ladder.due(uow, INCIDENTS, now=NOW))
                found.append(elapsed())
    median = statistics.median(found)
    alerts = 0

    async def climb_pass(at: datetime) -> tuple[int, float]:
        nonlocal alerts
        with timed() as elapsed:
            async with db.uow(write=True) as uow:
                async def step(inc: Incident, index: int, rung: Rung) -> None:
                    nonlocal alerts
                    ids = await ladder.members(uow, rung.tell, community_id=inc.community_id,
                                               assignee=None, building_id=None)
                    for r in (await ladder.people(uow, ids, locale="zh_CN")).values():
                        alerts += await ladder.alert(uow, INCIDENTS, item_id=inc.id or 0, rung=index,
                                                     community_id=inc.community_id, now=at, tg_chat_id=r.tg_id,
                                                     recipient_user_id=r.user_id, member_id=r.member_id, lang=r.lang,
                                                     notice=RoleRevoked(role="r", community="c"))

                climbed = await ladder.run(uow, INCIDENTS, now=at, on_rung=step,
                                           plan=lambda inc: (LADDER, "Asia/Shanghai"))
                await uow.commit()
            return climbed, elapsed()

    climbed, climb_s = await climb_pass(NOW)
    again, idle_s = await climb_pass(NOW + timedelta(seconds=1))
    return {
        "finding what is due (median of 20)": f"{due_n:,} in {ms(median)}",
        "ratio to the 50 ms target": ratio(median, TARGET_S),
        "the pass that climbs them (alerts queued)": f"{climbed:,} ({alerts:,} alerts) in {ms(climb_s)}",
        "the next pass (nothing due)": f"{again:,} in {ms(idle_s)}",
    }


async def run(root: Path, quick: bool) -> None:
    databases = Databases(root)
    open_items, closed_items, communities = (500, 1_500, 5) if quick else (2_000, 6_000, 20)
    say(f"\n== deadline ladder: {open_items:,} open and {closed_items:,} closed items in {communities} communities, "
        f"{databases.backend} ==")
    started = time.monotonic()
    db = Database(databases.fresh("ladder"))
    try:
        await seed(db, communities=communities, open_items=open_items, closed_items=closed_items)
        fig = await measure(db)
    finally:
        await db.dispose()
    table = Table(f"deadline ladder — the tick's due query and climb ({databases.backend})", ["", "value"])
    for k, v in fig.items():
        table.add(k, v)
    table.notes.append(f"total {time.monotonic() - started:.0f} s")
    table.print()
