"""Issue #15: the property ranking on the public web board — /property (every project of the latest published
month: rank, score and trend, or 样本不足; complaint rates this month and a year ago; the 约谈 flag) and its top
and bottom on /district; nothing before a month is published."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx

from bot.config import Settings
from flows import membership
from flows.clock import FixedClock
from storage.db import Database
from storage.models_property import PropertyProject, PropertyResult
from web.app import create_app
from web.board import PublicBoard
from web.media import MediaCache

NOW = datetime(2027, 4, 6, 2, 0, tzinfo=UTC)


async def _client(db: Database, tmp_path: Path) -> httpx.AsyncClient:
    async def fetch(file_id: str) -> bytes:
        raise AssertionError("no pictures here")

    app = create_app(Settings(_env_file=None), board=PublicBoard(db, FixedClock(NOW),  # type: ignore[call-arg]
                                                                  MediaCache(tmp_path / "m", fetch)))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://board.test")


async def test_item6_property_ranking_on_the_web_board(db: Database, tmp_path: Path) -> None:
    async with db.uow() as uow:
        community, _ = await membership.create_community(uow, name="北辰示范社区", now=NOW, buildings=["1"])
        for n, (estate, company) in enumerate([("锦绣苑", "海河物业"), ("和园", "津门物业"), ("北苑", "城建物业")], 1):
            uow.session.add(PropertyProject(community_id=community.id or 0, number=n, company=company, estate=estate,
                                            households=100, created_at=NOW))
        await uow.commit()
    async with await _client(db, tmp_path) as client:
        page = (await client.get("/property?lang=zh")).text
        assert "还没有公布排名" in page
    async with db.uow() as uow:
        rows = [(1, "2027-03", 91.5, 1, 3.0, True), (1, "2027-02", 88.0, 2, 4.0, True),
                (1, "2026-03", 80.0, 1, 12.5, True), (2, "2027-03", 85.25, 2, 10.0, True),
                (2, "2027-02", 90.0, 1, 9.0, True), (3, "2027-03", None, None, 0.0, False)]
        for pid, month, total, rank, rate, sufficient in rows:
            uow.session.add(PropertyResult(community_id=community.id or 0, project_id=pid, month=month, total=total,
                                           rank=rank, rate=rate, sufficient=sufficient, answers=30 if sufficient else 4,
                                           required=10, computed_at=NOW, published_at=NOW))
        await uow.commit()
    async with await _client(db, tmp_path) as client:
        page = (await client.get("/property?lang=zh")).text
        assert "物业服务考核晾晒 · 2027-03" in page
        first, second = page.index("锦绣苑"), page.index("和园")
        assert first < second < page.index("北苑")
        assert "91.5 ↑" in page and "85.25 ↓" in page  # vs 88 and 90 last month
        assert "12.5" in page  # 锦绣苑's complaint rate a year ago
        assert "样本不足（4/10）" in page
        district = (await client.get("/district?lang=zh")).text
        assert "物业服务考核晾晒" in district and "1. 锦绣苑 91.5 ↑" in district
        english = (await client.get("/property?lang=en")).text
        assert "Property service ranking · 2027-03" in english and "too few answers (4/10)" in english
