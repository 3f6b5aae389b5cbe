"""Updates that change nothing are handled without SQLite's write lock; their marks are committed in groups (#11).

SQLite lets one writer in at a time, and under load each writer held the lock for some 20 ms — mostly for the
event loop to come round again (the lock handed on, the COMMIT's trip to aiosqlite's thread) — so every update
queued behind every other even when it only read: a /help, a "welcome back", a menu. Here such an update runs its
handler first in a unit of work that only reads (no lock; WAL readers never wait), with every write refused
before it reaches the database (`NeedsWrite`). An update whose handler wants to write — or fails — is dropped
untouched and handled again the usual way (bot/core/dispatch.py: one transaction with its mark).

What holds as before: an update is handled once — its processed-update mark goes in with `INSERT … ON CONFLICT DO
NOTHING … RETURNING`, and only the updates whose mark went in answer (one handled before, or by another worker
meanwhile, goes the usual way, which sends what was kept of it or nothing). Replies go out only after the COMMIT
that holds the mark, and they are kept with it (sealed) until sent, so a kill -9 in between sends them once after
the restart. The marks waiting meanwhile are written together: one INSERT and one COMMIT for every update that
finished reading while the previous group held the lock (the marks of replies sent since ride along too)."""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import event

from bot.core.kept import SentMarks, to_kept
from bot.core.types import CallbackEvent, Event, MessageEvent, Reply
from flows import audit, updates
from flows.throttle import Verdict
from storage import outage
from storage.db import Database

if TYPE_CHECKING:
    from bot.core.dispatch import Core

log = logging.getLogger("linli.grouped")


class NeedsWrite(Exception):  # noqa: N818 — not an error: the update goes the usual way
    """A statement that would write, refused inside a reading attempt (before it ran). Should a handler's own
    `except Exception` take it for a failure of its own, the attempt knows it is void all the same (`Attempt`).
    Not a BaseException: SQLAlchemy throws away a connection that one passes through."""


@dataclass
class Attempt:
    refused: list[str] = field(default_factory=list)  # the first words of the statements refused


_ATTEMPT: contextvars.ContextVar[Attempt | None] = contextvars.ContextVar("linli_reading_attempt", default=None)
_READS = ("SELECT", "WITH")


