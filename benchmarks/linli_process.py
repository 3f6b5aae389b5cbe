"""`linli run` in a process of its own (to kill -9 and restart), and a TCP proxy in front of PostgreSQL that can
cut the database away for a while. Used by the faults suite."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

from sqlalchemy.engine import make_url

from benchmarks.common import LINLI_TOKEN, SECRET_KEY

ROOT = Path(__file__).resolve().parents[1]
READY = "Linli is running"


class LinliProcess:
    """`python -m linli_cli run` against the stand-in; its log goes to `log`. `settings` are LINLI_* values."""

    def __init__(self, database_url: str, api_url: str, log: Path, **settings: object) -> None:
        self.log = log
        env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
        env.update(LINLI_DATABASE_URL=database_url, LINLI_BOT_TOKEN=LINLI_TOKEN, LINLI_BOT_API_URL=api_url,
                   LINLI_SECRET_KEY=SECRET_KEY, LINLI_LOG_LEVEL="INFO")
        env.update({f"LINLI_{k.upper()}": str(v) for k, v in settings.items()})
        self.env = env
        self.proc: asyncio.subprocess.Process | None = None
        self.started_at = 0.0
        self._offset = 0  # where this life's log begins

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self, timeout: float = 60.0) -> None:
        """Start and wait until it polls (its log says so)."""
        offset = self._offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "linli_cli", "run", cwd=ROOT, env=self.env,
                stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out)
        self.started_at = time.monotonic()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.log.open("rb") as f:
                f.seek(offset)
                if READY.encode() in f.read():
                    return
            if self.proc.returncode is not None:
                raise RuntimeError(f"linli run ended with {self.proc.returncode}; see {self.log}")
            await asyncio.sleep(0.05)
        raise TimeoutError(f"linli run did not start within {timeout:.0f} s; see {self.log}")

    def logged(self, text: str) -> bool:
        """Whether this life of the process logged `text`."""
        with self.log.open("rb") as f:
            f.seek(self._offset)
            return text.encode() in f.read()

    async def kill(self) -> None:
        """kill -9: no cleanup of any kind."""
        if self.alive:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()

    async def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM (a service manager's stop), then kill -9 if it hangs."""
        if not self.alive:
            return
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            await self.kill()


class DbProxy:
    """Forwards TCP to the database server of a URL; `cut()` resets every connection and refuses new ones until
    `restore()` (the network or the server gone, as the bot sees it)."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.host, self.port = parsed.host or "127.0.0.1", parsed.port or 5432
        self._parsed = parsed
        self.down = False
        self._open: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self.url = ""

    async def start(self) -> str:
        """Listen on a free port; the URL that goes through the proxy."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = self._parsed.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
        return self.url

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def cut(self) -> None:
        self.down = True
        for writer in list(self._open):
            writer.transport.abort()  # a reset, as when the network goes away
        self._open.clear()

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
                if self.down:
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass  # the other side went away: close this side too
        finally:
            self._open.discard(writer)
            writer.transport.abort()
