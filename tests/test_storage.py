"""The unit of work against a real database file shared by two processes' worth of engines."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlmodel import select

from storage.db import Database, is_sqlite
from storage.models import Community


def _community(slug: str) -> Community:
    return Community(name=slug, slug=slug, timezone="Asia/Shanghai", locale="zh_CN",
                     created_at=datetime(2026, 11, 28, tzinfo=UTC))


async def test_a_writer_that_reads_first_waits_for_another_process_instead_of_failing(db_url: str) -> None:
    """Two Database objects stand for two processes (the bot and the `linli` command): each has
    its own in-process write queue, so only the database can order them. The first reads, the
    second commits a write meanwhile, then the first writes: it must wait its turn and succeed
    (a deferred SQLite transaction would fail at once with "database is locked")."""
    bot, cli = Database(db_url), Database(db_url)
    try:
        second_done = asyncio.Event()

        async def other_process() -> None:
            async with bot.uow(write=True) as uow:
                uow.session.add(_community("bot-side"))
                await uow.commit()
            second_done.set()

        async with cli.uow(write=True) as uow:
            before = (await uow.session.exec(select(Community))).all()
            other = asyncio.create_task(other_process())
            if is_sqlite(db_url):
                # the other process cannot commit while this writer holds the lock
                with pytest.raises(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(second_done.wait()), 0.5)
            else:
                await asyncio.wait_for(second_done.wait(), 10)
            uow.session.add(_community("cli-side"))
            await uow.commit()
        await asyncio.wait_for(other, 15)
        async with cli.uow() as uow:
            slugs = {c.slug for c in (await uow.session.exec(select(Community))).all()}
        assert {"bot-side", "cli-side"} <= slugs
        assert len(slugs) == len(before) + 2
    finally:
        await bot.dispose()
        await cli.dispose()


async def test_a_failed_start_of_a_write_releases_the_queue(tmp_path) -> None:
    """If the write lock cannot be taken (here: the file is not a database), the unit of work
    raises and the next writer of this process is not left queued behind it."""
    broken = tmp_path / "not-a-db.sqlite"
    broken.write_bytes(b"this is not an SQLite file" * 100)
    db = Database(f"sqlite+aiosqlite:///{broken}")
    try:
        for _ in range(2):
            with pytest.raises(Exception, match="not a database"):
                async with db.uow(write=True):
                    pass
        assert db.write_lock is not None and not db.write_lock.locked()
    finally:
        await db.dispose()
