"""End-to-end update throughput and latency: stand-in → bot → stand-in, Linli next to a bare bot.

Both bots get the same people and the same load: registered members write `/start` (Linli's
"welcome back" path) and `/help`, then each presses "English" on a `/lang` menu. Stand-in rate
limits are off: this measures the bots, not Telegram's limits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from benchmarks.common import (
    ECHO_TOKEN,
    ECHO_USERNAME,
    LINLI_TOKEN,
    LINLI_USERNAME,
    Databases,
    Table,
    calm,
    linli_settings,
    ms,
    rate,
    ratio,
    say,
)
from benchmarks.echo import BUTTON, EchoBot
from benchmarks.load import Action, LoadResult, People, ReplyWatcher, run_load
from benchmarks.seed import add_standin_users, seed_members
from bot import heap
from bot.app import LinliApp
from bot.standin.client import StandInClient
from bot.standin.limits import RateLimits
from bot.standin.server import StandIn

MESSAGES = [("/start (welcome back)", "/start"), ("/help", "/help")]
MENU = "/lang"
PRESS = f"button press ({MENU} → {BUTTON})"
ALONE = "/help, one person at a time"
WORKLOADS = [ALONE] + [label for label, _ in MESSAGES] + [PRESS]


@dataclass(frozen=True)
class Scale:
    users: int
    rounds: int  # actions per person and workload
    concurrency: int
    warmup: int  # people who write once before anything is measured
    alone: int  # people who write one after the other (latency without contention)


FULL = Scale(users=300, rounds=2, concurrency=50, warmup=50, alone=100)
QUICK = Scale(users=60, rounds=1, concurrency=20, warmup=20, alone=20)

Figures = dict[str, LoadResult]


def write_action(people: People, text: str) -> Action:
    async def act(tg_id: int, _round: int) -> float:
        latency, _ = await people.write(tg_id, text)
        return latency

    return act


async def open_menus(people: People, users: Sequence[int], scale: Scale, name: str) -> dict[int, list[int]]:
    """Every person asks for `rounds` menus (not measured); message ids by person."""
    menus: dict[int, list[int]] = {tg_id: [] for tg_id in users}

    async def ask(tg_id: int, _round: int) -> float:
        latency, message_id = await people.write(tg_id, MENU)
        menus[tg_id].append(message_id)
        return latency

    await run_load(f"{name}: opening {MENU} menus", users, ask, concurrency=scale.concurrency, rounds=scale.rounds)
    return menus


def press_action(people: People, menus: dict[int, list[int]]) -> Action:
    async def act(tg_id: int, round_no: int) -> float:
        return await people.press(tg_id, menus[tg_id][round_no], BUTTON)

    return act


async def measure(name: str, people: People, users: Sequence[int], scale: Scale, standin: StandIn) -> Figures:
    await run_load(f"{name}: warm-up", users[:scale.warmup], write_action(people, "/help"),
                   concurrency=scale.concurrency)
    figures: Figures = {}
    await calm(standin)
    figures[ALONE] = await run_load(f"{name} {ALONE}", users[:scale.alone], write_action(people, "/help"),
                                    concurrency=1)
    for label, text in MESSAGES:
        await calm(standin)
        figures[label] = await run_load(f"{name} {label}", users, write_action(people, text),
                                        concurrency=scale.concurrency, rounds=scale.rounds)
    await calm(standin)
    menus = await open_menus(people, users, scale, name)
    await calm(standin)
    figures[PRESS] = await run_load(f"{name} {PRESS}", users, press_action(people, menus),
                                    concurrency=scale.concurrency, rounds=scale.rounds)
    await calm(standin)
    return figures


class BotUnderTest(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


async def bench_bot(name: str, token: str, username: str, make_bot: Callable[[str], BotUnderTest],
                    users: Sequence[int], scale: Scale) -> Figures:
    """A fresh stand-in (limits off) with the people and one bot, the load, and everything stopped."""
    standin = StandIn(limits=RateLimits(enabled=False))
    await standin.start()
    client = StandInClient(standin.url)
    watcher = ReplyWatcher(standin.world)
    try:
        account = standin.create_bot(token, username, name)
        add_standin_users(standin, users)
        watcher.start()
        bot = make_bot(standin.url)
        await bot.start()
        heap.settle()  # as `linli run` does after its start (bot/heap.py); for the bare bot too
        try:
            return await measure(name, People(client, watcher, account), users, scale, standin)
        finally:
            await bot.stop()
    finally:
        await watcher.stop()
        await client.close()
        await standin.stop()


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

    results["bare aiogram"] = await bench_bot("bare aiogram", ECHO_TOKEN, ECHO_USERNAME, bare, users, scale)
    report(results, scale, databases.backend)


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
    figures.notes.append("CPU/update: CPU time of this process (the bot, the stand-in and the people, every thread) per "
                         "update: it depends less than updates/s on what else the machine runs (not nothing: under heavy "
                         "load it grew by up to about 2×)")
    for label in WORKLOADS:
        for bot, figs in results.items():
            if figs[label].errors:
                figures.notes.append(f"{bot} {label}: first error: {figs[label].errors[0]}")
    figures.print()
    base = results["bare aiogram"]
    ratios = Table("updates — each Linli runtime / bare aiogram",
                   ["workload", "runtime", "updates/s", "CPU/update", "p50 latency", "p99 latency"])
    for label in WORKLOADS:
        for bot, figs in results.items():
            if bot == "bare aiogram":
                continue
            mine = figs[label]
            ratios.add(label, bot, ratio(mine.per_second, base[label].per_second),
                       ratio(mine.cpu_per_update, base[label].cpu_per_update), ratio(mine.p50, base[label].p50),
                       ratio(mine.p99, base[label].p99))
    ratios.notes.append("throughput below 1× and CPU or latency above 1× is the cost of Linli's work per update")
    ratios.print()
