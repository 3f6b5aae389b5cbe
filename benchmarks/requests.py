"""Closed-loop requests (flows/request_clocks.py, flows/request_work.py): the scheduler's tick over a district's year.

PRODUCT F-12: 8,000 requests a year in a district — here 2,000 open (new, assigned, accepted, reopened; 1% past a
rung at the instant measured, plus 20 resolutions nobody answered in 3 days) and 6,000 closed, over 20 communities
each with a committee group, an admin, a property handler and the property company's committee member. Figures:
the index-backed query finding what is due (median of 20; the target is 50 ms, printed as a ratio), the whole
pass (`request_work.due`: the rungs climbed with their alerts queued, the default closes), and the pass after it.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from benchmarks.common import Databases, Table, ms, ratio, say, timed
from flows import ladder, request_clocks, request_work
from storage.db import Database
from storage.models import Chat, Community, Member, RoleGrant, User
from storage.models_requests import Request

NOW = datetime(2027, 6, 1, 2, 0, tzinfo=UTC)
TARGET_S = 0.050
OPEN = ("new", "assigned", "accepted", "reopened")
KINDS = ("request", "dispute", "hazard")


async def seed(db: Database, *, communities: int, open_items: int, closed_items: int) -> None:
    async with db.uow(write=True) as uow:
        reporters: list[tuple[int, int]] = []
        for n in range(communities):
            c = Community(slug=f"c{n}", name=f"社区{n}", timezone="Asia/Shanghai", locale="zh_CN", created_at=NOW)
            uow.session.add(c)
            await uow.session.flush()
            uow.session.add(Chat(tg_chat_id=-100_000 - n, type="supergroup", title="多委", community_id=c.id,
                                 purpose="committee", bot_status="administrator", created_at=NOW))
            for i, (role, org) in enumerate((("admin", None), ("handler", "property"), ("committee", "property"),
                                             (None, None))):
                u = User(tg_id=800_000 + 10 * n + i, first_name=f"p{i}", language="zh_CN", created_at=NOW)
                uow.session.add(u)
                await uow.session.flush()
                m = Member(community_id=c.id, user_id=u.id, display_name=f"p{i}", consent_at=NOW, joined_at=NOW)
                uow.session.add(m)
                await uow.session.flush()
                if role:
                    uow.session.add(RoleGrant(community_id=c.id, member_id=m.id, role=role, organisation=org,
                                              granted_at=NOW))
                else:
                    reporters.append((c.id or 0, m.id or 0))
        rows = []
        for i in range(open_items + closed_items):
            cid, mid = reporters[i % len(reporters)]
            is_open = i < open_items
            state = OPEN[i % 4] if is_open else ("confirmed" if i % 3 else "closed_default")
            if is_open:
                due = NOW - timedelta(minutes=1) if i % 100 == 0 else NOW + timedelta(hours=1 + i % 96)
            else:
                due = None
            if is_open and i % 100 == 50:  # a resolution waiting for its reporter, past the 3 days
                state, due = "resolved", NOW - timedelta(minutes=5)
            rows.append({"community_id": cid, "year": 2027, "number": i // len(reporters) + 1,
                         "kind": KINDS[i % 3], "category": "fire", "text": "", "photos": [], "anonymous": False,
                         "reporter_member_id": mid, "state": state, "rung": i % 2 if is_open else 0,
                         "organisation": None if state == "new" else "property", "reopen_count": 0, "due_at": due,
                         "created_at": NOW - timedelta(days=i % 300), "updated_at": NOW,
                         "closed_at": None if is_open else NOW - timedelta(days=i % 200)})
        for i in range(0, len(rows), 1000):
            await uow.session.execute(insert(Request), rows[i:i + 1000])
        await uow.commit()


async def measure(db: Database) -> dict[str, str]:
    found: list[float] = []
    due_n = 0
    for _ in range(20):
        async with db.uow() as uow:
            with timed() as elapsed:
                due_n = len(await ladder.due(uow, request_clocks.TRACK, now=NOW))
                found.append(elapsed())
    median = statistics.median(found)

    async def tick(at: datetime) -> tuple[int, float]:
        with timed() as elapsed:
            async with db.uow(write=True) as uow:
                done = await request_work.due(uow, now=at)
                await uow.commit()
            return done, elapsed()

    done, pass_s = await tick(NOW)
    again, idle_s = await tick(NOW + timedelta(seconds=1))
    return {
        "finding what is due (median of 20)": f"{due_n:,} in {ms(median)}",
        "ratio to the 50 ms target": ratio(median, TARGET_S),
        "the tick (rungs climbed and alerted + default closes)": f"{done:,} in {ms(pass_s)}",
        "the next tick (nothing due)": f"{again:,} in {ms(idle_s)}",
    }


async def run(root: Path, quick: bool) -> None:
    databases = Databases(root)
    open_items, closed_items, communities = (500, 1_500, 5) if quick else (2_000, 6_000, 20)
    say(f"\n== requests: {open_items:,} open and {closed_items:,} closed requests in {communities} communities, "
        f"{databases.backend} ==")
    started = time.monotonic()
    db = Database(databases.fresh("requests"))
    try:
        await seed(db, communities=communities, open_items=open_items, closed_items=closed_items)
        fig = await measure(db)
    finally:
        await db.dispose()
    table = Table(f"requests — the tick's due query and pass ({databases.backend})", ["", "value"])
    for k, v in fig.items():
        table.add(k, v)
    table.notes.append(f"total {time.monotonic() - started:.0f} s")
    table.print()
