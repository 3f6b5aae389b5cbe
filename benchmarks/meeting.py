"""The weekly meeting's agenda (flows/meeting_agenda.py): built from data among a district's open requests.

PRODUCT F-12 / issue #13: the agenda for a community among 2,000 open requests, target < 200 ms. The requests are
seeded as in the requests suite (2,000 open — 1% past a rung at the instant measured —, 6,000 closed, with their
committee groups and roles); two layouts: the district's 20 communities (the agenda of one of them), and the worst
case of all 2,000 open requests in the one community. Figures: the agenda (median of 20, with how many items),
and opening a meeting (the agenda frozen into its items, one transaction).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from sqlmodel import select

from benchmarks.common import Databases, Table, ms, ratio, say, timed
from benchmarks.requests import NOW, seed
from flows import meeting, meeting_agenda
from flows.actors import load_actor
from storage.db import Database
from storage.models import Community, Member, RoleGrant, User

TARGET_S = 0.200


async def measure(db: Database) -> dict[str, str]:
    async with db.uow() as uow:
        community = (await uow.session.exec(select(Community).order_by(Community.id))).first()  # type: ignore[arg-type]
        assert community is not None
    times: list[float] = []
    items = 0
    for _ in range(20):
        async with db.uow() as uow:
            with timed() as elapsed:
                items = len(await meeting_agenda.agenda(uow, community, NOW))
                times.append(elapsed())
    median = statistics.median(times)
    async with db.uow(write=True) as uow:
        admin = (await uow.session.exec(
            select(User).join(Member, Member.user_id == User.id)  # type: ignore[arg-type]
            .join(RoleGrant, RoleGrant.member_id == Member.id)  # type: ignore[arg-type]
            .where(Member.community_id == community.id, RoleGrant.role == "admin"))).first()
        assert admin is not None
        actor = await load_actor(uow, admin, community=community)
        with timed() as elapsed:
            await meeting.open_meeting(uow, actor=actor, tg_chat_id=admin.tg_id, in_group=False, now=NOW)
            await uow.commit()
            opened = elapsed()
    return {"agenda items": f"{items:,}", "the agenda (median of 20)": ms(median),
            "ratio to the 200 ms target": ratio(median, TARGET_S), "opening a meeting (agenda frozen)": ms(opened)}


async def run(root: Path, quick: bool) -> None:
    databases = Databases(root)
    open_items, closed_items = (500, 1_500) if quick else (2_000, 6_000)
    table = Table(f"meeting — the agenda among {open_items:,} open requests ({databases.backend})", ["", "value"])
    started = time.monotonic()
    for communities, label in ((5 if quick else 20, "a district"), (1, "all in one community")):
        say(f"\n== meeting: the agenda, {open_items:,} open and {closed_items:,} closed requests, {label}, "
            f"{databases.backend} ==")
        db = Database(databases.fresh(f"meeting{communities}"))
        try:
            await seed(db, communities=communities, open_items=open_items, closed_items=closed_items)
            for k, v in (await measure(db)).items():
                table.add(f"{label}: {k}", v)
        finally:
            await db.dispose()
    table.notes.append(f"total {time.monotonic() - started:.0f} s")
    table.print()
