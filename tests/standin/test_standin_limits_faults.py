"""Rate limits (token buckets, 429 with retry_after) and fault injection."""

from __future__ import annotations

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramRetryAfter
from standin_helpers import TOKEN, World, call

from bot.standin.limits import RateLimiter, RateLimits


@pytest.fixture
async def uid(env: World) -> int:
    user = await env.client.create_user("Ru")
    await env.client.send(user["id"], "/start")
    return user["id"]


async def test_burst_then_429_with_retry_after(env: World, uid: int) -> None:
    await env.client.set_limits(enabled=True, scale=1.0)
    statuses = [(await call(env, "sendMessage", chat_id=uid, text=f"m{i}"))[0] for i in range(3)]
    assert statuses == [200, 200, 200]  # burst allowance of 3
    status, body = await call(env, "sendMessage", chat_id=uid, text="too fast")
    assert status == 429
    assert body["parameters"]["retry_after"] >= 1
    assert body["description"] == f"Too Many Requests: retry after {body['parameters']['retry_after']}"
    stats = await env.client.stats()
    assert stats["sent"] == 3 and stats["rejected_429"] == 1
    transcript = await env.client.transcript(uid)
    assert "too fast" not in [m["text"] for m in transcript["messages"]]


async def test_rejected_calls_do_not_use_tokens(env: World, uid: int) -> None:
    await env.client.set_limits(enabled=True)
    for _ in range(5):
        assert (await call(env, "sendMessage", chat_id=uid, text="x" * 5000))[0] == 400
    assert (await call(env, "sendMessage", chat_id=uid, text="fine"))[0] == 200


async def test_aiogram_sees_retry_after(env: World, uid: int) -> None:
    await env.client.set_limits(enabled=True)
    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(env.url)))
    try:
        with pytest.raises(TelegramRetryAfter) as caught:
            for i in range(5):
                await bot.send_message(uid, f"m{i}")
        assert caught.value.retry_after >= 1
    finally:
        await bot.session.close()


def test_group_bucket_and_scale() -> None:
    now = [0.0]
    limiter = RateLimiter(RateLimits(per_chat=100, per_chat_burst=100), clock=lambda: now[0])
    results = [limiter.acquire(1, -5, True) for _ in range(21)]
    assert results[:20] == [None] * 20 and results[20] == 3  # 20/min: a token every 3 s
    now[0] += 3.0
    assert limiter.acquire(1, -5, True) is None
    scaled = RateLimiter(RateLimits(scale=10), clock=lambda: now[0])
    assert [scaled.acquire(1, 7, False) for _ in range(4)][3] == 1  # burst 3, then 0.1 s → rounds up to 1
    now[0] += 0.1
    assert scaled.acquire(1, 7, False) is None  # ×10: one message per 0.1 s per chat


def test_overall_limit() -> None:
    now = [0.0]
    limiter = RateLimiter(RateLimits(per_chat=100, per_chat_burst=100), clock=lambda: now[0])
    passed = sum(limiter.acquire(1, chat, False) is None for chat in range(1, 41))
    assert passed == 30


async def test_5xx_fault_leaves_no_message(env: World, uid: int) -> None:
    await env.client.set_faults(share_5xx=1.0, seed=1)
    status, body = await call(env, "sendMessage", chat_id=uid, text="lost")
    assert status == 500 and body["ok"] is False
    assert (await call(env, "getMe"))[0] == 200  # not a sending method: not faulted
    await env.client.set_faults(share_5xx=0.0)
    texts = [m["text"] for m in (await env.client.transcript(uid))["messages"]]
    assert "lost" not in texts
    assert (await env.client.stats())["faults_injected"] == 1


async def test_429_and_drop_faults(env: World, uid: int) -> None:
    await env.client.set_faults(share_429=1.0, methods=["sendMessage"])
    status, body = await call(env, "sendMessage", chat_id=uid, text="x")
    assert status == 429 and body["parameters"]["retry_after"] == 1
    await env.client.set_faults(share_drop=1.0)
    url = f"{env.url}/bot{env.token}/sendMessage"
    with pytest.raises(aiohttp.ClientError):
        async with aiohttp.ClientSession() as session:
            await session.post(url, data={"chat_id": str(uid), "text": "dropped"})
    await env.client.set_faults()
    texts = [m["text"] for m in (await env.client.transcript(uid))["messages"]]
    assert "x" not in texts and "dropped" not in texts


async def test_fault_shares_follow_seed(env: World, uid: int) -> None:
    await env.client.set_faults(share_5xx=0.5, seed=42)
    first = [(await call(env, "sendMessage", chat_id=uid, text="a"))[0] for _ in range(20)]
    await env.client.set_faults(share_5xx=0.5, seed=42)
    second = [(await call(env, "sendMessage", chat_id=uid, text="a"))[0] for _ in range(20)]
    assert first == second and 200 in first and 500 in first
