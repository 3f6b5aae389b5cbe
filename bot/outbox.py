"""The outbox sender: drains OutboxMessage rows within Telegram's limits.

- Token buckets: overall (30/s), per chat (1/s), per group (20/min, of which the sender takes only
  three quarters: the rest is left to the direct replies the bot sends at once, so a group's notices
  never use up the budget its people's commands are answered from); a 429 pauses that chat for
  `retry_after`.
- A chat's deferred direct replies go before its notices (`priority`); a sealed payload (every
  deferred reply) is opened in memory only.
- A row is claimed (status `sending`, with a lease) before the call and marked `sent` with
  Telegram's message id after it; rows whose lease ran out (a crash mid-call) are taken again.
- 5xx and network errors are retried with exponential back-off; 403 marks the recipient
  unreachable and stops; 400 fails the row for good.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import random
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select

from bot.core.gateway import ApiError, Gateway
from bot.core.types import OutMessage
from flows import membership
from flows.clock import Clock
from flows.outbox import opened
from storage.crypto import Sealer
from storage.db import Database
from storage.models import OutboxMessage

log = logging.getLogger("linli.outbox")

LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 8


class Bucket:
    """A token bucket on the monotonic clock."""

    def __init__(self, rate: float, capacity: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.stamp = time.monotonic()
        self.paused_until = 0.0

    def _refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_time(self) -> float:
        now = time.monotonic()
        self._refill(now)
        if now < self.paused_until:
            return self.paused_until - now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self) -> None:
        self._refill(time.monotonic())
        self.tokens -= 1

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, time.monotonic() + seconds)
        self.tokens = min(self.tokens, 0)


@dataclass
class Limits:
    overall: float = 30.0
    per_chat: float = 1.0
    per_group_minute: int = 20
    #: the share of a group's per-minute budget the sender leaves to direct replies (sent at once, not queued)
    group_reserve: float = 0.25


class RateLimiter:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        # a tenth of a second's worth of burst: Telegram does not lend a whole second at once
        self.overall = Bucket(limits.overall, max(1.0, limits.overall / 10))
        self.chats: dict[int, Bucket] = {}
        self.groups: dict[int, Bucket] = {}

    def _chat(self, chat_id: int) -> Bucket:
        b = self.chats.get(chat_id)
        if b is None:
            b = self.chats[chat_id] = Bucket(self.limits.per_chat, 1.0)
        return b

    def _group(self, chat_id: int) -> Bucket | None:
        if chat_id > 0:
            return None
        b = self.groups.get(chat_id)
        if b is None:
            per_minute = max(1.0, self.limits.per_group_minute * (1 - self.limits.group_reserve))
            b = self.groups[chat_id] = Bucket(per_minute / 60, float(int(per_minute)))
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
        while (wait := self.overall.wait_time()) > 0:
            await asyncio.sleep(wait)
        self.overall.take()

    def pause(self, chat_id: int, seconds: float) -> None:
        self._chat(chat_id).pause(seconds)

    def forget_idle(self) -> None:
        """Drop full buckets so memory stays flat with many chats."""
        for table in (self.chats, self.groups):
            for key in [k for k, b in table.items() if b.wait_time() == 0 and b.tokens >= b.capacity]:
                del table[key]


@dataclass
class SenderStats:
    sent: int = 0
    retried_429: int = 0
    retried_other: int = 0
    failed: int = 0
    dead: int = 0
    by_status: dict[str, int] = field(default_factory=dict)


Renderer = Callable[[dict[str, Any]], OutMessage]
#: Draws a picture for an outbox row with op "compose" (payload, download(file_id) → bytes) → JPEG/PNG bytes.
Composer = Callable[[dict[str, Any], Callable[[str], Awaitable[bytes]]], Awaitable[bytes]]


def default_composers() -> dict[str, Composer]:
    """The pictures features ask the sender to compose (payload["picture"] names one)."""
    from bot.pictures import compare

    return {"comparison": compare.for_outbox}


@dataclass
class _Outcome:
    row_id: int
    chat_id: int
    recipient: int | None
    message_id: int | None = None
    error: ApiError | None = None
    attempts: int = 0


async def edit_or_send(gateway: Gateway, chat_id: int, message: OutMessage, message_id: int | None, *,
                       pin: bool, pin_edited: bool = False,
                       pace: Callable[[], Awaitable[None]] | None = None) -> int:
    """The "edit_or_send" op: replace the text of a message the bot posted before (unchanged text counts as
    done) and pin it if `pin_edited`, or — without one, or when it is gone — send a new message and pin it
    if `pin`. A pin Telegram refuses leaves the message as it is. Every call after the first waits for
    `pace` (the sender's overall rate). Returns the message's id."""
    if message_id:
        try:
            await gateway.edit(chat_id, int(message_id), message)
            edited = True
        except ApiError as err:
            if err.kind != ApiError.BAD_REQUEST:
                raise
            edited = "not modified" in err.description
            if not edited:
                log.info("message %s in chat %s cannot be edited (%s): sending a new one", message_id, chat_id,
                         err.description[:100])
        if edited:
            if pin_edited:
                await _pin(gateway, chat_id, int(message_id), pace)
            return int(message_id)
        if pace is not None:
            await pace()
    new_id = await gateway.send(chat_id, message)
    if pin:
        await _pin(gateway, chat_id, new_id, pace)
    return new_id


async def _pin(gateway: Gateway, chat_id: int, message_id: int, pace: Callable[[], Awaitable[None]] | None) -> None:
    if pace is not None:
        await pace()
    try:
        await gateway.pin(chat_id, message_id)
    except ApiError as err:
        log.warning("could not pin message %s in chat %s: %s", message_id, chat_id, err.description[:100])


class OutboxSender:
    def __init__(self, *, db: Database, gateway: Gateway, clock: Clock, render: Renderer,
                 limits: Limits | None = None, concurrency: int = 16, lease: timedelta = LEASE,
                 composers: Mapping[str, Composer] | None = None, sealer: Sealer | None = None) -> None:
        self.db = db
        self.sealer = sealer  # opens deferred replies (sealed at rest); without it such a row fails
        self.composers = dict(composers) if composers is not None else default_composers()
        self._pictures: dict[str, bytes] = {}  # composed once, sent to every group of a post
        self._compose_lock = asyncio.Lock()
        self.gateway = gateway
        self.clock = clock
        self.render = render
        self.limiter = RateLimiter(limits or Limits())
        self.concurrency = concurrency
        self.lease = lease
        self.stats = SenderStats()
        self._wake = asyncio.Event()
        self._rounds = 0

    @property
    def batch(self) -> int:
        return max(10, int(self.limiter.limits.overall))

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event, idle: float = 0.5) -> None:
        log.info("outbox sender started")
        while not stop.is_set():
            try:
                handled = await self.drain_once()
            except Exception:
                log.exception("outbox round failed")
                handled = 0
            if handled == 0:
                self._wake.clear()
                waiter = asyncio.ensure_future(self._wake.wait())
                stopper = asyncio.ensure_future(stop.wait())
                await asyncio.wait({waiter, stopper}, timeout=idle, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                stopper.cancel()
        log.info("outbox sender stopped")

    async def drain_once(self) -> int:
        """One round: take what is due and allowed now, send it, record the outcomes."""
        now = self.clock.now()
        if self._rounds % 20 == 0:
            await self._requeue_expired(now)
        async with self.db.uow(write=True) as uow:
            rows = (
                await uow.session.exec(
                    select(OutboxMessage)
                    .where(OutboxMessage.status.in_(("pending", "sending")))  # type: ignore[attr-defined]
                    .order_by(col(OutboxMessage.priority), col(OutboxMessage.id))
                    .limit(self.batch * 4)
                )
            ).all()
            chosen: list[OutboxMessage] = []
            seen: set[int] = set()
            for row in rows:
                # Only a chat's first unsent row may go (its deferred replies, then its notices, each
                # oldest first), and one per chat per round, so a chat's messages keep their order
                # even when one of them waits for a retry.
                first_of_chat = row.tg_chat_id not in seen
                seen.add(row.tg_chat_id)
                if not first_of_chat or row.status != "pending" or row.not_before > now:
                    continue
                if not self.limiter.chat_ready(row.tg_chat_id):
                    continue
                chosen.append(row)
                if len(chosen) >= self.batch:
                    break
            if not chosen:
                self._rounds += 1
                return 0
            ids = [r.id for r in chosen]
            await uow.session.exec(
                update(OutboxMessage)
                .where(col(OutboxMessage.id).in_(ids), col(OutboxMessage.status) == "pending")
                .values(status="sending", lease_until=now + self.lease)
            )
            await uow.commit()
        for row in chosen:
            self.limiter.take_chat(row.tg_chat_id)
        outcomes = await self._send_all(chosen)
        await self._record(outcomes)
        self._rounds += 1
        if self._rounds % 100 == 0:
            self.limiter.forget_idle()
        return len(chosen)

    async def _send_all(self, rows: list[OutboxMessage]) -> list[_Outcome]:
        sem = asyncio.Semaphore(self.concurrency)
        tasks = []
        for row in rows:
            await self.limiter.take_overall()
            await sem.acquire()
            tasks.append(asyncio.create_task(self._send_one(row, sem)))
        return list(await asyncio.gather(*tasks))

    async def _send_one(self, row: OutboxMessage, sem: asyncio.Semaphore) -> _Outcome:
        out = _Outcome(row_id=row.id or 0, chat_id=row.tg_chat_id, recipient=row.recipient_user_id,
                       attempts=row.attempts)
        try:
            payload = opened(row.payload, self.sealer)
            if payload.get("op") == "pin":
                await self.gateway.pin(row.tg_chat_id, int(payload["message_id"]))
            elif payload.get("op") == "edit_or_send":
                out.message_id = await edit_or_send(self.gateway, row.tg_chat_id, self.render(payload),
                                                    payload.get("message_id"), pin=bool(payload.get("pin")),
                                                    pin_edited=bool(payload.get("pin_edited")),
                                                    pace=self.limiter.take_overall)
            elif payload.get("op") == "compose":
                message = self.render(payload)
                out.message_id = await self._send_picture(row.tg_chat_id, message, await self._picture(payload))
            else:
                message = self.render(payload)
                out.message_id = await self.gateway.send(row.tg_chat_id, message)
        except ApiError as err:
            out.error = err
        except (KeyError, ValueError, TypeError) as err:  # a row we cannot render: fail it, keep going
            log.error("outbox row %s cannot be rendered: %s", row.id, type(err).__name__)
            out.error = ApiError(ApiError.BAD_REQUEST, f"render: {type(err).__name__}")
        except Exception as err:  # anything else the client library raises: retry, never leave a row claimed
            log.exception("outbox row %s: unexpected error from the Telegram client", row.id)
            out.error = ApiError(ApiError.TRANSIENT, f"unexpected: {type(err).__name__}")
        finally:
            sem.release()
        return out

    async def _picture(self, payload: dict[str, Any]) -> bytes:
        """The composed picture of a "compose" row; the same picture for many chats is drawn once."""
        composer = self.composers[payload["picture"]]
        key = hashlib.sha256(json.dumps([payload["picture"], payload.get("lang"), payload.get("params")],
                                        sort_keys=True, default=str).encode()).hexdigest()
        async with self._compose_lock:
            if key not in self._pictures:
                if len(self._pictures) >= 8:
                    self._pictures.pop(next(iter(self._pictures)))
                self._pictures[key] = await composer(payload, self.gateway.download)
            return self._pictures[key]

    async def _send_picture(self, chat_id: int, message: OutMessage, picture: bytes) -> int:
        fd, path = tempfile.mkstemp(prefix="linli-", suffix=".jpg")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(picture)
            return await self.gateway.send(chat_id, replace(message, photo=path))
        finally:
            os.unlink(path)

    async def _record(self, outcomes: list[_Outcome]) -> None:
        now = self.clock.now()
        async with self.db.uow(write=True) as uow:
            for o in outcomes:
                values: dict[str, Any]
                err = o.error
                if err is None:
                    values = {"status": "sent", "sent_at": now, "tg_message_id": o.message_id, "lease_until": None}
                    self.stats.sent += 1
                elif err.kind == ApiError.RETRY_AFTER:
                    self.limiter.pause(o.chat_id, err.retry_after)
                    values = {"status": "pending", "lease_until": None,
                              "not_before": now + timedelta(seconds=err.retry_after)}
                    self.stats.retried_429 += 1
                elif err.kind == ApiError.TRANSIENT and o.attempts + 1 < MAX_ATTEMPTS:
                    delay = min(300.0, 2.0 ** o.attempts) * (0.5 + random.random() / 2)
                    values = {"status": "pending", "lease_until": None, "attempts": o.attempts + 1,
                              "not_before": now + timedelta(seconds=delay), "last_error": err.description[:500]}
                    self.stats.retried_other += 1
                elif err.kind == ApiError.FORBIDDEN:
                    values = {"status": "dead", "lease_until": None, "last_error": err.description[:500]}
                    await membership.mark_unreachable(uow, user_id=o.recipient, tg_chat_id=o.chat_id, now=now)
                    self.stats.dead += 1
                else:
                    values = {"status": "failed", "lease_until": None, "attempts": o.attempts + 1,
                              "last_error": err.description[:500]}
                    log.warning("outbox row %s failed: %s", o.row_id, err.description[:200])
                    self.stats.failed += 1
                await uow.session.exec(update(OutboxMessage).where(col(OutboxMessage.id) == o.row_id).values(**values))
            await uow.commit()

    async def _requeue_expired(self, now: datetime) -> None:
        async with self.db.uow(write=True) as uow:
            result = await uow.session.exec(
                update(OutboxMessage)
                .where(col(OutboxMessage.status) == "sending", col(OutboxMessage.lease_until) < now)
                .values(status="pending", lease_until=None)
            )
            if result.rowcount:
                log.warning("requeued %s outbox rows whose sender stopped mid-call", result.rowcount)
                await uow.commit()
