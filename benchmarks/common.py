"""What every suite shares: databases, bot settings, percentiles, tables and progress lines."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the bare bot's process (benchmarks/bare_process.py) imports this module without Linli's own
    from bot.config import Settings
    from bot.standin.server import StandIn

DATABASE_ENV = "LINLI_BENCH_DATABASE_URL"
SECRET_KEY = "bench-secret-key-0123456789abcdef"
LINLI_TOKEN = "7100000001:BENCH-linli-token"
ECHO_TOKEN = "7100000002:BENCH-echo-token"
LINLI_USERNAME = "linli_bench_bot"
ECHO_USERNAME = "echo_bench_bot"


# ---------------------------------------------------------------------- output


def say(line: str = "") -> None:
    print(line, flush=True)


def quiet_logging() -> None:
    """Warnings and errors only: aiogram logs every handled update at INFO."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger().setLevel(logging.WARNING)


@dataclass
class Table:
    """A plain-text table: the first column is left-aligned, the others right-aligned."""

    title: str
    columns: Sequence[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        self.rows.append([str(c) for c in cells])

    def render(self) -> str:
        widths = [len(c) for c in self.columns]
        for row in self.rows:
            widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

        def line(cells: Sequence[str]) -> str:
            first, *rest = cells
            out = [first.ljust(widths[0])] + [c.rjust(w) for c, w in zip(rest, widths[1:], strict=True)]
            return "  " + "  ".join(out).rstrip()

        rule = "  " + "  ".join("-" * w for w in widths)
        parts = [f"\n{self.title}", line(list(self.columns)), rule, *(line(r) for r in self.rows)]
        parts += [f"  {n}" for n in self.notes]
        return "\n".join(parts)

    def print(self) -> None:
        say(self.render())


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def rate(per_second: float) -> str:
    return f"{per_second:,.0f}/s"


def ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}×" if base > 0 else "n/a"


def mib(n_bytes: int) -> str:
    return f"{n_bytes / 2**20:.1f} MiB"


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), nearest rank; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@asynccontextmanager
async def progress(label: str, status: Callable[[], str], every: float = 2.0) -> AsyncIterator[None]:
    """Print `label: status()` every `every` seconds while the block runs (nothing if it is quick)."""

    async def report() -> None:
        started = time.monotonic()
        while True:
            await asyncio.sleep(every)
            say(f"    … {label}: {status()} ({time.monotonic() - started:.0f} s)")

    task = asyncio.create_task(report(), name=f"progress:{label}")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def calm(standin: StandIn, quiet_ms: float = 100) -> None:
    """Wait until the stand-in has no update queued and no call came for `quiet_ms`."""
    if not await standin.settle(quiet_ms=quiet_ms, timeout=10):
        say("    (the stand-in did not go quiet within 10 s; measuring anyway)")


@contextmanager
def timed() -> Iterator[Callable[[], float]]:
    """`with timed() as elapsed: ...; elapsed()` gives seconds since the block began."""
    started = time.perf_counter()
    yield lambda: time.perf_counter() - started


# ---------------------------------------------------------------------- databases and settings


class Databases:
    """Fresh, migrated databases: SQLite files under `root`, or the one in LINLI_BENCH_DATABASE_URL
    (emptied before each use, so point it at a throw-away PostgreSQL database)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.override = os.environ.get(DATABASE_ENV, "")

    @property
    def backend(self) -> str:
        from storage.db import is_sqlite

        url = self.override or "sqlite://"
        return "SQLite" if is_sqlite(url) else url.split(":", 1)[0]

    def fresh(self, name: str) -> str:
        from storage.migrate import upgrade

        if self.override:
            url = self.override
            _empty(url)
        else:
            url = f"sqlite+aiosqlite:///{self.root / name}.db"
        upgrade(url)
        return url


def _empty(url: str) -> None:
    from sqlalchemy import create_engine, text

    from storage.db import is_sqlite
    from storage.migrate import sync_url

    engine = create_engine(sync_url(url))
    try:
        with engine.begin() as conn:
            if is_sqlite(url):
                names = conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'")).scalars().all()
                for name in names:
                    conn.execute(text(f'DROP TABLE IF EXISTS "{name}"'))
            else:
                conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


def linli_settings(database_url: str, api_url: str, runtime: str = "aiogram", **extra: Any) -> Settings:
    from bot.config import Settings

    return Settings(  # type: ignore[call-arg]
        _env_file=None, bot_token=LINLI_TOKEN, bot_api_url=api_url, database_url=database_url,
        secret_key=SECRET_KEY, runtime=runtime, **extra,
    )
