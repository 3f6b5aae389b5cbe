"""Runtimes: webhook mode, command menus, the schema check, the scheduler, and both Telegram
runtimes giving the very same conversation."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

from bot.app import LinliApp
from bot.standin.client import StandInClient
from bot.standin.server import StandIn
from flows import conversation
from flows.clock import OffsetClock
from flows.conversation import State
from scheduler.runner import Scheduler
from storage.db import Database
from storage.migrate import SchemaBehind
from storage.models import ConversationState
from tests.bot.conftest import BOT, RUNTIMES, TOKEN, Harness, settings_for, start_app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_webhook_mode_checks_the_secret(db_url: str, standin: StandIn, tg: StandInClient,
                                              runtime: str) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/webhook"
    app = LinliApp(settings_for(db_url, standin, runtime, webhook_url=url, webhook_secret="s3cret",
                                web_port=port), clock=OffsetClock(), run_scheduler=False)
    await app.start()
    try:
        harness = Harness(app=app, tg=tg, standin=standin, clock=app.clock)  # type: ignore[arg-type]
        await harness.user(103, "赵阿姨")
        out = await harness.say(103, "/help")
        assert "/start" in out[-1]["text"]
        async with httpx.AsyncClient() as client:
            update = {"update_id": 5, "message": {"message_id": 1, "date": 0, "text": "/help",
                                                  "chat": {"id": 103, "type": "private"},
                                                  "from": {"id": 103, "is_bot": False, "first_name": "x"}}}
            forged = await client.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"})
            missing = await client.post(url, json=update)
        assert forged.status_code == 401 and missing.status_code == 401
    finally:
        await app.stop()


async def test_the_bot_refuses_an_old_schema(tmp_path: Path, standin: StandIn) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/empty.db"
    app = LinliApp(settings_for(url, standin), clock=OffsetClock(), run_scheduler=False)
    with pytest.raises(SchemaBehind, match="linli db upgrade"):
        await app.start()
    await app.db.dispose()
    env = dict(os.environ, LINLI_DATABASE_URL=url, LINLI_BOT_TOKEN=TOKEN, LINLI_BOT_API_URL=standin.url,
               LINLI_SECRET_KEY="x" * 32)
    done = subprocess.run([sys.executable, "-m", "linli_cli", "run"], capture_output=True, text=True, env=env,
                          cwd=Path(__file__).resolve().parents[2], timeout=60)
    assert done.returncode == 2 and "linli db upgrade" in done.stderr


async def _menus(tg: StandInClient, standin: StandIn) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    async with httpx.AsyncClient() as client:
        for scope in ("all_private_chats", "all_group_chats", "all_chat_administrators"):
            for lang in ("", "zh", "en"):
                data: dict[str, Any] = {"scope": f'{{"type": "{scope}"}}'}
                if lang:
                    data["language_code"] = lang
                r = await client.post(f"{standin.url}/bot{TOKEN}/getMyCommands", data=data)
                out[f"{scope}/{lang or '-'}"] = [(c["command"], c["description"]) for c in r.json()["result"]]
    return out


async def test_command_menus_per_scope_and_language(linli: Harness) -> None:
    menus = await _menus(linli.tg, linli.standin)
    private_zh = dict(menus["all_private_chats/-"])
    assert {"start", "help", "me", "lang", "cancel"} <= set(private_zh)
    assert "invite" not in private_zh  # staff tools are not advertised to everyone
    assert re.search(r"[\u4e00-\u9fff]", private_zh["start"])
    assert dict(menus["all_private_chats/en"])["start"] == "Register or start over"
    assert "link" not in dict(menus["all_group_chats/-"])
    assert "link" in dict(menus["all_chat_administrators/-"])
    assert menus["all_private_chats/-"] == menus["all_private_chats/zh"]


async def _script(h: Harness) -> list[str]:
    """The onboarding transcript, as people see it: texts and button labels."""
    seen: list[str] = []

    def note(messages: list[dict]) -> dict:
        for m in messages:
            labels = [b["text"] for row in (m.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]
            seen.append(re.sub(r"i_[\w-]+|b_\d+_\d+", "<link>", m["text"]) + " | " + " · ".join(labels))
        return messages[-1] if messages else {}

    code = await h.create_community()
    await h.user(101, "王书记")
    msg = note(await h.say(101, f"/start i_{code}"))
    msg = note((await h.press(101, msg, "跳过"))[1])
    note((await h.press(101, msg, "同意"))[1])
    note(await h.say(101, "/help"))
    invite = note(await h.say(101, "/invite volunteer"))["text"]
    await h.user(102, "刘志愿")
    msg = note(await h.say(102, "/start " + invite.split("start=")[1].split()[0]))
    msg = note((await h.press(102, msg, "3号楼"))[1])
    note((await h.press(102, msg, "同意"))[1])
    note(await h.say(102, "/me"))
    note(await h.say(102, "/members"))
    note(await h.say(101, "/members"))
    await h.group(-777, "3号楼楼门群", [101, 102], admin=101)
    note(await h.tg.bot_messages(-777))
    note(await h.say(101, "/link building 3", chat_id=-777))
    note(await h.say(102, "/help", chat_id=-777))
    note(await h.say(102, "/lang en"))
    note(await h.say(102, "/help"))
    return seen


async def test_both_runtimes_hold_the_same_conversation(db_url: str, tmp_path: Path) -> None:
    transcripts = {}
    for runtime in RUNTIMES:
        url = db_url if runtime == RUNTIMES[0] else f"sqlite+aiosqlite:///{tmp_path}/{runtime}.db"
        if runtime != RUNTIMES[0]:
            from storage.migrate import upgrade

            upgrade(url)
        server = StandIn()
        await server.start()
        server.create_bot(TOKEN, BOT, "邻里助手")
        client = StandInClient(server.url)
        await client.set_limits(enabled=False)
        clock = OffsetClock()
        app = await start_app(url, server, runtime, clock)
        try:
            transcripts[runtime] = await _script(Harness(app=app, tg=client, standin=server, clock=clock))
            transcripts[runtime + "/menus"] = await _menus(client, server)
        finally:
            await app.stop()
            await client.close()
            await server.stop()
    assert transcripts["aiogram"] == transcripts["ptb"]
    assert transcripts["aiogram/menus"] == transcripts["ptb/menus"]
    assert len(transcripts["aiogram"]) >= 14


async def test_the_real_scheduler_runs_housekeeping(db: Database, db_url: str) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=1)
    async with db.uow() as uow:
        await conversation.put(uow, chat_id=1, user_id=1, state=State("reg", "building"), now=long_ago)
        await uow.commit()
    clock = OffsetClock()
    sched = Scheduler(db_url, db=db, clock=clock, name="test")
    sched.start()
    first_ids = sorted(j.id for j in sched.aps.get_jobs())
    try:
        job = sched.aps.get_job("housekeeping")
        assert job is not None
        job.modify(next_run_time=datetime.now(UTC))
        for _ in range(100):
            async with db.uow() as uow:
                left = (await uow.session.exec(select(ConversationState))).all()
            if not left:
                break
            await asyncio.sleep(0.05)
        assert left == []
    finally:
        sched.shutdown()
    sched2 = Scheduler(db_url, db=db, clock=clock, name="again")
    sched2.start()  # the same stable job id: replaced, not doubled
    try:
        again = sorted(j.id for j in sched2.aps.get_jobs())
        assert again == first_ids
        assert len(set(again)) == len(again)
        assert {"housekeeping", "checkins_tick", "checkins_weekly"} <= set(again)
    finally:
        sched2.shutdown()
