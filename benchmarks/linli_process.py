"""`linli run` in a process of its own (to kill -9 and restart). Used by the faults suite."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

from benchmarks.common import LINLI_TOKEN, SECRET_KEY

ROOT = Path(__file__).resolve().parents[1]
READY = "Linli is running"


class LinliProcess:
    """`python -m linli_cli run` against the stand-in; its log goes to `log`. `settings` are LINLI_* values."""

    def __init__(self, database_url: str, api_url: str, log: Path, **settings: object) -> None:
        self.log = log
        env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
        env.update(LINLI_DATABASE_URL=database_url, LINLI_BOT_TOKEN=LINLI_TOKEN, LINLI_BOT_API_URL=api_url,
                   LINLI_SECRET_KEY=SECRET_KEY, LINLI_LOG_LEVEL="INFO",
                   LINLI_WEB_BOARD="false")  # several at once: the board's port would be taken by the first
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
