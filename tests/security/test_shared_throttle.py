"""Rate limits shared by every process through Redis (`LINLI_REDIS_URL`, bot/shared_throttle.py; F-12): the rule of
flows/throttle.py to the letter, one budget for N webhook workers instead of one each, atomic under concurrent
decisions, and the process's own limits when Redis does not answer. Needs LINLI_TEST_REDIS_URL (.ci/run sets it when
Redis answers on 127.0.0.1:6379), except the test of Redis being down."""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from bot.app import LinliApp
from bot.shared_throttle import SharedThrottle
from bot.standin.client import StandInClient
from bot.standin.server import StandIn
from flows.clock import OffsetClock
from flows.throttle import Limits, Rate, Throttle, Verdict
from tests.bot import conftest as transcripts
from tests.bot.conftest import Harness, settings_for

standin, tg, runtime = transcripts.standin, transcripts.tg, transcripts.runtime  # the transcript fixtures
REDIS_URL = os.environ.get("LINLI_TEST_REDIS_URL", "")
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="LINLI_TEST_REDIS_URL is not set (no Redis to share)")
NOW = datetime(2027, 3, 1, 1, 30, tzinfo=UTC)
A, R, D = Verdict.ANSWER, Verdict.REFUSE, Verdict.DROP

#: (seconds after NOW, person, chat, the group command or None): a flood, a window passing, a clock going back,
#: a group's budget and a person's share of it, a repeated group command, other people and chats
SCRIPT: list[tuple[float, int, int, str | None]] = (
    [(0.01 * i, 1, 1, None) for i in range(10)]
    + [(0, 2, 2, None), (59, 1, 1, None)] + [(61, 1, 1, None)] * 4 + [(-3600, 1, 1, None)]
    + [(0, 11, -100, "help")] + [(s, 11, -100, "help") for s in (1, 30, 59)]
    + [(0, 11, -100, "help 2"), (0, 11, -100, "help 3"), (0, 12, -100, "help"), (0, 13, -100, "help"),
       (0, 14, -100, "help"), (0, 15, -100, "help"), (0, 16, 16, None), (61, 11, -100, "help"),
       (62, 11, -100, "help")]
)
LIMITS = Limits(person=Rate(3, 6), group=Rate(4, 4), group_person=Rate(2, 2))


def _shared(url: str = REDIS_URL, prefix: str = "", limits: Limits = LIMITS) -> SharedThrottle:
    return SharedThrottle(url, prefix=prefix or f"linli-test:{uuid.uuid4().hex}:", limits=limits)


def _at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


@needs_redis
async def test_shared_limits_decide_as_one_process_does() -> None:
    local = Throttle(LIMITS)
    shared = _shared()
    try:
        expected = [local.check(now=_at(s), user_id=u, chat_id=c, group_command=g) for s, u, c, g in SCRIPT]
        got = [await shared.check(now=_at(s), user_id=u, chat_id=c, group_command=g) for s, u, c, g in SCRIPT]
    finally:
        await shared.close()
    assert got == expected
    assert expected[:10] == [A] * 3 + [R] + [D] * 6 and expected[-2:] == [A, D]  # the script does what it says
    assert shared.fallbacks == 0


@needs_redis
async def test_two_workers_share_one_budget() -> None:
    """A person's updates spread over two webhook workers: one budget of 3 (then one refusal, then silence), where
    two workers each with their own memory would answer 3 each."""
    prefix = f"linli-test:{uuid.uuid4().hex}:"
    workers = [_shared(prefix=prefix), _shared(prefix=prefix)]
    try:
        shared = [await workers[i % 2].check(now=_at(0.01 * i), user_id=7, chat_id=7) for i in range(8)]
    finally:
        for w in workers:
            await w.close()
    own = [Throttle(LIMITS), Throttle(LIMITS)]
    alone = [own[i % 2].check(now=_at(0.01 * i), user_id=7, chat_id=7) for i in range(8)]
    assert shared == [A] * 3 + [R] + [D] * 4
    assert alone.count(A) == 6  # what LINLI_REDIS_URL closes


