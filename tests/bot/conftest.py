"""The bot, really started, against the Bot API stand-in over real HTTP, with transcript helpers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlmodel import col, select

from bot.app import LinliApp
from bot.config import Settings
from bot.standin.client import StandInClient
from bot.standin.server import StandIn
from flows import membership
from flows.clock import OffsetClock
from storage.db import Database
from storage.models import Member, OutboxMessage, User
from tests.clocks import at_daytime

TOKEN = "7000000001:TEST-token-for-the-stand-in"
BOT = "linli_bot"
RUNTIMES = ["aiogram", "ptb"]


@pytest.fixture
async def standin() -> AsyncIterator[StandIn]:
    server = StandIn()
    await server.start()
    server.create_bot(TOKEN, BOT, "邻里助手")
    yield server
    await server.stop()


@pytest.fixture
async def tg(standin: StandIn) -> AsyncIterator[StandInClient]:
    client = StandInClient(standin.url)
    await client.set_limits(enabled=False)  # feature tests; the limits have their own tests
    yield client
    await client.close()


#: Feature tests do not wait for Telegram's pace (1 message a second to a chat, 20 a minute to a group): the
#: sender's pacing has tests of its own (tests/bot/test_outbox.py), the stand-in's limits too.
FAST_OUTBOX = {"outbox_per_chat": 50.0, "outbox_per_group_minute": 3000}
#: Nor do they keep to the pace of a person (the rate limits on what people send, tests/security/test_edge.py):
#: a transcript sends far faster than anybody types.
NO_THROTTLE = {"throttle": False}


def settings_for(db_url: str, standin: StandIn, runtime: str = "aiogram", **extra: Any) -> Settings:
    return Settings(_env_file=None, bot_token=TOKEN, bot_api_url=standin.url, database_url=db_url,  # type: ignore[call-arg]
                    secret_key="test-secret-key-0123456789abcdef", runtime=runtime, **{**FAST_OUTBOX, **NO_THROTTLE, **extra})


def buttons(message: dict[str, Any]) -> list[str]:
    """The labels of a message's inline buttons, row by row."""
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [b["text"] for row in rows for b in row]


@dataclass
class Harness:
    """A running bot plus the people acting on it. Reads like a transcript in tests."""

    app: LinliApp
    tg: StandInClient
    standin: StandIn
    clock: OffsetClock

    @property
    def db(self) -> Database:
        return self.app.db

    async def settle(self, timeout: float = 10.0) -> None:
        """Wait until every update is handled and every due outbox row is sent."""
        deadline = time.monotonic() + timeout
        calm = 0
        while time.monotonic() < deadline:
            await self.standin.settle(quiet_ms=40, timeout=timeout)
            busy = (self.app.pipeline is not None and self.app.pipeline.in_flight > 0) or await self._outbox_due()
            calm = 0 if busy else calm + 1
            if calm >= 2:
                return
            await asyncio.sleep(0.02)
        raise AssertionError("the bot did not settle in time")

    async def _outbox_due(self) -> bool:
        now = self.clock.now()
        async with self.db.uow() as uow:
            row = (await uow.session.exec(
                select(OutboxMessage.id).where(
                    (col(OutboxMessage.status) == "sending")
                    | ((col(OutboxMessage.status) == "pending") & (col(OutboxMessage.not_before) <= now))
                ).limit(1))).first()
        return row is not None

    async def say(self, user_id: int, text: str, chat_id: int | None = None) -> list[dict[str, Any]]:
        chat = chat_id if chat_id is not None else user_id
        before = await self.tg.cursor()
        await self.tg.send(user_id, text, chat_id=chat_id)
        await self.settle()
        return await self.tg.bot_messages(chat, before)

    async def press(self, user_id: int, message: dict[str, Any], button: str) -> tuple[str | None, list[dict]]:
        before = await self.tg.cursor()
        result = await self.tg.tap(user_id, message["chat_id"], message["message_id"], text=button)
        await self.settle()
        answer = result.get("answer") or {}
        return answer.get("text"), await self.tg.bot_messages(message["chat_id"], before)

    async def follow(self, user_id: int, message: dict[str, Any], button: str) -> list[dict[str, Any]]:
        """Tap a URL button that deep-links to the bot: Telegram opens the private chat and sends /start PAYLOAD."""
        urls = [b.get("url", "") for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
                for b in row if b.get("text") == button]
        assert urls and urls[0].startswith("https://t.me/") and "?start=" in urls[0], (button, urls)
        return await self.say(user_id, "/start " + urls[0].split("?start=", 1)[1])

    async def tap_data(self, user_id: int, message: dict[str, Any], data: str, forge: bool = True) -> str | None:
        result = await self.tg.tap(user_id, message["chat_id"], message["message_id"], data=data, forge=forge)
        await self.settle()
        return (result.get("answer") or {}).get("text")

    async def last(self, chat_id: int) -> dict[str, Any]:
        msg = await self.tg.last_bot_message(chat_id)
        assert msg is not None, f"the bot said nothing in chat {chat_id}"
        return msg

    async def create_community(self, name: str = "北辰示范社区", buildings: str = "1-6") -> str:
        """What `linli community create` does; returns the admin invite code."""
        async with self.db.uow() as uow:
            _, invite = await membership.create_community(
                uow, name=name, now=self.clock.now(), buildings=membership.parse_building_range(buildings))
            await uow.commit()
        return invite.code

    async def member_no(self, tg_id: int) -> int:
        """The member number people see (for /grant, /pair, /need_for …) of a Telegram user."""
        async with self.db.uow() as uow:
            row = (await uow.session.exec(select(Member).join(User, col(User.id) == col(Member.user_id))
                                          .where(User.tg_id == tg_id))).one()
        return row.id or 0

    async def user(self, user_id: int, name: str, language_code: str = "zh-hans") -> int:
        await self.tg.create_user(name, id=user_id, language_code=language_code)
        return user_id

    async def register(self, user_id: int, name: str, *, invite: str | None = None, building: str = "3") -> None:
        """A person goes through /start: building, privacy notice, agree."""
        await self.user(user_id, name)
        out = await self.say(user_id, f"/start i_{invite}" if invite else "/start")
        msg = out[-1]
        if "号楼" in str(msg.get("reply_markup")):
            _, out = await self.press(user_id, msg, f"{building}号楼")
            msg = out[-1]
        _, out = await self.press(user_id, msg, "同意")
        assert "欢迎" in out[-1]["text"], out[-1]["text"]

    async def group(self, chat_id: int, title: str, members: list[int], admin: int) -> int:
        await self.tg.create_chat(title, member_ids=members, id=chat_id, admin_ids=[admin], owner_id=admin)
        await self.tg.set_bot_membership(chat_id, "administrator", by_user_id=admin)
        await self.settle()
        return chat_id


async def start_app(db_url: str, standin: StandIn, runtime: str, clock: OffsetClock, **extra: Any) -> LinliApp:
    app = LinliApp(settings_for(db_url, standin, runtime, **extra), clock=clock, run_scheduler=False)
    await app.start()
    return app


@pytest.fixture(params=RUNTIMES)
def runtime(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def linli(db_url: str, standin: StandIn, tg: StandInClient, runtime: str) -> AsyncIterator[Harness]:
    clock = at_daytime()  # every run at 10:00 in the community's zone (tests/clocks.py)
    app = await start_app(db_url, standin, runtime, clock)
    harness = Harness(app=app, tg=tg, standin=standin, clock=clock)
    yield harness
    await app.stop()
