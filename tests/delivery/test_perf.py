"""Per-update cost (#11): statements per update, counted on the engine (a deterministic count, not a time), and
the answer to a button press (the toast) sent before the edit of the pressed message."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiosqlite.core
import pytest
from sqlalchemy import event, select
from sqlalchemy import text as sql

from bot.core.convert import event_from_update
from bot.runtimes.base import Poller
from bot.standin.server import StandIn
from storage.db import Database
from storage.models import AuditEntry
from tests.bot.conftest import Harness, linli, runtime, standin, tg  # noqa: F401  (fixtures)
from tests.delivery.test_polling import FakeTelegram, _update

# the update's mark, the user with their actor (one query), its replies kept until sent, COMMIT
PLAIN_UPDATE = 4


class Seen(list[str]):
    """Statements in the order they ran, and the connection each ran on (`on`, same order)."""

    def __init__(self) -> None:
        super().__init__()
        self.on: list[int] = []


@contextmanager
def statements(harness: Harness) -> Iterator[Seen]:
    """The SQL statements the bot's engine runs inside the block, the COMMITs included."""
    seen = Seen()
    engine = harness.db.engine.sync_engine

    def on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(" ".join(statement.split()))
        seen.on.append(id(conn.connection.dbapi_connection))

    def on_commit(conn: Any) -> None:
        seen.append("COMMIT")
        seen.on.append(id(conn.connection.dbapi_connection))

    event.listen(engine, "before_cursor_execute", on_execute)
    event.listen(engine, "commit", on_commit)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
        event.remove(engine, "commit", on_commit)


def handled(seen: Seen) -> list[str]:
    """The statements of the transactions that handle an update, the ones that mark it (BEGIN left out:
    PostgreSQL's is not a statement); the later one that drops its kept replies once sent is not counted, nor
    what others (the outbox sender) run meanwhile on other connections."""
    out: list[str] = []
    current: dict[int, list[str]] = {}
    for s, on in zip(seen, seen.on, strict=True):
        if s.startswith("BEGIN"):
            continue
        current.setdefault(on, []).append(s)
        if s == "COMMIT":
            mine = current.pop(on)
            if any(x.lower().startswith("insert into processedupdate") for x in mine):
                out += mine
    return out


async def registered(linli: Harness) -> None:  # noqa: F811
    invite = await linli.create_community()
    await linli.register(101, "王芳", invite=invite)


async def test_perf_help_and_start_cost_four_statements(linli: Harness) -> None:  # noqa: F811
    await registered(linli)
    for text in ("/start", "/help"):
        with statements(linli) as seen:
            out = await linli.say(101, text)
        assert out, text
        mine = handled(seen)
        assert len(mine) == PLAIN_UPDATE, (text, mine)
        assert not any(s.lower().startswith("update user") for s in mine)  # nothing new about them: not written
        if linli.db.write_lock is not None:  # SQLite: the mark's INSERT opens the transaction, no BEGIN before it
            before = [seen[i - 1] for i, s in enumerate(seen) if s.lower().startswith("insert into processedupdate")]
            assert before and not any(s.startswith("BEGIN") for s in before), seen


