"""Per-update cost (#11): statements per update, counted on the engine (a deterministic count, not a time), and
the answer to a button press (the toast) sent before the edit of the pressed message."""

from __future__ import annotations

import asyncio
import itertools
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
from storage import sqlite as sqlite_module
from storage.db import Database
from storage.models import AuditEntry
from tests.bot.conftest import Harness, linli, runtime, standin, tg  # noqa: F401  (fixtures)
from tests.delivery.test_polling import FakeTelegram, _update

# SQLite, an update that changes nothing (bot/core/grouped.py): the user with their actor (one query, no lock), then
# its mark with its kept replies (one INSERT … RETURNING) and the COMMIT, both shared with every update that came
# meanwhile (a group: alone here). Before: the mark, the actor, the kept replies and the COMMIT under the write lock.
READING_UPDATE = 3
# the usual way (PostgreSQL; SQLite when the handler writes): the mark, the actor, the kept replies, COMMIT
PLAIN_UPDATE = 4


def plain(linli: Harness) -> int:  # noqa: F811
    """Statements of an update that changes nothing, on this database."""
    return PLAIN_UPDATE if linli.db.write_lock is None else READING_UPDATE


class Seen(list[str]):
    """Statements in the order they ran, and the connection each ran on (`on`, same order)."""

    def __init__(self) -> None:
        super().__init__()
        self.on: list[int] = []
        self.task: list[str] = []  # the asyncio task each ran in


@contextmanager
def statements(harness: Harness) -> Iterator[Seen]:
    """The SQL statements the bot's engine runs inside the block, the COMMITs included."""
    seen = Seen()
    engine = harness.db.engine.sync_engine

    def task() -> str:
        current = asyncio.current_task()
        return current.get_name() if current is not None else ""

    def on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(" ".join(statement.split()))
        seen.on.append(id(conn.connection.dbapi_connection))
        seen.task.append(task())

    def on_commit(conn: Any) -> None:
        seen.append("COMMIT")
        seen.on.append(id(conn.connection.dbapi_connection))
        seen.task.append(task())

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


def updates_own(seen: Seen) -> list[str]:
    """Every statement run for the updates handled in the block: in their own tasks (the poller's "update-<id>"),
    reads included, and in the group writing their marks ("update-marks"); BEGIN left out (PostgreSQL's is not a
    statement). Not counted: the later drop of their kept replies once sent ("sent-marks"), the outbox sender."""
    return [s for s, task in zip(seen, seen.task, strict=True)
            if task.startswith("update-") and not s.startswith("BEGIN")]


async def settled(linli: Harness) -> None:  # noqa: F811
    """Until the sent marks of earlier updates are written (else the next update's transaction carries them)."""
    core = linli.app.core
    for _ in range(500):
        if not core.marks and core._flushing is None:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("sent marks not written")


async def registered(linli: Harness) -> None:  # noqa: F811
    invite = await linli.create_community()
    await linli.register(101, "王芳", invite=invite)


async def test_perf_help_and_start_statements_per_update(linli: Harness) -> None:  # noqa: F811
    """A deterministic count (not a time): fails when the statements per /start or /help grow back."""
    await registered(linli)
    for text in ("/start", "/help"):
        await settled(linli)
        with statements(linli) as seen:
            out = await linli.say(101, text)
        assert out, text
        mine = updates_own(seen)
        assert len(mine) == plain(linli), (text, mine)
        assert not any(s.lower().startswith("update user") for s in mine)  # nothing new about them: not written
        mark = [s for s in mine if s.lower().startswith("insert into processedupdate")]
        assert len(mark) == 1, mine
        if linli.db.write_lock is not None:  # SQLite: the mark with its kept replies in one statement, no BEGIN
            assert "replies" in mark[0].lower() and "returning" in mark[0].lower(), mark
            before = [seen[i - 1] for i, s in enumerate(seen) if s.lower().startswith("insert into processedupdate")]
            assert before and not any(s.startswith("BEGIN") for s in before), seen
        else:
            assert len(handled(seen)) == PLAIN_UPDATE


