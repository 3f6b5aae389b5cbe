"""Visits and services on the public board (#17): a small section on the community page, counted only — never a
name, alias or room."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx

from bot.config import Settings
from flows.clock import FixedClock
from storage.db import Database
from tests.flows.checkin_world import SECRET_NAME
from tests.flows.test_services import act, ask
from tests.flows.test_visits import T0, record, world
from web.app import create_app
from web.board import PublicBoard
from web.media import MediaCache


async def test_item17_the_community_page_counts_visits_and_services_only(db: Database, tmp_path: Path) -> None:
    w = await world(db)
    await record(db, w, "primary", T0, note="精神很好")
    rid = await ask(db, w, "primary", "mobility", T0, wanted=T0 + timedelta(hours=2))
    await act(db, w, "grid", "claim", rid, T0 + timedelta(minutes=12))

    async def fetch(file_id: str) -> bytes:
        raise AssertionError("no pictures here")

    board = PublicBoard(db, FixedClock(T0 + timedelta(days=1)), MediaCache(tmp_path / "media", fetch))
    app = create_app(Settings(_env_file=None), board=board)  # type: ignore[call-arg]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://board.test") as client:
        page = (await client.get("/c/bc", headers={"Accept-Language": "zh-CN"})).text
        english = (await client.get("/c/bc?lang=en")).text
    assert "走访与服务（近 30 天）" in page and "Visits and services (last 30 days)" in english
    section = page[page.index('id="visits"'):]
    section = section[:section.index("</section>")]
    assert "<dd>1</dd>" in section  # one visit
    assert "100%" in section  # on time
    assert "助行（出行协助）: 1" in section and "12 分钟" in section
    for private in ("李奶奶", "3-2-401", "401", SECRET_NAME, "精神很好", "第一网格"):
        assert private not in page and private not in english
