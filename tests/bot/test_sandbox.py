"""The sandbox (`make run` without a token) starts, greets its unlinked group, and still works
when started again on the same database."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.config import Settings
from bot.sandbox import GROUPS, Sandbox
from bot.standin.client import StandInClient

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