async def test_perf_sqlite_help_round_trips_to_the_database_thread(linli: Harness,  # noqa: F811
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite: each round trip to aiosqlite's thread waits for the event loop. A /help is the user-and-actor SELECT
    (no lock, at once), then its group's mark INSERT with the kept replies (which opens the transaction: no BEGIN
    IMMEDIATE before it) and the COMMIT, at once too; no rollback, neither of the reading unit of work nor when a
    connection goes back to the pool. The write lock is taken once, by the group."""
    await registered(linli)
    if linli.db.write_lock is None:
        pytest.skip("SQLite only")
    await settled(linli)
    me = asyncio.current_task()
    trips: list[str] = []
    real = aiosqlite.core.Connection._execute

    async def counted(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        current = asyncio.current_task()
        if current is me or (current is not None and current.get_name() == "update-marks"):
            trips.append(getattr(fn, "__qualname__", repr(fn)))
        return await real(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.core.Connection, "_execute", counted)
    # the log's checkpoint goes to the thread every CHECKPOINT_EVERY commits of the process, counted across tests:
    # counted afresh here, so this update's commit is never the one that checkpoints
    monkeypatch.setattr(sqlite_module, "_COMMITS", itertools.count(1))
    lock = linli.db.write_lock
    assert lock is not None
    taken: list[str] = []
    real_acquire = lock.acquire

    async def acquire() -> bool:
        current = asyncio.current_task()
        taken.append(current.get_name() if current is not None and current is not me else "the update")
        return await real_acquire()

    monkeypatch.setattr(lock, "acquire", acquire)
    update = {"update_id": 10**9, "message": {
        "message_id": 10**6, "date": 0, "text": "/help", "chat": {"id": 101, "type": "private", "first_name": "王芳"},
        "from": {"id": 101, "is_bot": False, "first_name": "王芳", "language_code": "zh-hans"},
        "entities": [{"type": "bot_command", "offset": 0, "length": 5}]}}
    event = event_from_update(update, linli.app.core.bot_username)
    assert event is not None
    replies = await linli.app.core.handle(event)
    assert replies
    # the statements and the COMMIT run at once on the event loop (storage/sqlite.py): it was 19 round trips, then 11
    # (three or four per statement: open a cursor, execute, fetch, close), then 1 (the COMMIT)
    assert trips == [], trips
    assert taken == ["update-marks"], taken  # the update itself never queued for the write lock


async def test_perf_press_cost_and_unchanged_language_not_written(linli: Harness) -> None:  # noqa: F811
    await registered(linli)
    menu = (await linli.say(101, "/lang"))[-1]
    await settled(linli)
    with statements(linli) as seen:
        toast, out = await linli.press(101, menu, "English")
    assert out and "English" in out[-1]["text"]
    first = handled(seen)
    # the plain four, the language on the user row and its audit entry, and the person's menu in the new language
    # (their waiting menus superseded, the menu queued: issue #12 item 5 — and on PostgreSQL their roles read again
    # after the row lock; SQLite's transaction holds the write lock since its first statement, so the roles the
    # update read are the ones that stand); no conversation state read
    reread = 0 if linli.db.write_lock is not None else 1
    assert len(first) == PLAIN_UPDATE + 2 + 2 + reread, first
    assert not any(s.lower().startswith("select member") for s in first[1:]) or reread, first
    assert not any("conversationstate" in s.lower() for s in first)
    # SQLite: before that, the reading attempt's one SELECT (its first write refused before it ran)
    attempt = 0 if linli.db.write_lock is None else 1
    assert len(updates_own(seen)) == len(first) + attempt, updates_own(seen)
    menu = (await linli.say(101, "/lang"))[-1]
    await settled(linli)
    with statements(linli) as seen:
        await linli.press(101, menu, "English")
    mine = updates_own(seen)
    assert len(mine) == plain(linli), mine  # English already: nothing to write or audit
    assert not any(s.lower().startswith(("update user", "insert into audit")) for s in mine)
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


async def test_perf_calls_without_files_go_as_one_json_body(linli: Harness, standin: StandIn) -> None:  # noqa: F811
    """Both runtimes post a call without files as JSON (cheaper to build and to read than the URL-encoded form the
    libraries build), nested values included (the menu's buttons, the edit's link preview)."""
    await registered(linli)
    menu = (await linli.say(101, "/lang"))[-1]
    await linli.press(101, menu, "English")
    await settled(linli)
    bodies = {key: n for key, n in standin.stats.bodies.items() if not key.startswith("getUpdates")}
    for method in ("sendMessage", "answerCallbackQuery", "editMessageText", "setMyCommands"):
        assert bodies.get(f"{method} application/json"), bodies
    assert not [key for key in bodies if key.endswith(("x-www-form-urlencoded", "multipart/form-data"))], bodies


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
