"""The rate limits of flows/throttle.py shared by every process through Redis (`LINLI_REDIS_URL`, F-12).

In one process the limits live in its memory. With N webhook workers behind a proxy that memory is per worker,
so a person could get N times as much through, and a group's share of Telegram's 20 messages a minute was N
times too large. With Redis set, every worker asks Redis: the same token buckets, quiet periods and remembered
group commands (flows/throttle.py's rule, to the letter), kept in Redis hashes and decided by one Lua script, which
Redis runs atomically, so two workers deciding for one person at the same moment take two tokens, never one.
A bucket is forgotten once it would be full again and its quiet over (its keys expire), so Redis holds only the
people and groups active lately.

Redis is asked with a short timeout. When it does not answer, the update is decided by the worker's own
in-memory throttle (the limits then hold per worker, as without Redis) and a warning says so, once, until Redis
answers again: a rate limit protects the bot and the groups, it must never stop the bot answering.

Conversation state is not kept here: it is a database row, committed in the same transaction as the step that
changes it (README, "Deploying at scale")."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from flows.throttle import Limits, Rate, Throttle, Verdict

log = logging.getLogger("linli.throttle")

#: KEYS[1]: the remembered group command ("" for none), KEYS[2…]: the buckets.
#: ARGV: now (s), quiet (s), repeat (s), then burst and per-minute rate of each bucket.
_DECIDE = """
local t, quiet, rep = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local said = KEYS[1]
if said ~= "" then
  local last = redis.call("GET", said)
  if last and t - tonumber(last) < rep then return "drop" end
end
local n = #KEYS - 1
local tokens, ats, quiets, bursts, rates = {}, {}, {}, {}, {}
local quieted = false
for i = 1, n do
  local burst, rate = tonumber(ARGV[2 + 2 * i]), tonumber(ARGV[3 + 2 * i])
  local v = redis.call("HMGET", KEYS[i + 1], "tokens", "at", "quiet")
  local tok, at, q = tonumber(v[1]), tonumber(v[2]), tonumber(v[3]) or 0
  if tok == nil then
    tok, at = burst, t
  else
    tok = math.min(burst, tok + math.max(t - at, 0) * rate / 60)
    at = math.max(at, t)
  end
  tokens[i], ats[i], quiets[i], bursts[i], rates[i] = tok, at, q, burst, rate
  if q > t then quieted = true end
end
local verdict = "answer"
if quieted then
  verdict = "drop"
else
  for i = 1, n do
    if tokens[i] < 1 then verdict = "refuse" end
  end
  if verdict == "answer" then
    for i = 1, n do tokens[i] = tokens[i] - 1 end
    if said ~= "" then redis.call("SET", said, ARGV[1], "PX", math.ceil(rep * 1000)) end
  else
    for i = 1, n do
      if tokens[i] < 1 then quiets[i] = t + quiet end
    end
  end
end
for i = 1, n do
  redis.call("HSET", KEYS[i + 1], "tokens", tostring(tokens[i]), "at", tostring(ats[i]), "quiet", tostring(quiets[i]))
  local full = (bursts[i] - tokens[i]) * 60 / rates[i]
  redis.call("PEXPIRE", KEYS[i + 1], math.ceil((math.max(full, quiets[i] - t, 0) + 1) * 1000))
end
return verdict
"""

_VERDICTS = {"answer": Verdict.ANSWER, "refuse": Verdict.REFUSE, "drop": Verdict.DROP}


class SharedThrottle:
    """flows/throttle.py's rule, decided in Redis for every process; the process's own `local` throttle when Redis
    does not answer."""

    def __init__(self, url: str, *, prefix: str, local: Throttle | None = None, limits: Limits | None = None,
                 timeout: float = 0.5) -> None:
        self.limits = limits or Limits()
        self.local = local or Throttle(self.limits)
        self.prefix = prefix
        self.redis: Redis = Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self._decide = self.redis.register_script(_DECIDE)
        self._failing = False
        self.fallbacks = 0  # updates decided by the local throttle because Redis did not answer

    async def check(self, *, now: datetime, user_id: int, chat_id: int, group_command: str | None = None) -> Verdict:
        """As `Throttle.check`, for every process at once."""
        lim = self.limits
        buckets: list[tuple[str, Rate]] = [(f"p:{user_id}", lim.person)]
        said = ""
        if group_command is not None:
            buckets += [(f"g:{chat_id}", lim.group), (f"gp:{chat_id}:{user_id}", lim.group_person)]
            said = f"{self.prefix}said:{chat_id}:{user_id}:{_digest(group_command)}"
        args: list[Any] = [repr(now.timestamp()), lim.quiet.total_seconds(), lim.repeat.total_seconds()]
        for _, rate in buckets:
            args += [rate.burst, rate.per_minute]
        try:
            answer = await self._decide(keys=[said, *(self.prefix + key for key, _ in buckets)], args=args)
        except (RedisError, OSError) as exc:
            self.fallbacks += 1
            if not self._failing:
                self._failing = True
                log.warning("Redis did not answer (%s): rate limits are kept per process until it does",
                            type(exc).__name__)
            return self.local.check(now=now, user_id=user_id, chat_id=chat_id, group_command=group_command)
        if self._failing:
            self._failing = False
            log.warning("Redis answers again: rate limits are shared by every process")
        return _VERDICTS[answer.decode() if isinstance(answer, bytes) else str(answer)]

    async def close(self) -> None:
        await self.redis.aclose()


def _digest(command: str) -> str:
    """A command may be long and says what people wrote: only a digest of it is kept."""
    return hashlib.blake2b(command.encode(), digest_size=8).hexdigest()
