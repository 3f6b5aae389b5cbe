"""#11, the kill -9 window of kept replies: an update's replies are kept with its mark until they went out, and a
kill -9 sends again those not yet marked sent. A mark rides with the next update's transaction (bot/core/kept.py:
SentMarks), so it is written as soon as any writer gets SQLite's write lock — not after every update queued for the
lock before it, which under load sent again every answer of the last few hundred milliseconds."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from bot.app import LinliApp
from bot.core.convert import event_from_update
from bot.core.types import Event
from bot.standin.server import StandIn
from flows import updates
from flows.clock import OffsetClock
from storage.db import is_sqlite
from tests.bot.conftest import BOT, settings_for


def _help(update_id: int, user_id: int) -> Event:
    event = event_from_update({"update_id": update_id, "message": {
        "message_id": update_id, "date": 0, "text": "/help", "chat": {"id": user_id, "type": "private"},
        "from": {"id": user_id, "is_bot": False, "first_name": "x"}}}, BOT)
    assert event is not None
    return event


def _still_kept(db_url: str, update_id: int) -> bool:
    """What a kill -9 at this very moment would leave: read synchronously, so nothing else runs meanwhile."""
    with sqlite3.connect(make_url(db_url).database or "") as conn:
        row = conn.execute("SELECT replies FROM processedupdate WHERE update_id = ?", (update_id,)).fetchone()
    return row is not None and row[0] is not None


async def test_kill9_window_a_sent_mark_is_written_by_the_next_update(db_url: str, standin: StandIn) -> None:
    """Update 50's replies went out while three updates wait for SQLite's write lock: the first of them to commit
    writes 50's mark too, so a kill -9 right after it would not send 50's answer again. Before, the mark queued for
    the lock behind all three (a transaction of its own), and a kill -9 then sent it again."""
    if not is_sqlite(db_url):
        pytest.skip("SQLite: writers of one process queue for its write lock (PostgreSQL writes them at once)")
    app = LinliApp(settings_for(db_url, standin), clock=OffsetClock(), run_scheduler=False)
    core = app.core
    assert await core.handle(_help(50, 301))
    assert _still_kept(db_url, 50)
    blocker = app.db.uow(write=True)
    await blocker.__aenter__()  # another update holds the write lock …
    queued = [asyncio.create_task(core.handle(_help(51 + i, 302 + i))) for i in range(3)]  # … three queue behind it
    await asyncio.sleep(0.05)
    marking = asyncio.create_task(core.sent(50))  # 50's replies went out
    await asyncio.sleep(0.05)
    assert not marking.done()  # not written while the lock is held
    await blocker.__aexit__(None, None, None)
    assert await queued[0]
    assert not _still_kept(db_url, 50)  # written with 51's commit
    assert _still_kept(db_url, 51) and await marking is None
    for task in queued[1:]:
        assert await task
    for update_id in (51, 52, 53):
        await core.sent(update_id)
        assert not _still_kept(db_url, update_id)  # no update after them: a transaction of their own
    assert await core.handle(_help(50, 301)) == []  # a redelivery after a restart: skipped
    await app.db.dispose()


async def test_kill9_window_a_mark_whose_carrier_failed_is_written_all_the_same(
        db_url: str, standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    """The transaction that carries a mark fails (the database away at its last statement): the mark is not lost,
    the update is tried again and the mark written; whoever waits for it learns when it is in."""
    if not is_sqlite(db_url):
        pytest.skip("SQLite: PostgreSQL writes a mark at once, in a transaction of its own")
    app = LinliApp(settings_for(db_url, standin), clock=OffsetClock(), run_scheduler=False)
    core = app.core
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    core.outage_sleep = sleep  # type: ignore[method-assign]
    assert await core.handle(_help(60, 301))
    real, real_group = updates.keep_replies, updates.mark_sent
    failures = [OperationalError("UPDATE", None, sqlite3.OperationalError("database is locked"))]

    async def flaky(uow: Any, **kw: Any) -> None:
        if failures and kw.get("sent"):
            raise failures.pop()
        await real(uow, **kw)

    async def flaky_group(uow: Any, **kw: Any) -> None:  # the marks' group of an update that changed nothing
        if failures and asyncio.current_task().get_name() == "update-marks":  # type: ignore[union-attr]
            raise failures.pop()
        await real_group(uow, **kw)

    monkeypatch.setattr(updates, "keep_replies", flaky)
    monkeypatch.setattr(updates, "mark_sent", flaky_group)
    hold = app.db.write_lock
    assert hold is not None
    await hold.acquire()  # so that update 61 is the first writer after the mark (it carries it)
    handling = asyncio.create_task(core.handle(_help(61, 302)))
    while not hold._waiters:  # 61 (or its marks' group) queued for the lock first
        await asyncio.sleep(0.001)
    marking = asyncio.create_task(core.sent(60))
    await asyncio.sleep(0.05)
    hold.release()
    assert await handling and await marking is None
    assert not failures and waits  # 61 failed once with the mark, and went through when tried again
    async with app.db.uow() as uow:
        assert await updates.kept_replies(uow, update_id=60) is None
        assert await updates.kept_replies(uow, update_id=61) is not None
    await app.db.dispose()