def _refuse_writes(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
    attempt = _ATTEMPT.get()
    if attempt is None:
        return
    head = statement.lstrip()[:6].upper()
    if not head.startswith(_READS):
        attempt.refused.append(head)
        raise NeedsWrite(head)


def guard(db: Database) -> None:
    """Refuse writes on this database's connections inside a reading attempt (`reading`); once per database."""
    engine = db.engine.sync_engine
    if not event.contains(engine, "before_cursor_execute", _refuse_writes):
        event.listen(engine, "before_cursor_execute", _refuse_writes)


class reading:  # noqa: N801 — used as `with reading() as attempt:`
    """Inside: statements that would write raise NeedsWrite before they run, and so does an audit entry when it is
    recorded (an audited read is a write); each is noted in the attempt."""

    def __enter__(self) -> Attempt:
        self.attempt = attempt = Attempt()
        self._token = _ATTEMPT.set(attempt)

        def refuse_entry(action: str) -> None:
            attempt.refused.append(f"AUDIT {action}")
            raise NeedsWrite("AUDIT")

        self._audit_token = audit.refusing.set(refuse_entry)
        return attempt

    def __exit__(self, *exc: object) -> None:
        audit.refusing.reset(self._audit_token)
        _ATTEMPT.reset(self._token)


def route_key(event: Event) -> str:
    """What an update asks for, told before it is handled: its command, its button's prefix (in the clear before the
    signature), or its kind."""
    if isinstance(event, MessageEvent):
        return f"/{event.command}" if event.command is not None else "text"
    if isinstance(event, CallbackEvent):
        return "button " + event.data.split("~", 1)[0].split(":", 1)[0]
    return type(event).__name__


class Hints:
    """Which kinds of update lately wanted to write (`route_key`), so that they skip the reading attempt (wasted on
    them: a read and the handler's work up to its first write). A moving share per kind: at `SKIP` or more they go the
    usual way at once, except every `PROBE`th, which tries again (what a button does may change: a language chosen
    again writes nothing). Only the time it costs depends on it, never what happens."""

    SKIP = 0.5
    PROBE = 8
    WEIGHT = 0.3  # of the latest outcome

    def __init__(self) -> None:
        self._wrote: dict[str, float] = {}
        self._skipped: dict[str, int] = {}

    def worth_trying(self, key: str) -> bool:
        if self._wrote.get(key, 0.0) < self.SKIP:
            return True
        self._skipped[key] = skipped = self._skipped.get(key, 0) + 1
        return skipped % self.PROBE == 0

    def learn(self, key: str, wrote: bool) -> None:
        share = self._wrote.get(key, 0.0)
        self._wrote[key] = share * (1 - self.WEIGHT) + (self.WEIGHT if wrote else 0.0)
        if len(self._wrote) > 10_000:  # kinds are few (commands, prefixes); a bound all the same
            self._wrote.clear()
            self._skipped.clear()


@dataclass
class _Mark:
    update_id: int
    received_at: datetime
    replies: str | None
    taken: asyncio.Future[bool]


class MarkGroups:
    """Processed-update marks (with each update's kept replies) written in groups: whoever comes while a group is
    being written waits for the next, which takes everybody waiting once it holds the write lock."""

    def __init__(self, db: Database, marks: SentMarks, on_marks_back: Callable[[], None]) -> None:
        guard(db)
        self.db = db
        self.marks = marks  # sent marks, carried by the group's transaction as by an update's own
        self.on_marks_back = on_marks_back
        self._waiting: list[_Mark] = []
        self._writing: asyncio.Task[None] | None = None
        self.groups = 0  # transactions written (tests and benchmarks read these)
        self.written = 0
        self.hints = Hints()

    async def record(self, update_id: int, received_at: datetime, replies: str | None) -> bool:
        """Mark the update as processed (its sealed replies kept with the mark) and commit; False when it was marked
        before (handled before, or by another worker meanwhile). Raises what the group's transaction raised."""
        taken: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Mark(update_id, received_at, replies, taken))
        if self._writing is None:
            self._writing = asyncio.create_task(self._write(), name="update-marks")
        return await asyncio.shield(taken)

    async def _write(self) -> None:
        try:
            while self._waiting:
                async with self.db.uow(write=True, opens_with_write=True) as uow:
                    group, self._waiting = self._waiting, []  # everybody who came while waiting for the lock
                    sent = self.marks.take()
                    try:
                        taken = await updates.take_many(uow, [(m.update_id, m.received_at, m.replies) for m in group])
                        if sent:
                            await updates.mark_sent(uow, update_ids=sent)
                        await uow.commit()
                    except BaseException as exc:
                        self.marks.back(sent)
                        self.on_marks_back()
                        for m in group:
                            if not m.taken.done():
                                if isinstance(exc, Exception):
                                    m.taken.set_exception(exc)
                                else:
                                    m.taken.cancel()
                        if not isinstance(exc, Exception):
                            raise
                        continue
                    self.marks.done(sent)
                    self.groups += 1
                    self.written += len(group)
                    for m in group:
                        if not m.taken.done():
                            m.taken.set_result(m.update_id in taken)
        finally:
            self._writing = None
            for m in self._waiting:  # cut off (a stop) before their group began: they go the usual way
                if not m.taken.done():
                    m.taken.cancel()
            self._waiting = []


async def handle_reading(core: Core, event: Event, verdict: Verdict) -> list[Reply] | None:
    """The update handled in a unit of work that only reads, its mark written with a group; None when it must go
    the usual way (Core._handle_once): its handler wants to write or failed, or it was marked before."""
    from bot.core.dispatch import Ctx  # the dispatcher imports this module

    assert core.groups is not None
    key = route_key(event)
    if not core.groups.hints.worth_trying(key):
        return None
    now = core.clock.now()
    wrote = True
    with reading() as attempt:
        async with core.db.uow() as uow:
            try:
                actor = await core._actor(uow, event, now)
                ctx = Ctx(core=core, uow=uow, event=event, actor=actor, now=now)
                if verdict is Verdict.REFUSE:
                    core._slow_down(ctx)
                else:
                    await core._route(ctx)
                session = uow.session
                wrote = bool(session.new or session.deleted or any(session.is_modified(o) for o in session.dirty)
                             or audit.pending(uow))  # an audited read is a write
            except NeedsWrite:
                pass
            except Exception as exc:
                if outage.unreachable(exc):
                    raise
                if not attempt.refused:
                    return None  # a FlowError or a bug, which the usual way explains with its mark
    wrote = wrote or bool(attempt.refused)  # a write refused and swallowed somewhere: the attempt is void
    core.groups.hints.learn(key, wrote)
    if wrote:
        return None
    kept = to_kept(ctx.replies)
    sealed = core.sealer.seal(json.dumps(kept, ensure_ascii=False)) if kept else None
    try:
        taken = await core.groups.record(event.update_id, now, sealed)
    except Exception as exc:
        if outage.unreachable(exc):
            raise  # tried again from the start (Core.handle)
        log.warning("update %s: its marks' group failed (%s); handled the usual way", event.update_id,
                    type(exc).__name__)
        return None
    if not taken:
        return None  # handled before: the usual way sends what was kept of it, or nothing
    if kept:
        core._unsent.add(event.update_id)
    return ctx.replies
