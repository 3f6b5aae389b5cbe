"""The outbox sender against the strict stand-in: limits, 429 retry_after, 5xx, dropped
connections, restarts — nothing lost, nothing doubled, order kept per chat."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import timedelta

from sqlmodel import select

from bot.outbox import Limits, OutboxSender
from bot.render import NoticeRenderer
from bot.runtimes.aiogram_rt import AiogramRuntime
from bot.standin.client import StandInClient
from bot.standin.server import StandIn
from flows import outbox
from flows.clock import OffsetClock
from storage.db import Database
from storage.models import OutboxMessage
from tests.bot.conftest import BOT, TOKEN, Harness, start_app

USERS = list(range(500, 520))


async def _open_chats(tg: StandInClient, users: list[int]) -> None:
    for uid in users:
        await tg.create_user(f"居民{uid}", id=uid)
        await tg.send(uid, "hi")  # the person has started the bot: private messages are allowed


async def _queue(db: Database, clock: OffsetClock, users: list[int], per_user: int) -> None:
    roles = ["volunteer", "grid_worker", "representative", "enthusiast"]
    async with db.uow() as uow:
        for round_ in range(per_user):
            for uid in users:
                outbox.notify(uow, tg_chat_id=uid, notice="role_granted", lang="zh_CN", now=clock.now(),
                              role=roles[round_ % len(roles)], community=f"第{round_}条")
        await uow.commit()


def _sender(db: Database, gateway, clock: OffsetClock, limits: Limits | None = None) -> OutboxSender:
    render = NoticeRenderer(secret=b"k" * 32, clock=clock, bot_username=BOT)
    return OutboxSender(db=db, gateway=gateway, clock=clock, render=render, limits=limits or Limits())


async def _drain(sender: OutboxSender, db: Database, clock: OffsetClock, timeout: float = 60) -> None:
    """Run the sender until every row is sent or given up; back-offs pass on the clock, not the wall."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        handled = await sender.drain_once()
        async with db.uow() as uow:
            left = (await uow.session.exec(
                select(OutboxMessage).where(OutboxMessage.status.in_(("pending", "sending")))
                .order_by(OutboxMessage.id))).all()
        if not left:
            return
        heads: dict[int, OutboxMessage] = {}
        for row in left:
            heads.setdefault(row.tg_chat_id, row)  # a chat's later rows wait for its oldest
        wait = (min(r.not_before for r in heads.values()) - clock.now()).total_seconds()
        if handled == 0 and wait > 0:
            clock.advance(seconds=wait)  # the next retry is due: skip the idle time
        await asyncio.sleep(0.02)
    async with db.uow() as uow:
        rows = (await uow.session.exec(
            select(OutboxMessage).where(OutboxMessage.status.in_(("pending", "sending"))))).all()
    raise AssertionError("outbox not drained: " + "; ".join(
        f"#{r.id} chat {r.tg_chat_id} {r.status} attempts {r.attempts} due {r.not_before} lease {r.lease_until} "
        f"error {r.last_error}" for r in rows))


async def _delivered(tg: StandInClient, users: list[int]) -> dict[int, list[str]]:
    out = {}
    for uid in users:
        out[uid] = [m["text"] for m in await tg.bot_messages(uid) if m["kind"] == "message"]
    return out


async def test_faults_and_limits_lose_nothing_and_double_nothing(db: Database, standin: StandIn,
                                                                 tg: StandInClient) -> None:
    await tg.set_limits(enabled=True, scale=10)
    await _open_chats(tg, USERS)
    clock = OffsetClock()
    await _queue(db, clock, USERS, per_user=3)
    await tg.set_faults(share_429=0.15, share_5xx=0.1, share_drop=0.05, seed=7)
    runtime = AiogramRuntime(TOKEN, standin.url)
    try:
        sender = _sender(db, runtime.gateway, clock, Limits(overall=300, per_chat=10, per_group_minute=200))
        await _drain(sender, db, clock)
    finally:
        await runtime.stop()
    stats = await tg.stats()
    assert stats["faults_injected"] > 0
    assert sender.stats.retried_429 > 0 and sender.stats.retried_other > 0
    delivered = await _delivered(tg, USERS)
    for uid in USERS:
        assert [t.split("第")[1][0] for t in delivered[uid]] == ["0", "1", "2"], delivered[uid]  # once, in order
    async with db.uow() as uow:
        rows = (await uow.session.exec(select(OutboxMessage))).all()
    assert Counter(r.status for r in rows) == {"sent": 60}
    assert all(r.tg_message_id for r in rows)


