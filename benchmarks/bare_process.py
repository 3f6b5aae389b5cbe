"""The bare aiogram bot in a process of its own, as people run one: aiogram, the stand-in and the people, none of
Linli's modules, and the garbage collector left as Python sets it.

`python -m benchmarks.bare_process USERS ROUNDS CONCURRENCY WARMUP ALONE` measures the updates benchmark's load
(benchmarks/updates_load.py) and prints one JSON line: per workload its wall time, latencies, errors and CPU."""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import asdict

from benchmarks.common import ECHO_TOKEN, ECHO_USERNAME, quiet_logging
from benchmarks.echo import EchoBot
from benchmarks.seed import tg_ids
from benchmarks.updates_load import Scale, bench_bot

NAME = "bare aiogram, own process"


async def measure(scale: Scale) -> str:
    figures = await bench_bot(NAME, ECHO_TOKEN, ECHO_USERNAME, lambda url: EchoBot(ECHO_TOKEN, url),
                              tg_ids(scale.users), scale, settle=False)
    return json.dumps({label: asdict(result) for label, result in figures.items()})


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bare_process")
    for name in ("users", "rounds", "concurrency", "warmup", "alone"):
        parser.add_argument(name, type=int)
    args = parser.parse_args()
    quiet_logging()
    print(asyncio.run(measure(Scale(args.users, args.rounds, args.concurrency, args.warmup, args.alone))), flush=True)


if __name__ == "__main__":
    main()