async def test_perf_sqlite_help_round_trips_to_the_database_thread(linli: Harness,  # noqa: F811
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite: each round trip to aiosqlite's thread waits for the event loop, all inside the write lock. A /help is
    the mark's INSERT (which opens the transaction: no BEGIN IMMEDIATE before it), the user-and-actor SELECT and the
    kept replies, run at once, and the COMMIT, the one trip; no second, empty rollback when the connection goes back
    to the pool."""
    await registered(linli)
    if linli.db.write_lock is None:
        pytest.skip("SQLite only")
    me = asyncio.current_task()
    trips: list[str] = []
    real = aiosqlite.core.Connection._execute

    async def counted(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if asyncio.current_task() is me:
            trips.append(getattr(fn, "__qualname__", repr(fn)))
        return await real(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.core.Connection, "_execute", counted)
    update = {"update_id": 10**9, "message": {
        "message_id": 10**6, "date": 0, "text": "/help", "chat": {"id": 101, "type": "private", "first_name": "王芳"},
        "from": {"id": 101, "is_bot": False, "first_name": "王芳", "language_code": "zh-hans"},
        "entities": [{"type": "bot_command", "offset": 0, "length": 5}]}}
    event = event_from_update(update, linli.app.core.bot_username)
    assert event is not None
    replies = await linli.app.core.handle(event)
    assert replies
    # the statements run at once on the event loop (storage/sqlite.py), only the COMMIT goes to the thread: it was
    # 19 round trips, then 11 (three or four per statement: open a cursor, execute, fetch, close)
    assert trips == ["Connection.commit"], trips
    assert "Connection.rollback" not in trips


async def test_perf_press_cost_and_unchanged_language_not_written(linli: Harness) -> None:  # noqa: F811
    await registered(linli)
    menu = (await linli.say(101, "/lang"))[-1]
    with statements(linli) as seen:
        toast, out = await linli.press(101, menu, "English")
    assert out and "English" in out[-1]["text"]
    first = handled(seen)
    # the plain four, the language on the user row and its audit entry, and the person's menu in the new language
    # (their roles, their waiting menus superseded, the menu queued: issue #12 item 5); no conversation state read
    assert len(first) == PLAIN_UPDATE + 2 + 3, first
    assert not any("conversationstate" in s.lower() for s in first)
    menu = (await linli.say(101, "/lang"))[-1]
    with statements(linli) as seen:
        await linli.press(101, menu, "English")
    assert len(handled(seen)) == PLAIN_UPDATE, handled(seen)  # English already: nothing to write or audit
    async with linli.db.uow() as uow:
        entries = (await uow.session.exec(select(AuditEntry).where(AuditEntry.action == "user.language"))).all()
    assert len(entries) == 1


async def test_perf_press_answered_before_the_edit(linli: Harness, standin: StandIn,  # noqa: F811
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    await registered(linli)
    menu = (await linli.say(101, "/lang"))[-1]
    calls: list[str] = []
    real = standin.call

    async def logged(bot: Any, method: str, params: dict[str, Any], uploads: dict[str, Any]) -> Any:
        if method in ("answerCallbackQuery", "editMessageText"):  # the press's own calls (not the new menu the
            calls.append(method)                                   # language change queues in the outbox)
        return await real(bot, method, params, uploads)

    monkeypatch.setattr(standin, "call", logged)
    toast, out = await linli.press(101, menu, "English")
    assert out and "English" in out[-1]["text"]  # edited …
    assert calls[:2] == ["answerCallbackQuery", "editMessageText"], calls  # … after the spinner stopped


async def test_perf_sqlite_a_statement_run_at_once_still_waits_for_another_writer(tmp_path: Path) -> None:
    """Statements run on the event loop do not wait there for SQLite's lock: held by another writer (a `linli` command),
    the statement goes to aiosqlite's thread and waits there as before, while the event loop keeps running."""
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    async with db.uow(write=True) as uow:
        await uow.session.exec(sql("CREATE TABLE t (a INTEGER)"))  # type: ignore[call-overload]
        await uow.commit()
    holder = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticking = asyncio.create_task(tick())

    async def write() -> None:
        async with db.uow(write=True, opens_with_write=True) as uow:
            await uow.session.exec(sql("INSERT INTO t VALUES (1)"))  # type: ignore[call-overload]
            await uow.commit()

    writing = asyncio.create_task(write())
    await asyncio.sleep(0.3)
    assert not writing.done() and ticks >= 10  # waiting for the lock, the event loop free meanwhile
    holder.execute("COMMIT")
    await writing
    ticking.cancel()
    async with db.uow() as uow:
        assert (await uow.session.exec(sql("SELECT count(*) FROM t"))).one()[0] == 1  # type: ignore[call-overload]
    holder.close()
    await db.dispose()


async def test_perf_the_poller_reads_each_update_about_twice_under_load() -> None:
    """Asking Telegram again from the lowest unfinished update returns every update still at work. The poller
    asked after each one finished: under load each update was read some 27 times (50 at work), JSON the stand-in
    wrote and the bot parsed for nothing. It now asks once half of those in hand finished: ten updates finishing
    one by one are read at most twice each — and still confirmed only once finished."""
    telegram = FakeTelegram()
    telegram.queue = [_update(i, 301) for i in range(1, 11)]
    returned: list[int] = []

    async def fetch(offset: int | None, timeout: int, limit: int) -> list[dict[str, Any]]:
        got = await telegram.fetch(offset, timeout, limit)
        returned.extend(u["update_id"] for u in got)
        return got

    release = {i: asyncio.Event() for i in range(1, 11)}

    async def process(update: dict[str, Any]) -> None:
        await release[update["update_id"]].wait()

    poller = Poller(fetch, process, idle=5.0)
    poller.start()
    while len(poller.working) < 10:
        await asyncio.sleep(0.01)
    for i in range(1, 11):
        release[i].set()
        await asyncio.sleep(0.02)
    while telegram.queue:
        await asyncio.sleep(0.01)
    await poller.stop()
    assert sorted(set(returned)) == list(range(1, 11))
    assert len(returned) <= 20, len(returned)
    assert all(o is None or o <= 11 for o in telegram.offsets)
