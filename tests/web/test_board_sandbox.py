"""Issue #14: the sandbox serves the public board beside its chat page (both keep working), with the demo
community on it and none of the demo's people or key persons named."""

from __future__ import annotations

from pathlib import Path

import httpx

from bot.config import Settings
from bot.sandbox import DEMO_SLUG, KEY_PERSONS, PEOPLE, Sandbox


async def test_item7_the_sandbox_serves_the_board_beside_the_chat_page(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path}/sb.db",  # type: ignore[call-arg]
                        secret_key="x" * 32, media_dir=str(tmp_path / "media"))
    sandbox = Sandbox(settings, port=0, board_port=0)
    await sandbox.start()
    try:
        assert sandbox.board_url and sandbox.board_url != sandbox.url
        secrets = [p.name for p in PEOPLE] + [k[2] for k in KEY_PERSONS] + [k[3] for k in KEY_PERSONS]
        async with httpx.AsyncClient() as client:
            chat = await client.get(f"{sandbox.url}/")
            assert chat.status_code == 200 and "<html" in chat.text.lower()
            for path in ("/", "/district", f"/c/{DEMO_SLUG}", f"/c/{DEMO_SLUG}/print"):
                r = await client.get(sandbox.board_url + path)
                assert r.status_code == 200, path
                assert "北辰示范社区" in r.text
                assert [s for s in secrets if s in r.text] == [], path
            assert "需求: 14" in (await client.get(sandbox.board_url + "/")).text
            assert (await client.get(f"{sandbox.board_url}/c/{DEMO_SLUG}/p/1")).status_code == 404  # no vote yet
    finally:
        await sandbox.stop()


async def test_item7_without_a_board_port_the_sandbox_serves_no_board(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path}/sb.db",  # type: ignore[call-arg]
                        secret_key="x" * 32)
    sandbox = Sandbox(settings, port=0)
    await sandbox.start()
    try:
        assert sandbox.board_url == "" and sandbox.app is not None and sandbox.app.web is None
    finally:
        await sandbox.stop()
