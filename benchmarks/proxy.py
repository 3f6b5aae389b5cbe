"""A TCP proxy in front of PostgreSQL that can cut the database away for a while and bring it back: the faults
suite's database cut, and the delivery tests' outages (tests/delivery/outages.py)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from sqlalchemy.engine import make_url


class Proxy:
    """Forwards TCP to host:port. `cut()` resets every open connection and each new one until `restore()` (the
    network or the server gone, as the bot sees it).

    It runs its own event loop in a thread: a caller's synchronous connections (the bot's schema check, in
    process) go through it too, and a busy caller's loop does not slow the database down."""

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
            pass  # the other side went away: close this side too
        finally:
            self._open.discard(writer)
            writer.transport.abort()
