"""Which errors mean "the database cannot be reached now" (retry later) and which are a bug or a conflict.

An update whose transaction fails because the database is away (a cut connection, a restarting server,
SQLite's write lock held past the busy timeout) is handled again once it is back; nothing is lost. Any
other error (a constraint, a missing table, bad SQL) would fail the same way again: it is not retried."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

from sqlalchemy import exc as sa

try:  # PostgreSQL's driver; absent in a SQLite-only install
    from asyncpg import exceptions as pg
except ImportError:  # pragma: no cover
    pg = None  # type: ignore[assignment]

#: SQLite's words for "cannot get at the file now" (not for "no such table" or a bad statement)
_SQLITE_AWAY = ("database is locked", "database is busy", "unable to open database file", "disk i/o error")
#: asyncpg's words for a connection that is gone
_PG_CLOSED = ("connection is closed", "connection was closed", "connection has been released")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The error, the driver error it wraps, and what caused them (each once)."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        e = todo.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo.extend(x for x in (getattr(e, "orig", None), e.__cause__, e.__context__)
                    if isinstance(x, BaseException))


def _pg_away(e: BaseException) -> bool:
    if pg is None:  # pragma: no cover
        return False
    if isinstance(e, (pg.PostgresConnectionError, pg.CannotConnectNowError, pg.TooManyConnectionsError,
                      pg.AdminShutdownError, pg.CrashShutdownError)):
        return True  # ConnectionDoesNotExistError is a PostgresConnectionError
    return isinstance(e, pg.InterfaceError) and any(w in str(e).lower() for w in _PG_CLOSED)


def unreachable(exc: BaseException) -> bool:
    """True when `exc` says the database cannot be reached for now, so the same work may well succeed later."""
    for e in _chain(exc):
        if isinstance(e, sa.DBAPIError) and e.connection_invalidated:
            return True
        if isinstance(e, sa.TimeoutError):  # no pooled connection came free: the server hangs
            return True
        if isinstance(e, OSError):  # refused, reset, unreachable host, connect timeout (TimeoutError is one)
            return True
        if isinstance(e, sqlite3.OperationalError) and any(w in str(e).lower() for w in _SQLITE_AWAY):
            return True
        if _pg_away(e):
            return True
    return False
