"""The public board on the web (issue #14): 100 communities × 10 projects (1,000 projects, with milestones,
progress reports, pictures, 👍 and ⭐, and a month of check-ins and incidents per community), served by the
real web server (uvicorn) over loopback; every page requested many times, one request at a time.

Figures per page: p50, p95 and the largest time of a whole request (client included), the page's size, and a
revalidation (If-None-Match → 304) — first with every page rendered for every request (LINLI_BOARD_CACHE_SECONDS=0),
then as `linli run` serves it (rendered pages kept 10 s, the clock running in real time).
Target: p95 < 50 ms, pages < 100 KB."""

from __future__ import annotations

import os
import random
import socket
from datetime import date, timedelta
from pathlib import Path

import httpx
from sqlmodel import select

from benchmarks.board import YEAR, Scale, seed
from benchmarks.common import Databases, Table, ms, percentile, say, timed
from bot.config import Settings
from flows.clock import OffsetClock, SystemClock
from storage.db import Database
from storage.models import (
    CheckinPrompt,
    Community,
    Incident,
    KeyPerson,
    Member,
    Project,
    ProjectLike,
    ProjectRating,
)
from web.app import WebServer
from web.board import PublicBoard
from web.media import MediaCache

FULL = Scale(communities=100, projects=10, groups=0, rounds=200, timeout=120.0)
QUICK = Scale(communities=20, projects=10, groups=0, rounds=40, timeout=60.0)
TARGET_P95 = 0.050
PAGE_LIMIT = 100 * 1024


async def seed_more(db: Database, now_date: date) -> None:
    """Ratings and likes on the finished projects; three key persons, a month of checks and two incidents a
    community."""
    async with db.uow() as uow:
        members = {m.community_id: m.id or 0 for m in (await uow.session.exec(select(Member))).all()}
        for p in (await uow.session.exec(select(Project).where(Project.completed_at.is_not(None)))).all():  # type: ignore[union-attr]
            uow.session.add(ProjectLike(project_id=p.id or 0, member_id=members[p.community_id],
                                        created_at=p.completed_at))
            uow.session.add(ProjectRating(project_id=p.id or 0, member_id=members[p.community_id], stars=4,
                                          updated_at=p.completed_at))
        for c in (await uow.session.exec(select(Community))).all():
            cid = c.id or 0
            persons = [KeyPerson(community_id=cid, alias=f"老人{k}", created_at=c.created_at, updated_at=c.created_at)
                       for k in range(3)]
            uow.session.add_all(persons)
            await uow.session.flush()
            for day in range(30):
                d = now_date - timedelta(days=30 - day)
                for k, person in enumerate(persons):
                    uow.session.add(CheckinPrompt(
                        community_id=cid, person_id=person.id or 0, local_date=d.isoformat(), slot="morning",
                        due_at=c.created_at, status="missed" if (day + k) % 13 == 0 else "answered",
                        stage=(day + k) % 5 == 0, created_at=c.created_at))
            for k, outcome in enumerate(("safe", None)):
                uow.session.add(Incident(community_id=cid, person_id=persons[k].id or 0, reason="no_answer",
                                         status="closed" if outcome else "open", outcome=outcome,
                                         opened_at=c.created_at))
        await uow.commit()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def measure(board: PublicBoard, slugs: list[str], scale: Scale, mode: str) -> None:
    port = free_port()
    server = WebServer(Settings(_env_file=None), board=board, port=port)  # type: ignore[call-arg]
    await server.start()
    rnd = random.Random(14)
    pages = {
        "/ (the district's communities)": lambda: "/",
        "/district (roll-up, SVG charts)": lambda: "/district",
        "/c/<slug> (a community's board)": lambda: f"/c/{rnd.choice(slugs)}",
        "/c/<slug>/p/<n> (a project)": lambda: f"/c/{rnd.choice(slugs)}/p/{rnd.randint(1, scale.projects)}",
        "/c/<slug>/print (A4)": lambda: f"/c/{rnd.choice(slugs)}/print",
    }
    table = Table(f"web — {mode}: {scale.rounds} requests a page, one at a time, over loopback "
                  f"(target p95 < {TARGET_P95 * 1000:.0f} ms, pages < {PAGE_LIMIT // 1024} KB)",
                  ["page", "p50", "p95", "max", "size", "304 p95", "target"])
    worst = 0.0
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for label, path_of in pages.items():
                for _ in range(5):  # warm up
                    await client.get(path_of())
                times, sizes, revalidate = [], [], []
                for _ in range(scale.rounds):
                    path = path_of()
                    with timed() as elapsed:
                        r = await client.get(path)
                    times.append(elapsed())
                    assert r.status_code == 200, (path, r.status_code)
                    sizes.append(len(r.content))
                    with timed() as elapsed:
                        again = await client.get(path, headers={"If-None-Match": r.headers["etag"]})
                    revalidate.append(elapsed())
                    assert again.status_code == 304, path
                p95 = percentile(times, 95)
                worst = max(worst, p95)
                table.add(label, ms(percentile(times, 50)), ms(p95), ms(max(times)), f"{max(sizes) / 1024:.1f} KB",
                          ms(percentile(revalidate, 95)),
                          "ok" if p95 < TARGET_P95 and max(sizes) < PAGE_LIMIT else "MISSED")
    finally:
        await server.stop()
    table.notes.append(f"worst p95 {worst * 1000:.1f} ms = {worst / TARGET_P95:.2f}× the 50 ms target; load average "
                       f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores while measuring")
    table.print()


async def run(root: Path, quick: bool) -> None:
    scale = QUICK if quick else FULL
    databases = Databases(root)
    n = scale.communities * scale.projects
    say(f"\n== web: the public board, {scale.communities} communities × {scale.projects} projects ({n:,}), "
        f"{databases.backend} ==")
    url = databases.fresh("web")
    db = Database(url)
    now = SystemClock().now().replace(year=YEAR, month=6, day=15)
    try:
        await seed(db, scale, now)
        await seed_more(db, now.date())
        async with db.uow() as uow:
            slugs = [c.slug for c in (await uow.session.exec(select(Community))).all()]
        for cache_seconds in (0.0, 10.0):
            clock = OffsetClock()
            clock.advance(seconds=(now - clock.now()).total_seconds())
            board = PublicBoard(db, clock, MediaCache(root / "web-media", None), cache_seconds=cache_seconds)
            await measure(board, slugs, scale, "every request rendered" if not cache_seconds
                          else f"rendered pages kept {cache_seconds:g} s")
    finally:
        await db.dispose()
