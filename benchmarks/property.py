"""The property ranking (flows/property/ranking.py): 175 property projects × 12 months (PRODUCT F-12, issue #15).

Seeded: 20 communities (30 registered members each), 175 projects over them, and for each project and month a
submitted evaluation (39 items), 30 households' survey answers, and about 3 12345 complaints matched by estate
name (≈ 63,000 answers and 6,300 complaints in all). Figures: computing one month's results and ranks for the
district (`compute`, written in one transaction), all 12 months, and reading the month's ranking with trends, the
year-on-year complaint rate and the 约谈 flag (`board`, median of 20; target < 200 ms)."""

from __future__ import annotations

import random
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert

from benchmarks.common import Databases, Table, ms, ratio, say, timed
from flows.property import ranking
from storage.db import Database
from storage.models import Community, Member, User
from storage.models_complaints import HotlineComplaint
from storage.models_property import PropertyEvaluation, PropertyProject, PropertySurvey

TARGET_S = 0.200
NOW = datetime(2027, 1, 2, 2, 0, tzinfo=UTC)
MONTHS = [f"2026-{m:02d}" for m in range(1, 13)]


async def seed(db: Database, *, projects: int, communities: int, answers: int) -> None:
    rng = random.Random(15)
    async with db.uow(write=True) as uow:
        s = uow.session
        await s.exec(insert(Community), params=[  # type: ignore[call-overload]
            {"slug": f"c{c}", "name": f"社区{c}", "timezone": "Asia/Shanghai", "locale": "zh_CN", "settings": {},
             "created_at": NOW} for c in range(1, communities + 1)])
        await s.exec(insert(User), params=[  # type: ignore[call-overload]
            {"tg_id": 10_000 + u, "first_name": f"u{u}", "created_at": NOW} for u in range(communities * answers)])
        await s.exec(insert(Member), params=[  # type: ignore[call-overload]
            {"community_id": u // answers + 1, "user_id": u + 1, "display_name": f"u{u}", "consent_at": NOW,
             "privacy_version": 1, "joined_at": NOW} for u in range(communities * answers)])
        await s.exec(insert(PropertyProject), params=[  # type: ignore[call-overload]
            {"community_id": p % communities + 1, "number": p // communities + 1, "company": f"物业{p}",
             "estate": f"小区{p}号苑", "aliases": [], "households": rng.randint(200, 2_000), "active": True,
             "created_at": NOW} for p in range(projects)])
        evaluations, surveys, complaints = [], [], []
        for p in range(projects):
            community = p % communities + 1
            for mi, month in enumerate(MONTHS):
                evaluations.append({"community_id": community, "project_id": p + 1, "month": month,
                                    "state": "submitted", "items_points": round(rng.uniform(60, 100), 1),
                                    "started_at": NOW, "submitted_at": NOW})
                for a in range(answers):
                    surveys.append({"community_id": community, "project_id": p + 1, "month": month,
                                    "member_id": (community - 1) * answers + a + 1,
                                    "answers": [rng.randint(2, 5) for _ in range(5)], "sent_at": NOW,
                                    "answered_at": NOW})
                for k in range(rng.randint(0, 6)):
                    complaints.append({"community_id": community, "source_id": f"GD{p}-{mi}-{k}",
                                       "received_at": datetime(2026, mi + 1, 10, 4, tzinfo=UTC),
                                       "estate": f"小区{p}号苑", "category": "物业管理", "summary_sealed": "",
                                       "imported_at": NOW})
        await s.exec(insert(PropertyEvaluation), params=evaluations)  # type: ignore[call-overload]
        for i in range(0, len(surveys), 5_000):
            await s.exec(insert(PropertySurvey), params=surveys[i:i + 5_000])  # type: ignore[call-overload]
        await s.exec(insert(HotlineComplaint), params=complaints)  # type: ignore[call-overload]
        await uow.commit()


async def measure(db: Database) -> dict[str, str]:
    with timed() as elapsed:
        for month in MONTHS:
            async with db.uow(write=True) as uow:
                await ranking.compute(uow, month=month, now=NOW)
                await uow.commit()
        twelve = elapsed()
    async with db.uow(write=True) as uow:
        with timed() as elapsed:
            written = await ranking.compute(uow, month=MONTHS[-1], now=NOW)
            await uow.commit()
            again = elapsed()
    times: list[float] = []
    lines = []
    for _ in range(20):
        async with db.uow() as uow:
            with timed() as elapsed:
                lines = await ranking.board(uow, month=MONTHS[-1])
                times.append(elapsed())
    median = statistics.median(times)
    return {"projects ranked": f"{sum(1 for ln in lines if ln.rank):,} of {written:,}",
            "computing 12 months, one after another": ms(twelve),
            "recomputing one month (idempotent)": ms(again),
            "the month's ranking with trends, YoY, 约谈 flag (median of 20)": ms(median),
            "ratio to the 200 ms target": ratio(median, TARGET_S)}


async def run(root: Path, quick: bool) -> None:
    databases = Databases(root)
    projects, communities, answers = (40, 5, 10) if quick else (175, 20, 30)
    table = Table(f"property — {projects} projects × 12 months ({databases.backend})", ["", "value"])
    started = time.monotonic()
    say(f"\n== property: {projects} projects × 12 months, {answers} answers each, {databases.backend} ==")
    db = Database(databases.fresh("property"))
    try:
        await seed(db, projects=projects, communities=communities, answers=answers)
        say(f"seeded in {time.monotonic() - started:.0f} s")
        for k, v in (await measure(db)).items():
            table.add(k, v)
    finally:
        await db.dispose()
    table.notes.append(f"total {time.monotonic() - started:.0f} s")
    table.print()
