"""The sandbox (`make run` without a token) starts, greets its unlinked group, and still works
when started again on the same database."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

from sqlmodel import select

from bot.config import Settings
from bot.sandbox import DEMO_TIMEZONE, GROUPS, Sandbox
from bot.standin.client import StandInClient
from flows.clock import local
from storage.models import CheckinPrompt, OutboxMessage

UNLINKED = GROUPS[-1][0]
NEWCOMER = 10007


async def _session(settings: Settings) -> tuple[list[str], list[str]]:
    sandbox = Sandbox(settings, port=0)
    await sandbox.start()
    client = StandInClient(sandbox.url)
    try:
        group: list[str] = []
        for _ in range(100):  # the greeting goes through the outbox, within Telegram's limits
            group = [m["text"] for m in await client.bot_messages(UNLINKED)]
            if group:
                break
            await asyncio.sleep(0.1)
        await client.set_limits(enabled=False)
        private = [m["text"] for m in await client.say(NEWCOMER, "/start")]
        return group, private
    finally:
        await client.close()
        await sandbox.stop()


async def test_the_sandbox_starts_twice_on_one_database(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path}/sb.db",  # type: ignore[call-arg]
                        secret_key="x" * 32)
    for _ in range(2):
        group, private = await _session(settings)
        assert any("/link" in text for text in group)  # the bot asks to be linked, every time
        assert private and "几号楼" in private[-1]  # and answers the newcomer (no update taken for a repeat)


async def _wait_for(client: StandInClient, chat_id: int, since: int, match, tries: int = 100) -> dict:  # type: ignore[no-untyped-def]
    for _ in range(tries):
        found = [m for m in await client.bot_messages(chat_id, since) if match(m)]
        if found:
            return found[-1]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no such message in chat {chat_id}")


async def test_the_sandbox_clock_fires_the_morning_checks(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path}/sb.db",  # type: ignore[call-arg]
                        secret_key="x" * 32)
    sandbox = Sandbox(settings, port=0)
    await sandbox.start()
    client = StandInClient(sandbox.url)
    volunteer, grid_worker = 10003, 10002
    try:
        await client.set_limits(enabled=False)
        before = await client.cursor()
        await client.send(grid_worker, "/clock 09:00")
        answer = await _wait_for(client, grid_worker, before, lambda m: "09:00" in m["text"])
        assert "沙盒时间" in answer["text"]
        prompts: list[dict] = []
        for _ in range(100):  # the prompts go out through the outbox
            prompts = [m for m in await client.bot_messages(volunteer, before)  # (the demo's visit due has buttons too)
                       if m.get("reply_markup") and "应走访" not in m["text"]]
            if len(prompts) >= 3:
                break
            await asyncio.sleep(0.1)
        assert len(prompts) == 3 and all("窗帘" in m["text"] for m in prompts)
        assert any("李奶奶" in m["text"] for m in prompts)
        toast, changed = await client.press(volunteer, volunteer, prompts[0]["message_id"], "✅")
        await client.settle(quiet_ms=300)
        edited = [m for m in await client.bot_messages(volunteer) if m["message_id"] == prompts[0]["message_id"]]
        assert edited and edited[-1]["edited"] and not edited[-1].get("reply_markup")
    finally:
        await client.close()
        await sandbox.stop()


async def test_item3_a_two_day_jump_runs_three_days_of_checks(tmp_path: Path) -> None:
    """`/clock +2d` from 10:00 passes over the rest of a day, a whole day and the next morning: each day's checks
    are sent in order, as if the time had passed (12-07, 12-08 and 12-09, none skipped), and nobody is told that
    checks fell due "while the system was down"."""
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path}/sb.db",  # type: ignore[call-arg]
                        secret_key="x" * 32)
    sandbox = Sandbox(settings, port=0)
    await sandbox.start()
    client = StandInClient(sandbox.url)
    grid_worker = 10002
    try:
        await client.set_limits(enabled=False)
        before = await client.cursor()
        await client.send(grid_worker, "/clock 10:00")
        await _wait_for(client, grid_worker, before, lambda m: "10:00" in m["text"], tries=600)
        day = local(sandbox.clock.now(), DEMO_TIMEZONE).date()
        jump_from = sandbox.clock.now()
        before = await client.cursor()
        started = time.perf_counter()
        await client.send(grid_worker, "/clock +2d")
        await _wait_for(client, grid_worker, before, lambda m: "沙盒时间" in m["text"], tries=600)
        print(f"/clock +2d handled in {time.perf_counter() - started:.1f} s")
        assert local(sandbox.clock.now(), DEMO_TIMEZONE).date() == day + timedelta(days=2)
        assert sandbox.app is not None
        async with sandbox.app.db.uow() as uow:
            prompts = (await uow.session.exec(select(CheckinPrompt))).all()
            notices = (await uow.session.exec(select(OutboxMessage))).all()
        missed_reports = [n for n in notices if n.payload["notice"] == "ck_missed"]
        # days passed in a moment: each chat hears once of each person, the latest (not every check of every day,
        # nor an open incident every half hour)
        told = Counter((n.tg_chat_id, n.payload["notice"], n.payload["params"]["alias"]) for n in notices
                       if n.payload["notice"] in ("ck_prompt", "ci_alert", "ck_group_alert")
                       and n.created_at >= jump_from)
        assert told and max(told.values()) == 1
        sent_days = {p.local_date for p in prompts if p.sent_at is not None and p.status != "missed"}
        assert {(day + timedelta(days=i)).isoformat() for i in range(3)} <= sent_days
        assert [p for p in prompts if p.status == "missed"] == []
        assert missed_reports == []
    finally:
        await client.close()
        await sandbox.stop()
