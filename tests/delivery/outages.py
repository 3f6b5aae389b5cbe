"""Database outages for delivery tests: a TCP proxy in front of PostgreSQL that can be cut and restored, the
SQLite write lock held by another connection, and a fault that makes a Database raise like an unreachable one."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from storage.db import Database, UnitOfWork


class Proxy:
    """Forwards TCP to host:port. `cut()` resets every open connection and each new one until `restore()`.

    It runs its own event loop in a thread: the bot's synchronous schema check connects through it too."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.listen_port = 0
        self.down = False
        self._open: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    @classmethod
    async def before(cls, url: str) -> tuple[Proxy, str]:
        """A started proxy in front of the database of `url`, and the URL that goes through it."""
        parsed = make_url(url)
        proxy = cls(parsed.host or "127.0.0.1", parsed.port or 5432)
        proxy.start()
        return proxy, parsed.set(host="127.0.0.1", port=proxy.listen_port).render_as_string(hide_password=False)

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    def start(self) -> None:
        self._thread.start()
        self._server = self._run(asyncio.start_server(self._accept, "127.0.0.1", 0))
        self.listen_port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self.cut()

        async def close() -> None:
            assert self._server is not None
            self._server.close()
            await self._server.wait_closed()

        self._run(close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def cut(self) -> None:
        async def cut() -> None:
            self.down = True
            for writer in list(self._open):
                writer.transport.abort()  # an RST, as when the network or the server goes away
            self._open.clear()

        self._run(cut())

    def restore(self) -> None:
        self.down = False

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.down:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.port)
        except OSError:
            writer.transport.abort()
            return
        self._open.update((writer, up_writer))
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._open.discard(writer)
            writer.transport.abort()


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
