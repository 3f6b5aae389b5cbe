"""The async engine and the unit of work.

One URL setting chooses the database: `sqlite+aiosqlite:///path` (default) or
`postgresql+asyncpg://…`. A plain `sqlite:///` or `postgresql://` URL is upgraded to the async
driver."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.sqlite import dbapi, sqlite_pragmas


def async_url(url: str) -> str:
    """Return the URL with the async driver this project uses."""
    u = make_url(url)
    if u.drivername in ("sqlite", "sqlite+pysqlite"):
        u = u.set(drivername="sqlite+aiosqlite")
    elif u.drivername in ("postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"):
        u = u.set(drivername="postgresql+asyncpg")
    return u.render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


class Database:
    """Holds one engine and its session factory; create one per process (never a global)."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10) -> None:
        self.url = async_url(url)
        kwargs: dict[str, Any] = {"echo": echo}
        if is_sqlite(self.url):
            database = make_url(self.url).database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            # a unit of work ends its transaction itself (commit, or the rollback of Session.close): the pool's
            # own rollback on return was a second, empty one, a round trip to aiosqlite's thread per transaction
            # (held inside the write lock)
            kwargs["pool_reset_on_return"] = None
            kwargs["module"] = dbapi()  # statements run at once or in one trip to aiosqlite's thread
        else:
            kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if is_sqlite(self.url):
            event.listen(self.engine.sync_engine, "connect", sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, class_=AsyncSession)
        # SQLite lets one writer in at a time and makes the others poll with growing sleeps; within
        # this process, writers queue here instead, first come first served.
        self.write_lock: asyncio.Lock | None = asyncio.Lock() if is_sqlite(self.url) else None

    def uow(self, *, write: bool = False, opens_with_write: bool = False) -> UnitOfWork:
        """A unit of work; `write=True` when it will change data (queues writers on SQLite).
        `opens_with_write`: its first statement is an INSERT, UPDATE or DELETE (see UnitOfWork)."""
        return UnitOfWork(self, write=write, opens_with_write=opens_with_write)

    async def dispose(self) -> None:
        await self.engine.dispose()


class UnitOfWork:
    """One transaction. Rolls back on leaving unless `commit()` was called.

    Usage::

        async with db.uow() as uow:
            uow.session.add(row)
            await uow.commit()
    """

    def __init__(self, db: Database, *, write: bool = False, opens_with_write: bool = False) -> None:
        self._db = db
        self._lock = db.write_lock if write else None
        # SQLite: a transaction whose first statement writes takes the write lock with that statement (the
        # driver begins it just before), waiting up to busy_timeout like BEGIN IMMEDIATE; no read came first,
        # so there is no stale snapshot to fail on, and the explicit BEGIN (a round trip) is not needed
        self._begin = write and not opens_with_write
        self.session: AsyncSession
        self._committed = False

    async def __aenter__(self) -> UnitOfWork:
        if self._lock is not None:
            await self._lock.acquire()
        self.session = self._db.sessions()
        self._committed = False
        if self._lock is not None and self._begin:
            try:
                await self._begin_immediate()
            except BaseException:
                await self.session.close()
                self._lock.release()
                raise
        return self

    async def _begin_immediate(self) -> None:
        """Take SQLite's write lock at the start (waiting up to busy_timeout for it).

        A deferred transaction that reads first and writes later fails at once with "database is
        locked" when another process (the `linli` command while the bot runs) committed in
        between: its snapshot is stale and waiting cannot help. Taking the lock first makes such
        a writer wait for its turn instead."""
        connection = await self.session.connection()
        await connection.exec_driver_sql("BEGIN IMMEDIATE")

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() rolls back whatever was not committed and detaches the objects without
        # expiring them, so what a read-only unit of work loaded stays readable afterwards.
        try:
            await self.session.close()
        finally:
            if self._lock is not None:
                self._lock.release()

    async def commit(self) -> None:
        await self.session.commit()
        self._committed = True

    async def flush(self) -> None:
        await self.session.flush()


def insert_ignoring(uow: UnitOfWork, table: Any, index_elements: list[str]) -> Any:
    """`INSERT … ON CONFLICT (index_elements) DO NOTHING` for this unit of work's database; add
    `.values(...)`. The result's rowcount says how many rows went in."""
    dialect = uow.session.bind.dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return insert(table).on_conflict_do_nothing(index_elements=index_elements)
