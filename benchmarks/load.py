"""The load generator shared by every bot under test.

Simulated people act through the stand-in's control API over HTTP, as a test would. A reply is
timed when it appears in the stand-in's in-process transcript (`ReplyWatcher` follows the
change log and wakes on every change, so there is no polling delay in the figures); a button
press is timed by the `/_control/taps` call itself, which returns once the bot answered the
callback query.

`run_load` is a closed loop: `concurrency` workers, each owning a disjoint share of the people,
so one person never has two actions in flight.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import aiohttp

from benchmarks.common import percentile, progress
from bot.standin.client import ControlError, StandInClient
from bot.standin.state import BotAccount, World

ChatKey = tuple[int, int]
#: one action of one person: (telegram user id, round) → seconds it took
Action = Callable[[int, int], Awaitable[float]]
ACTION_ERRORS = (TimeoutError, ControlError, aiohttp.ClientError, LookupError)


@dataclass(frozen=True)
class SeenReply:
    message_id: int
    seen_at: float  # time.perf_counter() when it appeared in the transcript


class ReplyWatcher:
    """Resolves a future when the bot posts a new message in a chat someone waits on."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._waiting: dict[ChatKey, asyncio.Future[SeenReply]] = {}
        self._cursor = world.seq
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._cursor = self.world.seq
        self._task = asyncio.create_task(self._follow(), name="reply-watcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def expect(self, chat: ChatKey) -> asyncio.Future[SeenReply]:
        future: asyncio.Future[SeenReply] = asyncio.get_running_loop().create_future()
        self._waiting[chat] = future
        return future

    def forget(self, chat: ChatKey) -> None:
        self._waiting.pop(chat, None)

    async def _follow(self) -> None:
        while True:
            # scanning and re-arming happen without an await in between, so no change is missed
            await self.world.changed.wait(60.0)
            self._scan()

    def _scan(self) -> None:
        now = time.perf_counter()
        for msg in self.world.changed_since(self._cursor):
            if not msg.is_bot or msg.kind == "service" or msg.edit_date is not None:
                continue
            future = self._waiting.pop(msg.chat.key, None)
            if future is not None and not future.done():
                future.set_result(SeenReply(msg.message_id, now))
        self._cursor = self.world.seq


class People:
    """What a simulated person does to one bot: write to it, or press one of its buttons."""

    def __init__(self, client: StandInClient, watcher: ReplyWatcher, bot: BotAccount,
                 timeout: float = 15.0) -> None:
        self.client = client
        self.watcher = watcher
        self.bot = bot
        self.timeout = timeout

    async def write(self, tg_id: int, text: str) -> tuple[float, int]:
        """Send `text` in the private chat; (seconds until the bot's reply, reply message id)."""
        chat: ChatKey = (self.bot.id, tg_id)
        reply = self.watcher.expect(chat)
        started = time.perf_counter()
        try:
            await self.client.send(tg_id, text, bot=self.bot.user.username)
            seen = await asyncio.wait_for(reply, self.timeout)
        finally:
            self.watcher.forget(chat)
        return seen.seen_at - started, seen.message_id

    async def press(self, tg_id: int, message_id: int, button: str) -> float:
        """Tap `button` on the bot's message; seconds until the bot answered the callback query."""
        started = time.perf_counter()
        result = await self.client.tap(tg_id, tg_id, message_id, text=button, wait=self.timeout)
        elapsed = time.perf_counter() - started
        if result.get("answer") is None:
            raise TimeoutError(f"no answerCallbackQuery within {self.timeout:.0f} s")
        return elapsed


@dataclass
class LoadResult:
    name: str
    wall: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    cpu: float = 0.0  # CPU seconds of this process meanwhile (every thread: bot, stand-in and the people together)

    @property
    def done(self) -> int:
        return len(self.latencies)

    @property
    def per_second(self) -> float:
        return self.done / self.wall if self.wall > 0 else 0.0

    @property
    def cpu_per_update(self) -> float:
        return self.cpu / self.done if self.done else 0.0

    @property
    def p50(self) -> float:
        return percentile(self.latencies, 50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies, 99)


async def run_load(name: str, users: Sequence[int], action: Action, *, concurrency: int,
                   rounds: int = 1) -> LoadResult:
    """Every person does `rounds` actions, `concurrency` people at a time."""
    result = LoadResult(name)
    total = len(users) * rounds

    async def worker(mine: Sequence[int]) -> None:
        for round_no in range(rounds):
            for tg_id in mine:
                try:
                    result.latencies.append(await action(tg_id, round_no))
                except ACTION_ERRORS as exc:
                    result.errors.append(f"{type(exc).__name__}: {exc}")

    shares = [users[k::concurrency] for k in range(min(concurrency, len(users)))]
    started, cpu = time.perf_counter(), time.process_time()
    async with progress(name, lambda: f"{result.done + len(result.errors)}/{total}"):
        await asyncio.gather(*(worker(share) for share in shares))
    result.wall = time.perf_counter() - started
    result.cpu = time.process_time() - cpu
    return result
