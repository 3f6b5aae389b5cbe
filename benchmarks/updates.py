"""End-to-end update throughput and latency: stand-in → bot → stand-in, Linli next to a bare bot.

Both bots get the same people and the same load: registered members write `/start` (Linli's
"welcome back" path) and `/help`, then each presses "English" on a `/lang` menu. Stand-in rate
limits are off: this measures the bots, not Telegram's limits.

The bare aiogram bot is measured twice. In this process, after Linli's runs, with the heap set aside from the
garbage collector as `linli run` does (bot/heap.py): the same conditions, so the ratio is Linli's own work per
update. And in a process of its own (benchmarks/bare_process.py), as people run a bare bot: aiogram without
Linli's modules, the collector as Python sets it. (Until #11's last session the bare bot ran here with Linli's
~360,000 start-up objects in every full collection: its figures carried Linli's heap, ~2.7× on a press.)
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from benchmarks.bare_process import NAME as OWN_PROCESS
from benchmarks.common import (
    ECHO_TOKEN,
    ECHO_USERNAME,
    LINLI_TOKEN,
    LINLI_USERNAME,
    Databases,
    Table,
    linli_settings,
    ms,
    rate,
    ratio,
    say,
)
from benchmarks.echo import EchoBot
from benchmarks.load import LoadResult
from benchmarks.seed import seed_members
from benchmarks.updates_load import FULL, QUICK, WORKLOADS, BotUnderTest, Figures, Scale, bench_bot
from bot.app import LinliApp

BARE = "bare aiogram"


async def run(root: Path, quick: bool) -> None:
    scale = QUICK if quick else FULL
    databases = Databases(root)
    say(f"\n== updates: {scale.users} members, {scale.rounds} action(s) each per workload, "
        f"{scale.concurrency} people at a time, {databases.backend} ==")
    results: dict[str, Figures] = {}
    for runtime in ("aiogram", "ptb"):
        database_url = databases.fresh(f"updates-{runtime}")  # each run starts from update_id 1 again
        users = await seed_members(database_url, scale.users)

        def linli(api_url: str, url: str = database_url, rt: str = runtime) -> BotUnderTest:
            return LinliApp(linli_settings(url, api_url, runtime=rt), run_scheduler=False)

        name = f"Linli ({runtime})"
        results[name] = await bench_bot(name, LINLI_TOKEN, LINLI_USERNAME, linli, users, scale)

    def bare(api_url: str) -> BotUnderTest:
        return EchoBot(ECHO_TOKEN, api_url)

    results[BARE] = await bench_bot(BARE, ECHO_TOKEN, ECHO_USERNAME, bare, users, scale)
    results[OWN_PROCESS] = await bare_own_process(scale)
    report(results, scale, databases.backend)


async def bare_own_process(scale: Scale) -> Figures:
    say(f"    … {OWN_PROCESS}: measuring in a child process")
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.bare_process", str(scale.users), str(scale.rounds), str(scale.concurrency),
        str(scale.warmup), str(scale.alone), stdout=asyncio.subprocess.PIPE)
    out, _ = await child.communicate()
    if child.returncode != 0:
        raise RuntimeError(f"benchmarks.bare_process ended with {child.returncode}")
    return {label: LoadResult(**fields) for label, fields in json.loads(out.decode().strip().splitlines()[-1]).items()}


def report(results: dict[str, Figures], scale: Scale, backend: str) -> None:
    figures = Table(
        f"updates — end to end (control API → bot → transcript), {backend}, {scale.users} members, "
        f"{scale.concurrency} people at a time",
        ["workload", "bot", "done", "errors", "updates/s", "CPU/update", "p50", "p99", "max"],
    )
    for label in WORKLOADS:
        for bot, figs in results.items():
            r = figs[label]
            figures.add(label, bot, r.done, len(r.errors), rate(r.per_second), ms(r.cpu_per_update), ms(r.p50),
                        ms(r.p99), ms(max(r.latencies, default=0.0)))
    figures.notes.append("a press is timed until the bot's answerCallbackQuery (Linli answers it before it edits the menu)")
    figures.notes.append("CPU/update: CPU time of the bot's process (the bot, the stand-in and the people, every thread) "
                         "per update: it depends less than updates/s on what else the machine runs (not nothing: under "
                         "heavy load it grew by up to about 2×)")
    figures.notes.append(f"{BARE}: in this process, its heap set aside as Linli's; {OWN_PROCESS}: as people run one "
                         "(see the module's docstring)")
    for label in WORKLOADS:
        for bot, figs in results.items():
            if figs[label].errors:
                figures.notes.append(f"{bot} {label}: first error: {figs[label].errors[0]}")
    figures.print()
    base, own = results[BARE], results[OWN_PROCESS]
    ratios = Table(f"updates — each Linli runtime / {BARE} (same process) and / {OWN_PROCESS}",
                   ["workload", "runtime", "updates/s", "CPU/update", "p50 latency", "p99 latency",
                    "updates/s, own"])
    for label in WORKLOADS:
        for bot, figs in results.items():
            if bot in (BARE, OWN_PROCESS):
                continue
            mine = figs[label]
            ratios.add(label, bot, ratio(mine.per_second, base[label].per_second),
                       ratio(mine.cpu_per_update, base[label].cpu_per_update), ratio(mine.p50, base[label].p50),
                       ratio(mine.p99, base[label].p99), ratio(mine.per_second, own[label].per_second))
    ratios.notes.append("throughput below 1× and CPU or latency above 1× is the cost of Linli's work per update; "
                        f"the last column is Linli's updates/s over those of {OWN_PROCESS}")
    ratios.print()
