"""Counting what arrived: lost and duplicated notices and answers, from a transcript of the bot's messages.

The faults suite (benchmarks/faults.py) gives every outbox notice a unique marker in its text and has each person
write to the bot a known number of times; `Transcript` records every message the bot posts (first sighting, with
the time), and `tally` compares the two. Kept free of processes and servers so a unit test can feed it a made-up
transcript.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from bot.standin.state import World

MARKER = re.compile(r"\bN\d{6}\b")


def marker(n: int) -> str:
    """The unique token of notice number `n` (it is put in the notice's text)."""
    return f"N{n:06d}"


@dataclass(frozen=True)
class Seen:
    chat: int  # the private chat's user id
    text: str
    at: float  # time.monotonic() when it appeared


@dataclass
class Expected:
    notices: dict[str, float] = field(default_factory=dict)  # marker → monotonic time it was queued
    asked: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))  # person → times they wrote

    def queue(self, mark: str, at: float) -> None:
        self.notices[mark] = at

    def ask(self, person: int, at: float) -> None:
        self.asked[person].append(at)


@dataclass
class Tally:
    notices: int = 0
    notices_lost: int = 0
    notices_duplicated: int = 0  # extra copies beyond the first
    updates: int = 0
    updates_lost: int = 0  # messages people sent that got no answer
    updates_duplicated: int = 0  # answers beyond one per message
    max_delay: float = 0.0  # seconds from queueing (or writing) until it appeared

    @property
    def lost(self) -> int:
        return self.notices_lost + self.updates_lost

    @property
    def duplicated(self) -> int:
        return self.notices_duplicated + self.updates_duplicated


def tally(expected: Expected, seen: list[Seen]) -> Tally:
    """Each expected notice should appear exactly once (by marker, in any chat); each person's chat should hold
    exactly one bot answer per message they wrote (answers are matched to messages in order, for the delay).
    Bot messages in a person's chat that carry a marker are notices, not answers."""
    result = Tally(notices=len(expected.notices), updates=sum(len(t) for t in expected.asked.values()))
    copies: Counter[str] = Counter()
    first: dict[str, float] = {}
    answers: dict[int, list[float]] = defaultdict(list)
    for item in sorted(seen, key=lambda s: s.at):
        marks = MARKER.findall(item.text)
        for mark in marks:
            copies[mark] += 1
            first.setdefault(mark, item.at)
        if not marks and item.chat in expected.asked:
            answers[item.chat].append(item.at)
    delays: list[float] = []
    for mark, queued in expected.notices.items():
        n = copies[mark]
        if n == 0:
            result.notices_lost += 1
        else:
            result.notices_duplicated += n - 1
            delays.append(first[mark] - queued)
    for person, times in expected.asked.items():
        got = answers.get(person, [])
        result.updates_lost += max(0, len(times) - len(got))
        result.updates_duplicated += max(0, len(got) - len(times))
        delays.extend(answer - asked for asked, answer in zip(sorted(times), got, strict=False))
    result.max_delay = max(delays, default=0.0)
    return result


class Transcript:
    """Follows the stand-in's change log and keeps the first sighting of every message a bot posts in a private
    chat (edits and service messages are left out)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.seen: list[Seen] = []
        self._ids: set[tuple[tuple[int, int], int]] = set()
        self._cursor = world.seq
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._cursor = self.world.seq
        self._task = asyncio.create_task(self._follow(), name="transcript")

    async def stop(self) -> None:
        self.scan()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def markers(self) -> set[str]:
        return {m for s in self.seen for m in MARKER.findall(s.text)}

    async def _follow(self) -> None:
        while True:
            await self.world.changed.wait(60.0)
            self.scan()

    def scan(self) -> None:
        now = time.monotonic()
        for msg in self.world.changed_since(self._cursor):
            key = (msg.chat.key, msg.message_id)
            if not msg.is_bot or msg.kind == "service" or msg.chat.is_group or key in self._ids:
                continue
            self._ids.add(key)
            self.seen.append(Seen(msg.chat.key[1], msg.text or msg.caption or "", now))
        self._cursor = self.world.seq