async def test_the_sender_respects_the_per_chat_limit_without_429(db: Database, standin: StandIn,
                                                                  tg: StandInClient) -> None:
    await tg.set_limits(enabled=True, scale=10)  # per chat: 10/s with a burst of 3
    await _open_chats(tg, [700])
    clock = OffsetClock()
    await _queue(db, clock, [700], per_user=12)
    runtime = AiogramRuntime(TOKEN, standin.url)
    try:
        sender = _sender(db, runtime.gateway, clock, Limits(overall=300, per_chat=10, per_group_minute=200))
        started = time.monotonic()
        await _drain(sender, db, clock)
        elapsed = time.monotonic() - started
    finally:
        await runtime.stop()
    assert sender.stats.retried_429 == 0 and sender.stats.sent == 12
    assert elapsed >= 0.9  # 12 messages to one chat at 10/s cannot go in one burst


async def test_a_restart_delivers_pending_rows_once(db_url: str, standin: StandIn, tg: StandInClient) -> None:
    await _open_chats(tg, USERS[:5])
    clock = OffsetClock()
    await tg.set_faults(share_drop=1.0, seed=1)  # Telegram unreachable: nothing gets through
    app = await start_app(db_url, standin, "aiogram", clock)
    await _queue(app.db, clock, USERS[:5], per_user=2)
    assert app.sender is not None
    app.sender.wake()
    await asyncio.sleep(0.5)
    await app.stop()  # the bot goes down with rows still pending
    async with Database(db_url).uow() as uow:
        statuses = Counter(r.status for r in (await uow.session.exec(select(OutboxMessage))).all())
    # ten notices, plus the bot's answers to the people's "hi", deferred to the outbox too
    assert statuses["sent"] == 0 and statuses["pending"] == 15
    await tg.set_faults(share_drop=0.0)
    app = await start_app(db_url, standin, "aiogram", clock)
    try:
        harness = Harness(app=app, tg=tg, standin=standin, clock=clock)
        clock.advance(seconds=5)  # past the back-off of the failed attempt
        app.sender.wake()  # type: ignore[union-attr]
        await harness.settle(timeout=20)
    finally:
        await app.stop()
    delivered = await _delivered(tg, USERS[:5])
    for texts in delivered.values():
        assert len(texts) == 3 and [t.split("第")[1][0] for t in texts if "第" in t] == ["0", "1"], texts


async def test_a_row_claimed_by_a_crashed_sender_is_taken_again(db: Database, standin: StandIn,
                                                               tg: StandInClient) -> None:
    await _open_chats(tg, [800])
    clock = OffsetClock()
    await _queue(db, clock, [800], per_user=1)
    async with db.uow() as uow:
        row = (await uow.session.exec(select(OutboxMessage))).one()
        row.status, row.lease_until = "sending", clock.now() + timedelta(seconds=60)  # claimed; then it died
        uow.session.add(row)
        await uow.commit()
    runtime = AiogramRuntime(TOKEN, standin.url)
    try:
        sender = _sender(db, runtime.gateway, clock)
        assert await sender.drain_once() == 0  # the lease is still running
        clock.advance(seconds=61)
        sender._rounds = 0  # the next round looks for expired leases
        await _drain(sender, db, clock)
    finally:
        await runtime.stop()
    assert len((await _delivered(tg, [800]))[800]) == 1


async def test_a_reply_refused_for_now_is_delivered_later(linli: Harness) -> None:
    await linli.create_community()
    await linli.register(103, "赵阿姨")
    await linli.tg.set_faults(share_5xx=1.0, seed=3, methods=["sendMessage"])
    before = await linli.tg.cursor()
    await linli.tg.send(103, "/help")
    await linli.standin.settle()
    await asyncio.sleep(0.3)
    assert await linli.tg.bot_messages(103, before) == []
    await linli.tg.set_faults(share_5xx=0.0)
    linli.clock.advance(seconds=5)
    linli.app.sender.wake()  # type: ignore[union-attr]
    await linli.settle()
    replies = await linli.tg.bot_messages(103, before)
    assert len(replies) == 1 and "/me" in replies[0]["text"]


async def test_an_edit_refused_for_now_is_made_later(linli: Harness) -> None:
    """The next step of a dialog edits the pressed message; when Telegram says "too many requests" the
    edit is not dropped (the dialog would look stuck) but made by the outbox a moment later."""
    await linli.create_community()
    await linli.register(103, "赵阿姨")
    menu = (await linli.say(103, "/lang"))[-1]
    await linli.tg.set_faults(share_429=1.0, seed=5, methods=["editMessageText"])
    result = await linli.tg.tap(103, menu["chat_id"], menu["message_id"], text="English")
    assert result.get("answer") is not None  # the press itself was answered
    await linli.standin.settle()
    await asyncio.sleep(0.3)
    unchanged = await linli.last(103)
    assert unchanged["message_id"] == menu["message_id"] and unchanged["text"] == menu["text"]
    await linli.tg.set_faults(share_429=0.0)
    linli.clock.advance(seconds=5)
    linli.app.sender.wake()  # type: ignore[union-attr]
    await linli.settle()
    edited = await linli.last(103)
    assert edited["message_id"] == menu["message_id"] and edited["text"] != menu["text"] and edited["edited"]
