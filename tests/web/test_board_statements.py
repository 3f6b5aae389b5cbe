"""Issue #14, the public board at scale: every page costs the same number of SQL statements with 50 projects as with
200 (5 communities of 10 against 10 communities of 20, with likes, ratings, check-ins and incidents) — a query per
project or per community (N+1) fails here. Statements are counted, not timed (`python -m benchmarks web` times)."""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import event

from benchmarks.board import Scale, seed
from benchmarks.web import seed_more
from bot.config import Settings
from flows.clock import FixedClock
from storage.db import Database
from web.app import create_app
from web.board import PublicBoard
from web.media import MediaCache

NOW = datetime(2027, 6, 15, 2, 0, tzinfo=UTC)
PAGES = {"/": "/", "/district": "/district", "board": "/c/bench-1", "project": "/c/bench-1/p/3",
         "print": "/c/bench-1/print"}
#: at most this many statements a page (today: 5 for the overview, 8 a board, 7 printed, 6 a project)
MOST = 16  # the community page: 8 for projects, requests and care, 8 for visits and services (#17) and jobs (#16)


async def statements_per_page(template: Path, tmp: Path, scale: Scale) -> dict[str, int]:
    path = tmp / f"board-{scale.communities}x{scale.projects}.db"
    shutil.copyfile(template, path)
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        await seed(db, scale, NOW)
        await seed_more(db, NOW.date())
        app = create_app(Settings(_env_file=None),  # type: ignore[call-arg]
                         board=PublicBoard(db, FixedClock(NOW), MediaCache(tmp / "media", None)))
        counted: Counter[str] = Counter()
        current = [""]  # the page being fetched

        def count(*_: object) -> None:
            counted[current[0]] += 1

        event.listen(db.engine.sync_engine, "before_cursor_execute", count)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://board.test") as client:
            for name, url in PAGES.items():
                current[0] = name
                r = await client.get(url)
                assert r.status_code == 200, url
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
        return dict(counted)
    finally:
        await db.dispose()


async def test_item4_statements_per_page_do_not_grow_with_the_projects(sqlite_template: Path, tmp_path: Path) -> None:
    few = await statements_per_page(sqlite_template, tmp_path, Scale(communities=5, projects=10, groups=0, rounds=1,
                                                                     timeout=10))
    many = await statements_per_page(sqlite_template, tmp_path, Scale(communities=10, projects=20, groups=0,
                                                                      rounds=1, timeout=10))
    assert set(few) == set(PAGES) and few == many, (few, many)
    assert max(many.values()) <= MOST, many
