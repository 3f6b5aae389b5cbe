"""End-to-end update throughput and latency: stand-in → bot → stand-in, Linli next to a bare bot.

Both bots get the same people and the same load: registered members write `/start` (Linli's
"welcome back" path) and `/help`, then each presses "English" on a `/lang` menu. Stand-in rate
limits are off: this measures the bots, not Telegram's limits.

The bare aiogram bot is measured twice. In this process, in turn with Linli's runs, with the heap set aside from
the garbage collector as `linli run` does (bot/heap.py): the same conditions, so the ratio is Linli's own work per
update. And in a process of its own (benchmarks/bare_process.py), as people run a bare bot: aiogram without
Linli's modules, the collector as Python sets it. (Until #11's last session the bare bot ran here with Linli's
~360,000 start-up objects in every full collection: its figures carried Linli's heap, ~2.7× on a press.)
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
from collections.abc import Callable
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
    say,
)
from benchmarks.echo import EchoBot
from benchmarks.load import LoadResult
from benchmarks.seed import seed_members, tg_ids
from benchmarks.updates_load import FULL, QUICK, WORKLOADS, BotUnderTest, Figures, Scale, bench_bot
from bot.app import LinliApp

BARE = "bare aiogram"
LINLI = ("Linli (aiogram)", "Linli (ptb)")
BOTS = (*LINLI, BARE, OWN_PROCESS)
#: full runs measure every bot this many times, in turns (see `run`); --quick once
REPEATS = 3

Runs = dict[str, list[Figures]]  # bot → its figures, one per repeat


async def run(root: Path, quick: bool) -> None:
    """Each bot is measured `REPEATS` times, in turns, the order rotated each turn (aiogram, ptb, bare, own; then
    ptb, bare, own, aiogram …): a two-core machine shared with others drifts by a third within minutes, and a ratio
    is taken between runs of the same turn, minutes apart at most. The report shows the median and the range."""
    scale = QUICK if quick else FULL
    repeats = 1 if quick else REPEATS
    databases = Databases(root)
    say(f"\n== updates: {scale.users} members, {scale.rounds} action(s) each per workload, "
        f"{scale.concurrency} people at a time, {databases.backend}, {repeats} turn(s) ==")
    runs: Runs = {bot: [] for bot in BOTS}
    for turn in range(repeats):
        shift = turn % len(BOTS)
        for bot in BOTS[shift:] + BOTS[:shift]:
            runs[bot].append(await measure_bot(bot, databases, scale, turn))
    report(runs, scale, databases.backend)


async def measure_bot(bot: str, databases: Databases, scale: Scale, turn: int) -> Figures:
    if bot == OWN_PROCESS:
        return await bare_own_process(scale)
    if bot == BARE:
        return await bench_bot(BARE, ECHO_TOKEN, ECHO_USERNAME, lambda api_url: EchoBot(ECHO_TOKEN, api_url),
                               tg_ids(scale.users), scale)
    runtime = "aiogram" if bot == LINLI[0] else "ptb"
    database_url = databases.fresh(f"updates-{runtime}-{turn}")  # each run starts from update_id 1 again
    users = await seed_members(database_url, scale.users)

    def linli(api_url: str) -> BotUnderTest:
        return LinliApp(linli_settings(database_url, api_url, runtime=runtime), run_scheduler=False)

    return await bench_bot(bot, LINLI_TOKEN, LINLI_USERNAME, linli, users, scale)


async def bare_own_process(scale: Scale) -> Figures:
    say(f"    … {OWN_PROCESS}: measuring in a child process")
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.bare_process", str(scale.users), str(scale.rounds), str(scale.concurrency),
        str(scale.warmup), str(scale.alone), stdout=asyncio.subprocess.PIPE)
    out, _ = await child.communicate()
    if child.returncode != 0:
        raise RuntimeError(f"benchmarks.bare_process ended with {child.returncode}")
    return {label: LoadResult(**fields) for label, fields in json.loads(out.decode().strip().splitlines()[-1]).items()}


def median_run(results: list[LoadResult]) -> LoadResult:
    """The run with the median updates/s (the lower middle one of an even number)."""
    return sorted(results, key=lambda r: r.per_second)[(len(results) - 1) // 2]


def span(values: list[float], fmt: Callable[[float], str]) -> str:
    return fmt(values[0]) if len(values) == 1 else f"{fmt(min(values))}–{fmt(max(values))}"


def times(value: float) -> str:
    return f"{value:.2f}×"


def paired(mine: list[LoadResult], base: list[LoadResult], measure: Callable[[LoadResult], float]) -> list[float]:
    """Ratios of runs of the same turn (none where the base measured nothing)."""
    return [measure(m) / measure(b) for m, b in zip(mine, base, strict=True) if measure(b) > 0]


def report(runs: Runs, scale: Scale, backend: str) -> None:
    turns = len(runs[BARE])
    figures = Table(
        f"updates — end to end (control API → bot → transcript), {backend}, {scale.users} members, "
        f"{scale.concurrency} people at a time, {turns} turn(s)",
        ["workload", "bot", "done", "errors", "updates/s", "range", "CPU/update", "p50", "p99", "max"],
    )
    for label in WORKLOADS:
        for bot, figs in runs.items():
            results = [f[label] for f in figs]
            r = median_run(results)
            figures.add(label, bot, r.done, sum(len(x.errors) for x in results), rate(r.per_second),
                        span([x.per_second for x in results], rate), ms(r.cpu_per_update), ms(r.p50), ms(r.p99),
                        ms(max(r.latencies, default=0.0)))
    figures.notes.append("per bot and workload the run with the median updates/s; range: the lowest and highest "
                         "updates/s of the turns; errors: of every turn")
    figures.notes.append("a press is timed until the bot's answerCallbackQuery (Linli answers it before it edits the menu)")
    figures.notes.append("CPU/update: CPU time of the bot's process (the bot, the stand-in and the people, every thread) "
                         "per update: it depends less than updates/s on what else the machine runs (not nothing: under "
                         "heavy load it grew by up to about 2×)")
    figures.notes.append(f"{BARE}: in this process, its heap set aside as Linli's; {OWN_PROCESS}: as people run one "
                         "(see the module's docstring)")
    for label in WORKLOADS:
        for bot, figs in runs.items():
            errors = [e for f in figs for e in f[label].errors]
            if errors:
                figures.notes.append(f"{bot} {label}: {len(errors)} error(s), the first: {errors[0]}")
    figures.print()
    ratios = Table(f"updates — each Linli runtime / {BARE} (same process) and / {OWN_PROCESS}, runs of the same turn",
                   ["workload", "runtime", "updates/s", "range", "CPU/update", "p50 latency", "p99 latency",
                    "updates/s, own", "range, own"])
    for label in WORKLOADS:
        for bot in LINLI:
            mine = [f[label] for f in runs[bot]]
            base = [f[label] for f in runs[BARE]]
            own = [f[label] for f in runs[OWN_PROCESS]]
            speed = paired(mine, base, lambda r: r.per_second)
            speed_own = paired(mine, own, lambda r: r.per_second)
            ratios.add(label, bot, *_median_and_span(speed), _median(paired(mine, base, lambda r: r.cpu_per_update)),
                       _median(paired(mine, base, lambda r: r.p50)), _median(paired(mine, base, lambda r: r.p99)),
                       *_median_and_span(speed_own))
    ratios.notes.append("each figure the median of the turns' ratios (range: the lowest and the highest); throughput "
                        "below 1× and CPU or latency above 1× is the cost of Linli's work per update; the last columns "
                        f"are Linli's updates/s over those of {OWN_PROCESS}")
    ratios.print()


def _median(values: list[float]) -> str:
    return times(statistics.median(values)) if values else "n/a"


def _median_and_span(values: list[float]) -> tuple[str, str]:
    return (_median(values), span(values, times) if values else "n/a")
