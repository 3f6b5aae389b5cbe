"""The updates benchmark's load, without Linli's own modules: the bare bot's process (benchmarks/bare_process.py)
measures with it too, in a process that holds only aiogram, the stand-in and the people."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from benchmarks.common import calm
from benchmarks.echo import BUTTON
from benchmarks.load import Action, LoadResult, People, ReplyWatcher, run_load
from benchmarks.seed import add_standin_users
from bot import heap
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
                    users: Sequence[int], scale: Scale, *, settle: bool = True) -> Figures:
    """A fresh stand-in (limits off) with the people and one bot, the load, and everything stopped. `settle`: the
    process's heap set aside from the garbage collector after the bot started, as `linli run` does (bot/heap.py)."""
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
        if settle:
            heap.settle()
        try:
            return await measure(name, People(client, watcher, account), users, scale, standin)
        finally:
            await bot.stop()
    finally:
        await watcher.stop()
        await client.close()
        await standin.stop()
