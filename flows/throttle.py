"""Rate limits on what people send to the bot (the rule; the dispatcher applies it to every update).

Token buckets: a small burst goes through at once, then tokens come back at a steady rate. When a
bucket runs dry the next update gets one quiet refusal ("slow down") and everything after it is
dropped silently for `quiet`, so a flood costs one message, not one per update. Three buckets:
- per person, everything they send in any chat (messages, commands, button presses);
- per group, the commands everyone sends there (a group may get only ~20 messages a minute from a
  bot, and the outbox's notices need their share of that);
- per person in a group, their commands there, so one person cannot use up the group's share.
A repeated identical command from the same person in the same group within `repeat` is answered
once: the repeat gets no reply at all.

The state is kept in this process's memory, bounded (`keys` buckets and as many remembered commands,
the least recently used forgotten first — a forgotten bucket is a full one). With N bot processes the
limits hold per process, i.e. a person may get up to N times as much through. Time is injected (`now`
of each call); nothing here reads a clock."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum


class Verdict(Enum):
    ANSWER = "answer"
    REFUSE = "refuse"  # say "slow down" once
    DROP = "drop"  # no reply at all


@dataclass(frozen=True)
class Rate:
    burst: int  # taken at once
    per_minute: float  # coming back afterwards


@dataclass(frozen=True)
class Limits:
    person: Rate = Rate(30, 60)
    group: Rate = Rate(12, 12)
    group_person: Rate = Rate(6, 6)
    quiet: timedelta = timedelta(minutes=1)  # silence after a refusal
    repeat: timedelta = timedelta(minutes=1)  # an identical group command is answered once in this time
    keys: int = 10_000  # buckets (and remembered commands) kept in memory at most


class _Bucket:
    __slots__ = ("tokens", "at", "quiet_until")

    def __init__(self, tokens: float, at: float) -> None:
        self.tokens = tokens
        self.at = at
        self.quiet_until = 0.0


class Throttle:
    """Decides for each update whether it is answered, refused once, or dropped."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._buckets: OrderedDict[tuple[object, ...], _Bucket] = OrderedDict()
        self._said: OrderedDict[tuple[object, ...], float] = OrderedDict()

    def check(self, *, now: datetime, user_id: int, chat_id: int, group_command: str | None = None) -> Verdict:
        """One update of `user_id` in `chat_id`; `group_command` is the command with its arguments when it is
        a command in a group (None for anything else: private messages, button presses)."""
        t = now.timestamp()
        lim = self.limits
        said = None
        if group_command is not None:
            said = (chat_id, user_id, hash(group_command))  # a command may be long: only its hash is kept
            last = self._said.get(said)
            if last is not None and t - last < lim.repeat.total_seconds():
                return Verdict.DROP
        keys: list[tuple[tuple[object, ...], Rate]] = [(("p", user_id), lim.person)]
        if group_command is not None:
            keys += [(("g", chat_id), lim.group), (("gp", chat_id, user_id), lim.group_person)]
        buckets = [self._bucket(key, rate, t) for key, rate in keys]
        if any(b.quiet_until > t for b in buckets):
            return Verdict.DROP
        dry = [b for b in buckets if b.tokens < 1]
        if not dry:
            for b in buckets:
                b.tokens -= 1
            if said is not None:
                self._remember(said, t)
            return Verdict.ANSWER
        for b in dry:
            b.quiet_until = t + lim.quiet.total_seconds()
        return Verdict.REFUSE

    def _bucket(self, key: tuple[object, ...], rate: Rate, t: float) -> _Bucket:
        b = self._buckets.get(key)
        if b is None:
            b = self._buckets[key] = _Bucket(float(rate.burst), t)
            if len(self._buckets) > self.limits.keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            b.tokens = min(float(rate.burst), b.tokens + max(t - b.at, 0.0) * rate.per_minute / 60)
            b.at = max(b.at, t)
        return b

    def _remember(self, key: tuple[object, ...], t: float) -> None:
        self._said[key] = t
        self._said.move_to_end(key)
        if len(self._said) > self.limits.keys:
            self._said.popitem(last=False)
