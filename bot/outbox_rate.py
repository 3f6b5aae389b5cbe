"""The outbox sender's rate limits: token buckets overall, per chat and per group.

Overall (`Pacer`): a call every 1/rate seconds on a fixed schedule, never two at once, however long the sender
was idle (Telegram counts its 30/s over short windows: a burst of even three after a pause earned 429s). A call
that starts a little late (a sleep overshoots by the event loop's latency: 1–5 ms on a busy machine, against
33 ms between calls) keeps the schedule, so the lateness is made up by the next wait instead of being lost on
every call (a bucket of capacity 1 lost it: 90 % of 30/s on a loaded machine). Over any window of W seconds
at most (W + 1/(2·rate))·rate + 1 calls start: at 30/s, 31 in a second, as with the bucket. Per chat: 1/s, capacity 1. Per group: 20/min, of which the sender takes only three quarters
(the rest is left to the direct replies the bot sends at once, so a group's notices never use up the budget
its people's commands are answered from). A 429 pauses that chat for `retry_after`.

Time comes from `clock` (monotonic seconds), injected by tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass


class Bucket:
    """A token bucket: `rate` tokens a second, at most `capacity` saved up."""

    def __init__(self, rate: float, capacity: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.capacity = capacity
        self.clock = clock
        self.tokens = capacity
        self.stamp = clock()
        self.paused_until = 0.0

    def _refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_time(self) -> float:
        now = self.clock()
        self._refill(now)
        if now < self.paused_until:
            return self.paused_until - now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self) -> None:
        self._refill(self.clock())
        self.tokens -= 1

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, self.clock() + seconds)
        self.tokens = min(self.tokens, 0)


class Pacer:
    """Calls `rate` a second on a schedule: the next one is due `1/rate` s after the previous one was due, as
    long as that one was late by at most half an interval (made up by the next wait); a call later than that
    (a stalled event loop) keeps half an interval of its lateness to make up, and after an idle spell (a whole
    interval late or more) the schedule starts again from now, so the next call waits a whole interval."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / rate
        self.slack = self.interval / 2
        self.clock = clock
        self.due = -float("inf")  # when the next call may start

    def wait_time(self) -> float:
        return max(0.0, self.due - self.clock())

    def take(self) -> None:
        now = self.clock()
        late = now - self.due
        if late <= self.slack:
            self.due += self.interval
        elif late < self.interval:
            self.due = now - self.slack + self.interval
        else:
            self.due = now + self.interval


@dataclass
class Limits:
    overall: float = 30.0
    per_chat: float = 1.0
    per_group_minute: int = 20
    #: the share of a group's per-minute budget the sender leaves to direct replies (sent at once, not queued)
    group_reserve: float = 0.25


class RateLimiter:
    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], object] = asyncio.sleep) -> None:
        self.limits = limits
        self.clock = clock
        self._sleep = sleep
        # no burst beyond the rate, even after an idle spell
        self.overall = Pacer(limits.overall, clock)
        self.chats: dict[int, Bucket] = {}
        self.groups: dict[int, Bucket] = {}
        self._overall_turn = asyncio.Lock()  # callers take the overall tokens in the order they asked

    def _chat(self, chat_id: int) -> Bucket:
        b = self.chats.get(chat_id)
        if b is None:
            b = self.chats[chat_id] = Bucket(self.limits.per_chat, 1.0, self.clock)
        return b

    def _group(self, chat_id: int) -> Bucket | None:
        if chat_id > 0:
            return None
        b = self.groups.get(chat_id)
        if b is None:
            per_minute = max(1.0, self.limits.per_group_minute * (1 - self.limits.group_reserve))
            b = self.groups[chat_id] = Bucket(per_minute / 60, float(int(per_minute)), self.clock)
        return b

    def chat_ready(self, chat_id: int) -> bool:
        group = self._group(chat_id)
        return self._chat(chat_id).wait_time() == 0 and (group is None or group.wait_time() == 0)

    def take_chat(self, chat_id: int) -> None:
        self._chat(chat_id).take()
        group = self._group(chat_id)
        if group is not None:
            group.take()

    async def take_overall(self) -> None:
        async with self._overall_turn:
            while (wait := self.overall.wait_time()) > 0:
                await self._sleep(wait)  # type: ignore[misc]
            self.overall.take()

    def pause(self, chat_id: int, seconds: float) -> None:
        self._chat(chat_id).pause(seconds)

    def forget_idle(self) -> None:
        """Drop full buckets so memory stays flat with many chats."""
        for table in (self.chats, self.groups):
            for key in [k for k, b in table.items() if b.wait_time() == 0 and b.tokens >= b.capacity]:
                del table[key]
