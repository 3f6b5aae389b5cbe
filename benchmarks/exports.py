"""Exports (flows/exports.py, bot/exports.py; issue #14 F-11.3): a community's requests and its care ledger as a file.

The requests are seeded as in the requests suite, all in one community (2,000 open and 6,000 closed: a district's
year in the worst layout); the ledger gets 2,000 key persons with sealed name, contact and notes. Figures: reading
the rows in batches of 500 (the default) against one read of everything, the ledger's read with every sealed field
opened, and rendering CSV and XLSX (time and size).
"""

from __future__ import annotations

import statistics
from pathlib import Path

from sqlmodel import select

from benchmarks.common import SECRET_KEY, Databases, Table, ms, ratio, say, timed
from benchmarks.requests import NOW, seed
from bot.exports import render
from flows import exports
from storage.crypto import Sealer
from storage.db import Database
from storage.models import Building, Community, KeyPerson

SEALER = Sealer(SECRET_KEY.encode())


async def _persons(db: Database, community: Community, n: int) -> None:
    async with db.uow(write=True) as uow:
        building = (await uow.session.exec(select(Building).where(Building.community_id == community.id))).first()
        for i in range(n):
            uow.session.add(KeyPerson(community_id=community.id or 0, building_id=building.id if building else None,
                                      room=f"{i // 100 + 1}-{i % 100 + 101}", alias=f"老人{i}",
                                      name_enc=SEALER.seal(f"姓名{i}"), contact_enc=SEALER.seal("13800000000"),
                                      notes_enc=SEALER.seal("腿脚不便，每天上午需要电话问候"), groups=["solitary"],
                                      created_at=NOW, updated_at=NOW))
        await uow.commit()


async def _read(db: Database, community: Community, kind: str, batch: int, rounds: int) -> tuple[float, int]:
    times, rows = [], 0
    for _ in range(rounds):
        async with db.uow(write=True) as uow:
            with timed() as elapsed:
                table = await exports.export(uow, kind=kind, community=community, actor=None, sealer=SEALER, now=NOW,
                                             via="bench", batch=batch)
                times.append(elapsed())
            rows = len(table.rows)
    return statistics.median(times), rows


async def run(root: Path, quick: bool) -> None:
    databases = Databases(root)
    open_items, closed_items, persons, rounds = (500, 1_500, 500, 3) if quick else (2_000, 6_000, 2_000, 5)
    say(f"\n== exports: {open_items + closed_items:,} requests and {persons:,} key persons in one community, "
        f"{databases.backend} ==")
    db = Database(databases.fresh("exports"))
    table = Table(f"exports ({databases.backend}, median of {rounds})", ["", "rows", "time", "note"])
    try:
        await seed(db, communities=1, open_items=open_items, closed_items=closed_items)
        async with db.uow() as uow:
            community = (await uow.session.exec(select(Community).order_by(Community.id))).first()  # type: ignore[arg-type]
            assert community is not None
        await _persons(db, community, persons)
        batched, n = await _read(db, community, "requests", exports.BATCH, rounds)
        whole, _ = await _read(db, community, "requests", 10 ** 9, rounds)
        table.add("requests, read in batches of 500", f"{n:,}", ms(batched), f"{ratio(batched, whole)} of one read")
        table.add("requests, one read of everything", f"{n:,}", ms(whole), "")
        ledger, m = await _read(db, community, "ledger", exports.BATCH, rounds)
        table.add("care ledger, 3 sealed fields opened per row", f"{m:,}", ms(ledger), "")
        async with db.uow(write=True) as uow:
            data = await exports.export(uow, kind="requests", community=community, actor=None, sealer=SEALER,
                                        now=NOW, via="bench")
        for fmt in ("csv", "xlsx"):
            with timed() as elapsed:
                out = render(data, fmt, "zh_CN")
                took = elapsed()
            table.add(f"requests rendered as {fmt.upper()}", f"{len(data.rows):,}", ms(took), f"{len(out) / 1024:,.0f} KiB")
    finally:
        await db.dispose()
    table.print()
