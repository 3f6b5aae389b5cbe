"""SQLite: updates that change nothing skip the write lock, their marks committed in groups (bot/core/grouped.py),
and COMMIT on the event loop with the log's checkpoints on aiosqlite's thread (storage/sqlite.py) — #11, per-update
cost. What must hold as before: each update handled once, its replies only after the commit of its mark."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiosqlite.core
import pytest
from sqlalchemy import select
from sqlalchemy import text as sql

from bot.core import grouped
from bot.core.convert import event_from_update
from bot.core.dispatch import ANYWHERE, CommandSpec, Ctx
from bot.core.types import Event, Send
from flows import audit
from storage import sqlite as sqlite_module
from storage.db import Database
from storage.models import AuditEntry
from tests.bot.conftest import Harness, linli, runtime, standin, tg  # noqa: F401  (fixtures)
from tests.delivery.test_perf import registered

USERS = list(range(201, 221))


def _message(update_id: int, user_id: int, text: str) -> Event:
    event = event_from_update({"update_id": update_id, "message": {
        "message_id": update_id, "date": 0, "text": text, "chat": {"id": user_id, "type": "private"},
        "from": {"id": user_id, "is_bot": False, "first_name": "x", "language_code": "zh-hans"},
        "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]}}, "linli_bot")
    assert event is not None
    return event


def _sqlite_only(linli: Harness) -> None:  # noqa: F811
    if linli.db.write_lock is None:
        pytest.skip("SQLite: PostgreSQL has no write lock to skip")


async def test_grouped_many_updates_one_group_each_handled_once(linli: Harness) -> None:  # noqa: F811
    _sqlite_only(linli)
    core = linli.app.core
    assert core.groups is not None
    for uid in USERS:  # known to the bot: their /help then writes nothing
        await core.handle(_message(900 + uid, uid, "/help"))
    core.groups.hints = grouped.Hints()  # their first /help wrote (a new user): /help would skip the attempt a while
    groups, written = core.groups.groups, core.groups.written
    replies = await asyncio.gather(*(core.handle(_message(1000 + uid, uid, "/help")) for uid in USERS))
    assert all(r and isinstance(r[0], Send) for r in replies)
    assert core.groups.written - written == len(USERS)
    assert core.groups.groups - groups <= 3, core.groups.groups - groups  # 20 marks, one or a few COMMITs
    for uid in USERS:  # delivered again (not confirmed to Telegram): kept replies are sent once, then nothing
        await core.sent(1000 + uid)
        assert await core.handle(_message(1000 + uid, uid, "/help")) == []


async def test_grouped_a_refused_write_swallowed_by_a_handler_voids_the_attempt(linli: Harness) -> None:  # noqa: F811
    """A handler whose own `except Exception` swallows the refused write must not answer from the reading attempt
    (it would say "done" with nothing written): the update goes the usual way, which writes and answers once."""
    _sqlite_only(linli)
    await registered(linli)
    core = linli.app.core
    runs: list[str] = []

    async def note(ctx: Ctx) -> None:
        runs.append("run")
        audit.record(ctx.uow, action="test.note", now=ctx.now, actor_user_id=ctx.actor.user.id)
        try:
            await ctx.uow.flush()
        except Exception:  # noqa: BLE001 — the careless handler this test is about
            ctx.reply("not written")
            return
        ctx.reply("written")

    core.router.commands["note"] = CommandSpec("note", note, ANYWHERE, "note", menu=False)
    out = await linli.say(101, "/note")
    assert [m["text"] for m in out] == ["written"]
    assert len(runs) == 2  # the reading attempt, then the usual way
    async with linli.db.uow() as uow:
        entries = (await uow.session.exec(select(AuditEntry).where(AuditEntry.action == "test.note"))).all()
    assert len(entries) == 1


async def test_grouped_an_audited_read_is_written(linli: Harness) -> None:  # noqa: F811
    """An entry waits in the session until the COMMIT (flows/audit.py): a handler that only reads and audits it (a
    key person's record shown) must not be answered from the reading attempt, which commits nothing of its own."""
    _sqlite_only(linli)
    await registered(linli)
    core = linli.app.core
    runs: list[str] = []

    async def shown(ctx: Ctx) -> None:
        runs.append("run")
        audit.record(ctx.uow, action="test.read", now=ctx.now, actor_user_id=ctx.actor.user.id, actor=ctx.actor)
        ctx.reply("shown")

    core.router.commands["shown"] = CommandSpec("shown", shown, ANYWHERE, "shown", menu=False)
    out = await linli.say(101, "/shown")
    assert [m["text"] for m in out] == ["shown"]
    assert len(runs) == 2  # the reading attempt, then the usual way
    async with linli.db.uow() as uow:
        names = (await uow.session.exec(select(AuditEntry.actor_name).where(AuditEntry.action == "test.read"))).all()
    assert [n for (n,) in names] == ["王芳"]  # the actor's name, as an entry keeps it


async def test_grouped_a_refused_write_keeps_the_connection(linli: Harness) -> None:  # noqa: F811
    """A write refused in a reading attempt is an ordinary exception: SQLAlchemy keeps the connection (one passing
    a BaseException through is thrown away, and the next unit of work opens a new one on aiosqlite's thread)."""
    _sqlite_only(linli)
    await registered(linli)
    menu = (await linli.say(101, "/lang"))[-1]
    opened: list[object] = []

    def connected(*_: Any) -> None:
        opened.append(object())

    from sqlalchemy import event
    pool = linli.db.engine.sync_engine.pool
    event.listen(pool, "connect", connected)
    try:
        for button in ("English", "中文", "English"):  # each a write: refused first, then the usual way
            _, out = await linli.press(101, menu, button)
            menu = (await linli.say(101, "/lang"))[-1]
    finally:
        event.remove(pool, "connect", connected)
    assert opened == []


async def test_sqlite_commit_on_the_event_loop_checkpoints_on_the_thread(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """COMMIT runs at once (no trip to aiosqlite's thread); SQLite's own checkpoint inside a COMMIT is off, and every
    CHECKPOINT_EVERY commits one runs on the thread, so the log does not grow without end."""
    monkeypatch.setattr(sqlite_module, "CHECKPOINT_EVERY", 3)
    monkeypatch.setattr(sqlite_module, "_COMMITS", iter(range(1, 10**6)))
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    async with db.uow(write=True) as uow:
        await uow.session.exec(sql("CREATE TABLE t (a INTEGER)"))  # type: ignore[call-overload]
        await uow.commit()  # commit 1
    trips: list[str] = []
    real = aiosqlite.core.Connection._execute

    async def counted(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        trips.append(getattr(fn, "__qualname__", repr(fn)))
        return await real(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.core.Connection, "_execute", counted)
    for n in range(5):  # commits 2 … 6: the 3rd and the 6th checkpoint
        async with db.uow(write=True, opens_with_write=True) as uow:
            await uow.session.exec(sql(f"INSERT INTO t VALUES ({n})"))  # type: ignore[call-overload]
            await uow.commit()
    assert trips == ["_checkpoint", "_checkpoint"], trips
    async with db.uow() as uow:
        assert (await uow.session.exec(sql("PRAGMA wal_autocheckpoint"))).one()[0] == 0  # type: ignore[call-overload]
        assert (await uow.session.exec(sql("SELECT count(*) FROM t"))).one()[0] == 5  # type: ignore[call-overload]
    await db.dispose()


def test_grouped_hints_skip_kinds_that_write_and_probe_them_again() -> None:
    """A kind of update that lately wrote skips the reading attempt (wasted on it), all but every PROBEth; one that
    writes nothing any more is tried again after a few probes that read only."""
    hints = grouped.Hints()
    assert hints.worth_trying("button lg")
    for _ in range(3):
        hints.learn("button lg", wrote=True)
    tried = [hints.worth_trying("button lg") for _ in range(16)]
    assert tried.count(True) == 2 and tried[grouped.Hints.PROBE - 1]  # the 8th and the 16th
    assert hints.worth_trying("/help")  # other kinds are not affected
    for _ in range(3):
        hints.learn("button lg", wrote=False)
    assert hints.worth_trying("button lg")
    assert grouped.route_key(_message(1, 201, "/help")) == "/help"


async def test_grouped_a_writing_button_skips_the_attempt_after_a_few_presses(linli: Harness,  # noqa: F811
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    _sqlite_only(linli)
    await registered(linli)
    refused: list[str] = []  # the first write each attempt wanted (an audit entry, for a language)
    real = grouped.reading.__exit__

    def counted(self: grouped.reading, *exc: object) -> None:
        refused.extend(self.attempt.refused[:1])
        real(self, *exc)

    monkeypatch.setattr(grouped.reading, "__exit__", counted)
    for button in ("English", "中文", "English", "中文", "English"):  # each changes the language: a write
        menu = (await linli.say(101, "/lang"))[-1]
        await linli.press(101, menu, button)
    assert len(refused) == 2, refused  # tried twice, then the usual way at once
