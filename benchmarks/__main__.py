"""`python -m benchmarks [updates|outbox|memory|checkins|ladder|requests|meeting|ballot|board|faults|web|exports|imports|visits|micro|property|all] [--quick] [--pg URL]`."""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from benchmarks import (
    ballot,
    board,
    checkins,
    exports,
    faults,
    imports,
    ladder,
    meeting,
    memory,
    micro,
    outbox,
    property,
    requests,
    updates,
    visits,
    web,
)
from benchmarks.common import DATABASE_ENV, quiet_logging, say

Suite = Callable[[Path, bool], Awaitable[None]]
SUITES: dict[str, Suite] = {"updates": updates.run, "outbox": outbox.run, "memory": memory.run,
                         "checkins": checkins.run, "ladder": ladder.run, "requests": requests.run, "meeting": meeting.run,
                         "ballot": ballot.run, "board": board.run, "faults": faults.run, "web": web.run,
                         "exports": exports.run, "imports": imports.run, "visits": visits.run,
                         "micro": micro.run, "property": property.run}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=f"Linli benchmarks against the local Bot API stand-in (SQLite in a temporary "
                    f"directory unless {DATABASE_ENV} names another database, which is emptied).",
    )
    parser.add_argument("suite", nargs="?", default="all", choices=[*SUITES, "all"])
    parser.add_argument("--quick", action="store_true", help="smaller runs (a smoke test of the harness)")
    parser.add_argument("--pg", metavar="URL", default="",
                        help="a PostgreSQL server for the ballot and faults suites, to compare with SQLite (a throw-away "
                             "database is made on it; default LINLI_TEST_POSTGRES_URL)")
    return parser.parse_args(argv)


async def run(names: list[str], quick: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="linli-bench-") as tmp:
        for name in names:
            started = time.monotonic()
            await SUITES[name](Path(tmp), quick)
            say(f"\n({name} took {time.monotonic() - started:.0f} s)")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    quiet_logging()
    if args.pg:
        os.environ[ballot.PG_ENV] = args.pg
    names = list(SUITES) if args.suite == "all" else [args.suite]
    asyncio.run(run(names, args.quick))


if __name__ == "__main__":
    main()
