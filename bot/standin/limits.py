"""Rate limiting (token buckets, Telegram's bot FAQ numbers) and fault injection."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

# Methods that put (or change) a message in a chat: these count against rate limits and are
# the default target of fault injection.
SENDING_PREFIXES = ("send", "edit", "copy", "forward")
NOT_COUNTED = {"sendChatAction"}


def is_sending_method(method: str) -> bool:
    return method.startswith(SENDING_PREFIXES) and method not in NOT_COUNTED


@dataclass
class RateLimits:
    """Limits in messages per second (per_group_per_min per minute); ``scale`` multiplies rates."""

    enabled: bool = True
    scale: float = 1.0
    overall: float = 30.0
    per_chat: float = 1.0
    per_chat_burst: int = 3
    per_group_per_min: float = 20.0

    def update(self, values: dict[str, Any]) -> None:
        for key, value in values.items():
            if key not in self.__dataclass_fields__:
                raise ValueError(f"unknown limit {key!r}")
            current = getattr(self, key)
            setattr(self, key, type(current)(value))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TokenBucket:
    rate: float  # tokens per second
    capacity: float
    tokens: float
    stamp: float

    def refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_time(self) -> float:
        """Seconds until one token is available (0 if available now)."""
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


class RateLimiter:
    """Overall, per-chat and per-group buckets; a call passes only if all have a token."""

    def __init__(self, limits: RateLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.clock = clock
        self._buckets: dict[Any, TokenBucket] = {}

    def reset(self) -> None:
        self._buckets.clear()

    def _bucket(self, key: Any, rate: float, capacity: float, now: float) -> TokenBucket:
        bucket = self._buckets.get(key)
        rate *= self.limits.scale
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(rate, capacity, capacity, now)
        bucket.rate, bucket.capacity = rate, capacity
        bucket.refill(now)
        return bucket

    def _buckets_for(self, bot_id: int, chat_key: Any, is_group: bool) -> list[TokenBucket]:
        lim, now = self.limits, self.clock()
        buckets = [
            self._bucket(("all", bot_id), lim.overall, max(1.0, lim.overall), now),
            self._bucket(("chat", bot_id, chat_key), lim.per_chat, lim.per_chat_burst, now),
        ]
        if is_group:
            per_min = lim.per_group_per_min
            buckets.append(self._bucket(("group", bot_id, chat_key), per_min / 60.0, per_min, now))
        return buckets

    def acquire(self, bot_id: int, chat_key: Any, is_group: bool) -> int | None:
        """Take a token from every bucket concerned; otherwise return retry_after seconds."""
        if not self.limits.enabled:
            return None
        buckets = self._buckets_for(bot_id, chat_key, is_group)
        wait = max(b.wait_time() for b in buckets)
        if wait > 0:
            return max(1, math.ceil(wait))
        for bucket in buckets:
            bucket.tokens -= 1
        return None

    def refund(self, bot_id: int, chat_key: Any, is_group: bool) -> None:
        """Give back the tokens of a call that failed (e.g. 400) after :meth:`acquire`."""
        if not self.limits.enabled:
            return
        for bucket in self._buckets_for(bot_id, chat_key, is_group):
            bucket.tokens = min(bucket.capacity, bucket.tokens + 1)


#: Faults that strike before the call has any effect: 429, a JSON 500, nginx's HTML 502, a connection reset.
BEFORE = ("429", "5xx", "html_502", "reset")
#: Faults that strike after the call took effect: the connection is reset before the answer, or the answer
#: is held `delay` seconds (past the client's timeout) — the client cannot tell these from the ones above.
AFTER = ("accepted_reset", "accepted_delay")
KINDS = BEFORE + AFTER
#: Older names of the shares (share_drop is a reset before acceptance).
LEGACY = {"share_429": "429", "share_5xx": "5xx", "share_drop": "reset"}


@dataclass
class Fault:
    kind: str
    delay: float = 0.0  # accepted_delay: seconds the answer is held


@dataclass
class Faults:
    """What goes wrong, on purpose: `rates` gives each fault kind's share (0..1) of matching calls, drawn from a
    generator seeded with `seed` (the same seed, the same faults for the same calls); `once` lists one-shot
    faults, each striking the next matching call ({"kind": …, "method": …, "chat_id": …, "delay": …}, method
    and chat_id optional). `share_429`, `share_5xx` and `share_drop` are the older names of three rates."""

    share_429: float = 0.0
    share_5xx: float = 0.0
    share_drop: float = 0.0
    seed: int | None = None
    methods: list[str] | None = None  # None: every sending method
    rates: dict[str, float] = field(default_factory=dict)
    delay: float = 3.0  # accepted_delay: seconds the answer is held
    once: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for kind, share in self.rates.items():
            if kind not in KINDS:
                raise ValueError(f"unknown fault kind {kind!r}: one of {', '.join(KINDS)}")
            if not 0.0 <= float(share) <= 1.0:
                raise ValueError(f"fault rate {kind!r} must be within 0..1")
        for shot in self.once:
            check_shot(shot)

    def shares(self) -> list[tuple[str, float]]:
        merged = dict.fromkeys(KINDS, 0.0)
        for name, kind in LEGACY.items():
            merged[kind] += float(getattr(self, name))
        for kind, share in self.rates.items():
            merged[kind] += float(share)
        return [(kind, share) for kind, share in merged.items() if share > 0]

    def applies_to(self, method: str) -> bool:
        if self.methods is None:
            return is_sending_method(method)
        return method in self.methods

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_shot(shot: dict[str, Any]) -> None:
    if not isinstance(shot, dict) or shot.get("kind") not in KINDS:
        raise ValueError(f"a one-shot fault needs a kind: one of {', '.join(KINDS)}")
    unknown = set(shot) - {"kind", "method", "chat_id", "delay"}
    if unknown:
        raise ValueError(f"unknown one-shot fault fields {sorted(unknown)}")


@dataclass
class FaultInjector:
    faults: Faults = field(default_factory=Faults)
    rng: random.Random = field(default_factory=random.Random)

    def configure(self, faults: Faults) -> None:
        self.faults = faults
        self.rng = random.Random(faults.seed)

    def add_once(self, shot: dict[str, Any]) -> None:
        check_shot(shot)
        self.faults.once.append(dict(shot))

    def draw(self, method: str, chat_id: Any = None) -> Fault | None:
        """The fault for this call, if any: a matching one-shot first, else one drawn by the rates."""
        f = self.faults
        for i, shot in enumerate(f.once):
            if shot.get("method", method) == method and str(shot.get("chat_id", chat_id)) == str(chat_id) and (
                    "method" in shot or is_sending_method(method)):
                del f.once[i]
                return Fault(shot["kind"], float(shot.get("delay", f.delay)))
        shares = f.shares()
        if not shares or not f.applies_to(method):
            return None
        roll = self.rng.random()
        for kind, share in shares:
            if roll < share:
                return Fault(kind, f.delay)
            roll -= share
        return None