@needs_redis
async def test_decisions_at_the_same_moment_take_a_token_each() -> None:
    """Forty updates of one person decided at once by two workers: Redis runs each decision whole, so exactly the
    burst is answered, one refused, the rest dropped."""
    prefix = f"linli-test:{uuid.uuid4().hex}:"
    workers = [_shared(prefix=prefix, limits=Limits(person=Rate(5, 6))) for _ in range(2)]
    try:
        verdicts = await asyncio.gather(*(workers[i % 2].check(now=NOW, user_id=8, chat_id=8) for i in range(40)))
    finally:
        for w in workers:
            await w.close()
    assert (verdicts.count(A), verdicts.count(R), verdicts.count(D)) == (5, 1, 34)


async def test_redis_down_falls_back_to_the_process_limits(caplog: pytest.LogCaptureFixture) -> None:
    """Nothing listens on the port: each update is decided by the process's own limits, as without Redis; one
    warning, not one per update (runs without Redis)."""
    caplog.set_level(logging.WARNING, logger="linli.throttle")
    down = _shared(url="redis://127.0.0.1:9/0")  # the discard port: nothing answers there
    try:
        got = [await down.check(now=_at(s), user_id=u, chat_id=c, group_command=g) for s, u, c, g in SCRIPT]
    finally:
        await down.close()
    local = Throttle(LIMITS)
    assert got == [local.check(now=_at(s), user_id=u, chat_id=c, group_command=g) for s, u, c, g in SCRIPT]
    assert down.fallbacks == len(SCRIPT)
    assert [r.getMessage() for r in caplog.records].count(
        "Redis did not answer (ConnectionError): rate limits are kept per process until it does") == 1


def test_a_redis_url_that_is_not_one_is_refused_at_start() -> None:
    from bot.config import ConfigError, Settings

    Settings(_env_file=None, redis_url="").check_redis()  # type: ignore[call-arg]
    Settings(_env_file=None, redis_url="redis://127.0.0.1:6379/0").check_redis()  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="LINLI_REDIS_URL must start with redis://"):
        Settings(_env_file=None, redis_url="127.0.0.1:6379").check_redis()  # type: ignore[call-arg]


@needs_redis
async def test_a_running_bot_counts_another_workers_updates(db_url: str, standin: StandIn, tg: StandInClient,
                                                            runtime: str) -> None:
    """`linli run` with LINLI_REDIS_URL: a person who sent four of their six group commands to another worker gets
    two answers here, then one "slow down", then silence — and a neighbour is still answered."""
    clock = OffsetClock()
    app = LinliApp(settings_for(db_url, standin, runtime, throttle=True, redis_url=REDIS_URL), clock=clock,
                   run_scheduler=False)
    await app.start()
    shared = app.core.shared_throttle
    assert shared is not None
    shared.prefix = f"linli-test:{uuid.uuid4().hex}:"  # parallel test runs share the Redis and the bot's name
    other = SharedThrottle(REDIS_URL, prefix=shared.prefix)  # another worker, its own process
    try:
        h = Harness(app=app, tg=tg, standin=standin, clock=clock)
        await h.register(301, "王书记", invite=await h.create_community())
        await h.user(302, "捣乱的人")
        await h.user(303, "邻居")
        group = await h.group(-1001000000078, "3号楼楼门群", [301, 302, 303], admin=301)
        for i in range(4):
            assert await other.check(now=clock.now(), user_id=302, chat_id=group, group_command=f"help x{i}") is A
        before = await tg.cursor()
        for i in range(10):
            await tg.send(302, f"/help {i}", chat_id=group)
        await h.settle()
        said = [m["text"] for m in await tg.bot_messages(group, before)]
        assert len(said) == 3 and "请慢一点" in said[-1] and all("请慢一点" not in s for s in said[:-1]), said
        out = await h.say(303, "/help", chat_id=group)
        assert len(out) == 1 and "/start" in out[0]["text"]
        assert shared.fallbacks == 0
    finally:
        await other.close()
        await app.stop()
