"""Issue #14, the public board: the bot's /board links to the community's page on the web when LINLI_PUBLIC_URL
is set (both runtimes, over real HTTP against the stand-in), and says nothing of it when it is not."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from bot.standin.client import StandInClient
from bot.standin.server import StandIn
from flows.clock import OffsetClock
from tests.bot.conftest import Harness, start_app

ADMIN, R1 = 641, 642
GROUP = -1002000000641
PUBLIC = "https://board.example.org/"


@pytest.fixture
async def linked(db_url: str, standin: StandIn, tg: StandInClient, runtime: str) -> AsyncIterator[Harness]:
    clock = OffsetClock()
    clock.advance(seconds=(datetime(2027, 3, 1, 2, 0, tzinfo=UTC) - clock.now()).total_seconds())
    app = await start_app(db_url, standin, runtime, clock, public_url=PUBLIC)
    harness = Harness(app=app, tg=tg, standin=standin, clock=clock)
    yield harness
    await app.stop()


async def test_item_board_links_to_the_public_board(linked: Harness) -> None:
    code = await linked.create_community()
    await linked.register(ADMIN, "王书记", invite=code)
    await linked.register(R1, "赵阿姨")
    await linked.group(GROUP, "北辰社区群", [ADMIN, R1], admin=ADMIN)
    await linked.say(ADMIN, "/link community", chat_id=GROUP)
    text = (await linked.say(R1, "/board", chat_id=GROUP))[-1]["text"]
    slug = await _slug(linked)
    assert f"🔗 网页版公示栏：https://board.example.org/c/{slug}" in text
    await linked.say(R1, "/lang en")
    assert f"🔗 The board on the web: https://board.example.org/c/{slug}" in (await linked.say(R1, "/board"))[-1]["text"]


async def test_item_board_without_public_url_has_no_link(linli: Harness) -> None:
    code = await linli.create_community()
    await linli.register(ADMIN, "王书记", invite=code)
    text = (await linli.say(ADMIN, "/board"))[-1]["text"]
    assert "公示栏" in text and "网页版" not in text and "http" not in text


async def _slug(h: Harness) -> str:
    from sqlmodel import select

    from storage.models import Community

    async with h.db.uow() as uow:
        return (await uow.session.exec(select(Community.slug))).one()
