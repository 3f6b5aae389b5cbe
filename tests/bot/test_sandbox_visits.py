"""The sandbox's visits and services (#17): one visit due (the volunteer is told), one service open (its post in
the volunteers' group, with a claim button that 孙大爷 — who offers 助行 — can press)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.config import Settings
from bot.sandbox import GROUPS, Sandbox
from bot.standin.client import StandInClient
from flows.roles import Purpose
from tests.clocks import at_daytime

VOLUNTEERS = next(chat for chat, _, purpose, _ in GROUPS if purpose is Purpose.VOLUNTEERS)
VOLUNTEER, BACKUP = 10003, 10008


async def _wait(client: StandInClient, chat_id: int, text: str, tries: int = 150) -> dict:
    for _ in range(tries):
        found = [m for m in await client.bot_messages(chat_id) if text in m.get("text", "")]
        if found:
            return found[-1]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no message with {text!r} in chat {chat_id}")


async def test_item17_the_sandbox_has_a_visit_due_and_a_service_open(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path}/sb.db",  # type: ignore[call-arg]
                        secret_key="x" * 32)
    sandbox = Sandbox(settings, port=0)
    at_daytime(sandbox.clock)  # the seeded group post is not held for the night (tests/clocks.py)
    await sandbox.start()
    client = StandInClient(sandbox.url)
    try:
        await client.set_limits(enabled=False)
        post = await _wait(client, VOLUNTEERS, "3号楼有一位老人需要助行")
        assert "刘阿姨" not in post["text"] and "刘芳" not in post["text"]
        asked = await _wait(client, BACKUP, "需要助行")  # in private: he offers 助行
        answer = [m["text"] for m in await client.say(VOLUNTEER, "/visits")]
        assert any("李奶奶" in t and "本周应走访" in t for t in answer)
        await client.press(BACKUP, BACKUP, asked["message_id"], "🙋 我来")
        details = await _wait(client, BACKUP, "您已认领 S-1")
        assert "3-3-301 刘阿姨" in details["text"] and "刘芳" not in details["text"]
    finally:
        await client.close()
        await sandbox.stop()
