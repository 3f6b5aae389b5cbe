"""A Linli bot in a process of its own (the memory benchmark measures this process).

`python -m benchmarks.bot_process DATABASE_URL API_URL` starts the bot (aiogram runtime,
outbox sender, no scheduler), prints READY when it polls, and stops when stdin is closed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from benchmarks.common import linli_settings, quiet_logging
from bot import heap
from bot.app import LinliApp

READY = "READY"


async def serve(database_url: str, api_url: str) -> None:
    app = LinliApp(linli_settings(database_url, api_url), run_scheduler=False)
    await app.start()
    heap.settle()  # as `linli run` does (bot/heap.py)
    try:
        print(READY, flush=True)
        await asyncio.to_thread(sys.stdin.read)  # returns when the parent closes our stdin
    finally:
        await app.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bot_process")
    parser.add_argument("database_url")
    parser.add_argument("api_url")
    args = parser.parse_args()
    quiet_logging()
    asyncio.run(serve(args.database_url, args.api_url))


if __name__ == "__main__":
    main()
