"""SQLite through aiosqlite, with as few trips to aiosqlite's thread as can be (#11, per-update cost).

SQLAlchemy's aiosqlite adapter sends each statement to the connection's thread three or four times (open a cursor,
execute, fetch the rows, close it), and each answer waits for the event loop to come round again: under load, an
update held SQLite's write lock most of the time for those waits alone. Here a statement is run in one go — at once,
on the event loop, when the database is in WAL mode (readers never wait there, and a writer waits only for another
writer: then, and only then, the statement goes to the thread, which waits up to `BUSY_TIMEOUT_MS` for the lock as
before). COMMIT runs at once too (#11: it was the one trip left per update, and under load each trip cost the write
lock an event-loop round or two): in WAL mode with synchronous=NORMAL it appends to the log and syncs nothing. What
could hold the event loop up is a checkpoint (copying the log into the database file, with an fsync), which SQLite
runs inside a COMMIT once the log is long: here none runs there (wal_autocheckpoint=0), and every `CHECKPOINT_EVERY`
commits one runs on aiosqlite's thread instead. ROLLBACK still goes to the thread (no trip when there is nothing to
roll back)."""

from __future__ import annotations

import collections
import itertools
import sqlite3
from typing import Any

import aiosqlite
from sqlalchemy.connectors.asyncio import await_
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)

#: how long a statement waits for another writer's lock (another process: `linli` commands, a second bot)
BUSY_TIMEOUT_MS = 10_000
#: commits (this process, any connection) between two checkpoints of the write-ahead log, on aiosqlite's thread
CHECKPOINT_EVERY = 500
_COMMITS = itertools.count(1)


def sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    wal = (cur.fetchone() or ("",))[0] == "wal"
    cur.execute("PRAGMA synchronous=NORMAL")
    # statements run on the event loop must not wait there for a lock: they fail at once and go to the thread
    cur.execute(f"PRAGMA busy_timeout={0 if wal else BUSY_TIMEOUT_MS}")
    if wal:  # a COMMIT runs on the event loop: no checkpoint (an fsync) inside it; `commit` starts them on the thread
        cur.execute("PRAGMA wal_autocheckpoint=0")
    cur.close()
    if isinstance(dbapi_connection, _OneTripConnection):
        dbapi_connection.direct = wal


def _run(connection: aiosqlite.Connection, operation: str, parameters: Any, many: bool) -> tuple[Any, Any, int, Any]:
    """A statement from start to end: its cursor, the statement, its rows, the cursor closed."""
    cursor = connection._conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        rows = cursor.fetchall() if cursor.description else None
        return cursor.description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


def _run_waiting(connection: aiosqlite.Connection, operation: str, parameters: Any,
                 many: bool) -> tuple[Any, Any, int, Any]:
    """`_run` on aiosqlite's thread, waiting for another writer's lock up to BUSY_TIMEOUT_MS."""
    connection._conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    try:
        return _run(connection, operation, parameters, many)
    finally:
        connection._conn.execute("PRAGMA busy_timeout=0")


def _checkpoint(connection: sqlite3.Connection) -> None:
    """Copy the write-ahead log into the database as far as no reader needs it (PASSIVE: waits for nobody)."""
    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


def _busy(exc: sqlite3.OperationalError) -> bool:
    return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) == sqlite3.SQLITE_BUSY


class _OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """SQLAlchemy's aiosqlite cursor, each statement run in one go (see the module's docstring)."""

    __slots__ = ("_description", "_rowcount", "_lastrowid")
    arraysize = 1

    def __init__(self, adapt_connection: Any) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]  # none is kept between statements
        self._soft_closed_memoized = {}  # type: ignore[assignment]
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: Any = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    async def _async_soft_close(self) -> None:
        return  # closed already

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        return await self._one_go(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        return await self._one_go(operation, seq_of_parameters, many=True)

    async def _one_go(self, operation: Any, parameters: Any, *, many: bool) -> None:
        connection = self._connection
        async with self._adapt_connection._execute_mutex:
            result = None
            if self._adapt_connection.direct and connection._connection is not None:
                try:
                    result = _run(connection, operation, parameters, many)
                except sqlite3.OperationalError as exc:
                    if not _busy(exc):
                        raise
            if result is None:  # another writer holds the lock (or not WAL): wait for it on the thread
                waiting = _run_waiting if self._adapt_connection.direct else _run
                result = await connection._execute(waiting, connection, operation, parameters, many)
            self._description, rows, self._rowcount, self._lastrowid = result
            self._rows = collections.deque(rows or ())


class _OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("direct",)
    _cursor_cls = _OneTripCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self.direct = False  # statements run on the event loop (set by sqlite_pragmas once in WAL mode)

    def commit(self) -> None:
        """At once on the event loop in WAL mode (no checkpoint runs there: see `sqlite_pragmas`); every
        `CHECKPOINT_EVERY` commits a checkpoint on aiosqlite's thread. Otherwise on the thread."""
        connection = self._connection._connection
        if self.direct and connection is not None:
            try:
                connection.commit()
            except sqlite3.OperationalError as exc:
                if not _busy(exc):
                    raise
            else:
                if next(_COMMITS) % CHECKPOINT_EVERY == 0:
                    await_(self._connection._execute(_checkpoint, connection))
                return
        super().commit()

    def rollback(self) -> None:
        connection = self._connection._connection
        if connection is not None and not connection.in_transaction:
            return  # nothing to roll back (a unit of work that only read): no round trip
        super().rollback()


class _OneTripDbapi(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> _OneTripConnection:
        return _OneTripConnection(self, super().connect(*arg, **kw)._connection)


def dbapi() -> _OneTripDbapi:
    """The `module` for SQLAlchemy's aiosqlite dialect (create_engine's `module=`)."""
    return _OneTripDbapi(aiosqlite, sqlite3)
