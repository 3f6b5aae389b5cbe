"""Database outages for delivery tests: a TCP proxy in front of PostgreSQL that can be cut and restored (the faults
suite's, benchmarks/proxy.py), the SQLite write lock held by another connection, and a fault that makes a Database
raise like an unreachable one."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy.exc import DBAPIError, OperationalError

from benchmarks.proxy import Proxy
from storage.db import Database, UnitOfWork

__all__ = ["CommitLost", "Proxy", "SlowPolls", "SqliteLock", "Unreachable"]


class SqliteLock:
    """Another connection holding SQLite's write lock: the bot's writers wait (and fail after its busy timeout)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._con: sqlite3.Connection | None = None

    def cut(self) -> None:
        self._con = sqlite3.connect(self.path, isolation_level=None)
        self._con.execute("BEGIN IMMEDIATE")

    def restore(self) -> None:
        if self._con is not None:
            self._con.execute("ROLLBACK")
            self._con.close()
            self._con = None


class Unreachable:
    """Makes `db` fail every unit of work the way SQLite does past its busy timeout, while `down` (fault injection
    for SQLite, where a real lock would only make the bot wait). Counts the failures."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.down = False
        self.failures = 0
        self._uow = db.uow
        db.uow = self._faulty  # type: ignore[method-assign]

    def cut(self) -> None:
        self.down = True

    def restore(self) -> None:
        self.down = False

    def _faulty(self, **kwargs: Any) -> UnitOfWork:
        if not self.down:
            return self._uow(**kwargs)
        self.failures += 1
        return _Failing(self.db)  # type: ignore[return-value]


class _Failing:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def __aenter__(self) -> None:
        await asyncio.sleep(0.01)
        raise OperationalError("BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked"))

    async def __aexit__(self, *exc: object) -> None:
        return None


class SlowPolls:
    """An HTTP forwarder in front of the Bot API stand-in that, once `slow` is set, answers getUpdates only after
    `delay` seconds (a Telegram that is slow to answer while the bot shuts down)."""

    def __init__(self, upstream: str, delay: float = 8.0) -> None:
        self.upstream = upstream.rstrip("/")
        self.delay = delay
        self.slow = False
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        self._session = aiohttp.ClientSession()

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        if self.slow and request.path.endswith("/getUpdates"):
            await asyncio.sleep(self.delay)
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("content-type",)}
        async with self._session.request(request.method, self.upstream + request.path_qs, headers=headers,
                                         data=await request.read()) as resp:
            body = await resp.read()
            return web.Response(status=resp.status, body=body, content_type=resp.content_type)


class CommitLost:
    """The connection breaks right after COMMIT reached the database: the transaction is kept, the client is told
    the connection was lost (`times` times, on write units of work)."""

    def __init__(self, db: Database, times: int = 1) -> None:
        self.left = times
        self._uow = db.uow
        db.uow = self._wrapped  # type: ignore[method-assign]

    def _wrapped(self, **kwargs: Any) -> UnitOfWork:
        uow = self._uow(**kwargs)
        if kwargs.get("write"):
            real = uow.commit

            async def commit() -> None:
                await real()
                if self.left > 0:
                    self.left -= 1
                    raise DBAPIError("COMMIT", None, ConnectionResetError("reset by peer"), connection_invalidated=True)

            uow.commit = commit  # type: ignore[method-assign]
        return uow
