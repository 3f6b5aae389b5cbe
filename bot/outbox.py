"""The outbox sender: drains OutboxMessage rows within Telegram's limits (bot/outbox_rate.py).

- A pool of at most `concurrency` calls that refills as each call ends: one slow call holds one slot, never
  the others (each call is bounded by the runtime's call timeout, `telegram_call_timeout`).
- A chat's deferred direct replies go before its notices (`priority`), and a chat's next row waits until its
  previous one is done, so order is kept; a sealed payload (every deferred reply) is opened in memory only.
- Claims (flows/outbox.py `claim`): a row is marked `sending` by this sender (`claimed_by`, a lease) with
  UPDATE … RETURNING over SELECT … FOR UPDATE SKIP LOCKED, and only the rows returned are sent, so two
  senders on one PostgreSQL database never send the same row.
- Outcomes are recorded as each call returns (the finished ones coalesced into one short transaction). A
  record that fails is retried with back-off until it sticks; meanwhile the row stays "sent, recording" in
  memory and claimed in the database (its lease renewed), so it is never sent again.
- On start, and every few seconds, the `sending` rows of a sender of this host that is gone (its process
  ended, or it was this process's pid in a previous life: a restarted container) are given back at once;
  others' rows are given back when their lease runs out (a sender renews its leases while it lives).
- The sender elected to the "sender" role (`SenderRole`, bot/election.py) takes back at once, on its first
  round, the `sending` rows of every other sender, of any host: only the role's holder sends, so they are a
  previous holder's, and a holder stops starting calls when it loses the role (on SQLite it gives the role up
  while a third of its lease is left, before anybody may take it; on PostgreSQL its lock went with its
  session). A dead holder on another host is so replaced within the role's lease, its rows with it; the claim
  lease is the role's lease too (renewed at least every third of it), so a sender outside the election agrees.
- 5xx and network errors are retried with exponential back-off; 403 marks the recipient unreachable and
  stops; 400 fails the row for good; 429 pauses that chat for `retry_after`.

What can still go out twice (no Bot API call is idempotent): a call Telegram accepted whose answer was lost
(a timeout or a reset after the request went out: counted in `stats.maybe_duplicated` — the sender's own
retries, and direct replies deferred after such a loss — and rare with long call timeouts), and a call answered just before this process was killed (kill -9, power loss) and not yet
recorded: it is sent again after the restart (`stats.taken_back` counts the rows given back).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import random
import secrets
import socket
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from bot.core.gateway import ApiError, Gateway
from bot.core.types import OutMessage
from bot.election import Role
from bot.outbox_rate import Bucket, Limits, RateLimiter
from flows import outbox
from flows.clock import Clock
from flows.outbox import Outcome, opened
from storage.crypto import Sealer
from storage.db import Database
from storage.leases import process_ended
from storage.models import OutboxMessage
from storage.outage import unreachable

__all__ = ["Bucket", "Limits", "OutboxSender", "RateLimiter", "SenderRole", "SenderStats", "edit_or_send"]

log = logging.getLogger("linli.outbox")

#: A claim's lease: the role's (storage/leases.py, `LINLI_ROLE_LEASE_SECONDS`), renewed at least every third of it.
LEASE = timedelta(seconds=20)
MAX_ATTEMPTS = 8
#: Seconds between housekeeping passes of a running sender (renew own leases, give back gone senders' rows).
HOUSEKEEPING = 5.0
#: Seconds the recorder waits after a call ends for others to end too (one transaction for them all): at most a
#: quarter of a chat's interval (a chat's next row waits for the record, and could not go sooner anyway), at most
#: 0.1 s (what a kill -9 may leave sent but unrecorded: 3 rows at 30/s). One transaction a call cost the sender
#: 25 % of its rate on a loaded machine (SQLite's writes go through aiosqlite's thread).
RECORD_GATHER = 0.1
#: Longest wait between two tries to record outcomes while the database refuses.
RECORD_BACKOFF_MAX = 10.0

#: The senders alive in this process: a claim with this host and pid that is not one of them is a previous
#: life's (the same pid after a restart, as a container's pid 1 always is).
_LIVE: set[str] = set()


def _host() -> str:
    return socket.gethostname()[:40] or "localhost"


def new_sender_id() -> str:
    """This sender's name in the claims: host, process id and a random token ("host:pid:token")."""
    return f"{_host()}:{os.getpid()}:{secrets.token_hex(4)}"


def gone(claimant: str) -> bool:
    """Whether the sender named `claimant` is known to be gone: of this host, and its process ended, or it had
    this process's pid but is not one of its live senders. A sender of another host is never known gone
    (its rows wait for their lease)."""
    host, _, rest = claimant.partition(":")
    pid_text, _, _token = rest.partition(":")
    if host != _host() or not pid_text.isdigit() or int(pid_text) <= 0:
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return claimant not in _LIVE
    return process_ended(pid)


@dataclass
class SenderStats:
    sent: int = 0
    retried_429: int = 0
    retried_other: int = 0
    failed: int = 0
    dead: int = 0
    #: calls retried after their answer was lost (timeout, reset): Telegram may have taken them, and the
    #: retry may show the message twice — the only duplicates a running sender makes
    maybe_duplicated: int = 0
    #: rows of a sender of this host that was gone (killed mid-call) given back at once, and, when elected to
    #: the sender role, rows of the previous holders (any host)
    taken_back: int = 0
    #: failed tries to record outcomes (the database refused; retried until they stuck)
    record_retries: int = 0
    by_status: dict[str, int] = field(default_factory=dict)


Renderer = Callable[[dict[str, Any]], OutMessage]
#: An outbox op that is a call of its own, not a message (payload["op"] names it; e.g. "menu": setMyCommands
#: for one chat, bot/menus.py): (gateway, chat id, payload) → None.
Op = Callable[[Gateway, int, dict[str, Any]], Awaitable[None]]
#: Draws a picture for an outbox row with op "compose" (payload, download(file_id) → bytes) → JPEG/PNG bytes.
Composer = Callable[[dict[str, Any], Callable[[str], Awaitable[bytes]]], Awaitable[bytes]]


def default_composers() -> dict[str, Composer]:
    """The pictures features ask the sender to compose (payload["picture"] names one)."""
    from bot.pictures import compare

    return {"comparison": compare.for_outbox}


def default_ops() -> dict[str, Op]:
    """The calls features queue that are not messages (payload["op"] names one): each person's menu."""
    from bot.handlers import build_router
    from bot.menus import MenuOp

    return {"menu": MenuOp(build_router().commands)}


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


def _deferred_after_lost_answer(row: OutboxMessage, sealer: Sealer | None) -> bool:
    """A direct reply deferred because the answer to sending it was lost (bot/core/delivery.py)."""
    if outbox.SEALED not in row.payload:
        return False
    try:
        return bool(opened(row.payload, sealer).get("maybe_sent"))
    except ValueError:
        return False


class OutboxSender:
    def __init__(self, *, db: Database, gateway: Gateway, clock: Clock, render: Renderer,
                 limits: Limits | None = None, concurrency: int = 16, lease: timedelta = LEASE,
                 composers: Mapping[str, Composer] | None = None, sealer: Sealer | None = None,
                 sender_id: str | None = None, ops: Mapping[str, Op] | None = None) -> None:
        self.db = db
        self._ops = dict(ops) if ops is not None else None  # the defaults are built at the first op row
        self.sealer = sealer  # opens deferred replies (sealed at rest); without it such a row fails
        self.composers = dict(composers) if composers is not None else default_composers()
        self._pictures: dict[str, bytes] = {}  # composed once, sent to every group of a post
        self._compose_lock = asyncio.Lock()
        self.gateway = gateway
        self.clock = clock
        self.render = render
        self.limiter = RateLimiter(limits or Limits())
        self.concurrency = max(1, concurrency)
        self.lease = lease
        self.stats = SenderStats()
        self.id = sender_id or new_sender_id()
        _LIVE.add(self.id)
        self._wake = asyncio.Event()
        self._rounds = 0
        self._calls: set[asyncio.Task[None]] = set()  # calls under way, one slot each
        self._unrecorded: list[Outcome] = []  # calls answered whose outcome is not written yet
        self._to_record = asyncio.Event()
        self._recording = asyncio.Lock()
        self._housekept = 0.0
        self._stopping: asyncio.Event | None = None  # set: start no more calls
        self._take_over = False  # elected: the next housekeeping gives back every other sender's rows

    @property
    def ops(self) -> dict[str, Op]:
        if self._ops is None:
            self._ops = default_ops()
        return self._ops

    @property
    def batch(self) -> int:
        return max(10, int(self.limiter.limits.overall))

    @property
    def busy(self) -> int:
        """Rows claimed by this sender and not yet recorded (calls under way or outcomes to write)."""
        return len(self._calls) + len(self._unrecorded)

    def wake(self) -> None:
        self._wake.set()

    # ------------------------------------------------------------------ the loop
    async def run(self, stop: asyncio.Event, idle: float = 0.5, *, elected: bool = False) -> None:
        """Send until `stop` is set. `elected`: this sender holds the sender role, and takes back every other
        sender's rows on its first round (they belong to previous holders)."""
        log.info("outbox sender %s started%s", self.id, " (elected)" if elected else "")
        _LIVE.add(self.id)
        self._stopping = stop
        self._take_over = elected
        if self._unrecorded:  # outcomes a previous run could not write (the database was away when it stopped)
            self._to_record.set()
        recorder = asyncio.create_task(self._recorder(stop), name="outbox-recorder")
        refill_at = max(1, self.concurrency // 2)
        away = False  # the database could not be reached on the last round
        try:
            while not stop.is_set():
                claimed = 0
                self._wake.clear()  # a wake from here on (a call ended meanwhile) cuts the next pause short
                try:
                    if time.monotonic() - self._housekept >= min(HOUSEKEEPING, self.lease.total_seconds() / 3):
                        await self._housekeeping()
                    free = self.concurrency - len(self._calls)
                    # refill when half the slots are free (or few calls are left), not after every call: the other
                    # half still holds calls for a quarter second at 30/s
                    if free >= refill_at or len(self._calls) < refill_at:
                        claimed = await self._claim_and_start(free)
                    away = False
                except Exception as exc:
                    if not unreachable(exc):
                        log.exception("outbox round failed")
                    elif not away:  # one line per outage, not a traceback every round
                        log.warning("outbox: database unreachable (%s); trying again every round", type(exc).__name__)
                    away = unreachable(exc)
                if claimed == 0 or len(self._calls) >= self.concurrency:
                    await self._pause(stop, idle)
        finally:
            await self._finish(recorder)
            log.info("outbox sender %s stopped", self.id)

    async def _pause(self, stop: asyncio.Event, idle: float) -> None:
        """Until woken (new rows, a call ended, outcomes recorded), stopped, or `idle` seconds."""
        waiter = asyncio.ensure_future(self._wake.wait())
        stopper = asyncio.ensure_future(stop.wait())
        await asyncio.wait({waiter, stopper}, timeout=idle, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        stopper.cancel()

    async def _finish(self, recorder: asyncio.Task[None]) -> None:
        """On stop: let the calls under way end (each is bounded by the call timeout), then write what they
        returned; a row left unrecorded stays claimed and is given back at the next start."""
        cut = 0
        if self._calls:
            _done, pending = await asyncio.wait(set(self._calls), timeout=30)
            for task in pending:
                task.cancel()
            if pending:
                cut = len(pending)
                await asyncio.wait(pending, timeout=5)
        recorder.cancel()
        try:
            await recorder
        except asyncio.CancelledError:
            pass
        try:
            await self._flush(deadline=time.monotonic() + 10)
        except Exception:
            log.exception("outbox outcomes not recorded on stop")
        if self.busy or cut:
            log.warning("outbox sender stopped with %s rows unrecorded: they are sent again at the next start",
                        self.busy + cut)
        _LIVE.discard(self.id)  # gone: a sender started after this one takes back what it left at once

    async def drain_once(self) -> int:
        """One round: claim what is due and allowed now, send it, record the outcomes (tests and tools)."""
        if self._rounds % 20 == 0:
            await self._housekeeping()
        claimed = await self._claim_and_start(min(self.batch, self.concurrency - len(self._calls)))
        if self._calls:
            await asyncio.wait(set(self._calls))
        await self._flush()
        return claimed

    # ------------------------------------------------------------------ claiming
    async def _claim_and_start(self, free: int) -> int:
        """Claim up to `free` rows and start a call for each; how many."""
        self._rounds += 1
        if self._rounds % 100 == 0:
            self.limiter.forget_idle()
        if free <= 0:
            return 0
        now = self.clock.now()
        async with self.db.uow(write=True) as uow:
            candidates = await outbox.heads(uow, now=now, scan=self.batch * 4)
            chosen = [row_id for row_id, chat_id in candidates if self.limiter.chat_ready(chat_id)][:free]
            if not chosen:
                return 0
            rows = await outbox.claim(uow, chosen, sender=self.id, now=now, lease=self.lease)
            await uow.commit()
        for row in rows:
            self.limiter.take_chat(row.tg_chat_id)
            task = asyncio.create_task(self._one(row), name=f"outbox-row-{row.id}")
            self._calls.add(task)
            task.add_done_callback(self._call_ended)
        return len(rows)

    def _call_ended(self, task: asyncio.Task[None]) -> None:
        self._calls.discard(task)
        self._wake.set()

    # ------------------------------------------------------------------ one call
    async def _one(self, row: OutboxMessage) -> None:
        if not self._stopped():
            await self.limiter.take_overall()
        if self._stopped():  # stopped (the role lost) before its call began: not sent, given back as it was
            self._unrecorded.append(Outcome(row_id=row.id or 0, chat_id=row.tg_chat_id, kind="wait",
                                            recipient=row.recipient_user_id, attempts=row.attempts))
            self._to_record.set()
            return
        error: ApiError | None = None
        message_id: int | None = None
        try:
            message_id = await self._call(row)
        except ApiError as err:
            error = err
        except (KeyError, ValueError, TypeError) as err:  # a row we cannot render: fail it, keep going
            log.error("outbox row %s cannot be rendered: %s", row.id, type(err).__name__)
            error = ApiError(ApiError.BAD_REQUEST, f"render: {type(err).__name__}")
        except Exception as err:  # anything else the client library raises: retry, never leave a row claimed
            log.exception("outbox row %s: unexpected error from the Telegram client", row.id)
            error = ApiError(ApiError.TRANSIENT, f"unexpected: {type(err).__name__}", maybe_sent=True)
        self._unrecorded.append(self._outcome(row, message_id, error))
        self._to_record.set()

    def _stopped(self) -> bool:
        return self._stopping is not None and self._stopping.is_set()

    async def _call(self, row: OutboxMessage) -> int | None:
        payload = opened(row.payload, self.sealer)
        op = self.ops.get(str(payload.get("op"))) if "op" in payload else None
        if op is not None:
            await op(self.gateway, row.tg_chat_id, payload)
            return None
        if payload.get("op") == "pin":
            await self.gateway.pin(row.tg_chat_id, int(payload["message_id"]))
            return None
        if payload.get("op") == "delete":  # a message the bot posted, taken back (a message already gone counts as done)
            try:
                await self.gateway.delete(row.tg_chat_id, int(payload["message_id"]))
            except ApiError as err:
                if "not found" not in err.description:
                    raise
            return None
        if payload.get("op") == "edit_or_send":
            return await edit_or_send(self.gateway, row.tg_chat_id, self.render(payload), payload.get("message_id"),
                                      pin=bool(payload.get("pin")), pin_edited=bool(payload.get("pin_edited")),
                                      pace=self.limiter.take_overall)
        if payload.get("op") == "compose":
            message = self.render(payload)
            return await self._send_picture(row.tg_chat_id, message, await self._picture(payload))
        return await self.gateway.send(row.tg_chat_id, self.render(payload))

    def _outcome(self, row: OutboxMessage, message_id: int | None, err: ApiError | None) -> Outcome:
        base = {"row_id": row.id or 0, "chat_id": row.tg_chat_id, "recipient": row.recipient_user_id,
                "attempts": row.attempts}
        if err is None:
            self.stats.sent += 1
            if row.attempts == 0 and _deferred_after_lost_answer(row, self.sealer):
                self.stats.maybe_duplicated += 1  # a direct reply whose first answer was lost, sent again
            return Outcome(kind="sent", message_id=message_id, **base)
        if err.kind == ApiError.RETRY_AFTER:
            self.limiter.pause(row.tg_chat_id, err.retry_after)
            self.stats.retried_429 += 1
            return Outcome(kind="wait", delay=err.retry_after, error=err.description, **base)
        if err.kind == ApiError.TRANSIENT and row.attempts + 1 < MAX_ATTEMPTS:
            self.stats.retried_other += 1
            if err.maybe_sent:
                self.stats.maybe_duplicated += 1
                log.warning("outbox row %s: the answer was lost (%s); sending it again may show it twice",
                            row.id, err.description[:100])
            delay = min(300.0, 2.0 ** row.attempts) * (0.5 + random.random() / 2)
            return Outcome(kind="retry", delay=delay, error=err.description, **base)
        if err.kind == ApiError.FORBIDDEN:
            self.stats.dead += 1
            return Outcome(kind="dead", error=err.description, **base)
        log.warning("outbox row %s failed: %s", row.id, err.description[:200])
        self.stats.failed += 1
        return Outcome(kind="failed", error=err.description, **base)

    # ------------------------------------------------------------------ recording
    async def _recorder(self, stop: asyncio.Event) -> None:
        """Write outcomes as calls return; while the database refuses, try again with growing pauses."""
        while True:
            await self._to_record.wait()
            # let a few more calls end: one transaction for them all
            await asyncio.sleep(min(RECORD_GATHER, 0.25 / self.limiter.limits.per_chat))
            self._to_record.clear()
            await self._flush()
            self._wake.set()  # a chat whose row was recorded may send its next one

    async def _flush(self, deadline: float | None = None) -> None:
        """Write every outcome not yet written, retrying with back-off (until `deadline`, monotonic)."""
        delay = 0.2
        while self._unrecorded:
            try:
                await self._record_some()
                delay = 0.2
            except Exception as exc:
                self.stats.record_retries += 1
                if deadline is not None and time.monotonic() + delay > deadline:
                    raise
                log.warning("outbox outcomes not recorded (%s); %s rows kept as sent-recording, retry in %.1f s",
                            type(exc).__name__, len(self._unrecorded), delay)
                await asyncio.sleep(delay)
                delay = min(RECORD_BACKOFF_MAX, delay * 2)

    async def _record_some(self, limit: int = 100) -> None:
        async with self._recording:
            batch = self._unrecorded[:limit]
            if not batch:
                return
            async with self.db.uow(write=True) as uow:
                lost = await outbox.record(uow, batch, sender=self.id, now=self.clock.now())
                await uow.commit()
            del self._unrecorded[:len(batch)]
        called = {o.row_id for o in batch if o.kind != "wait" or o.delay > 0}  # not the calls never begun
        lost = [row_id for row_id in lost if row_id in called]
        if lost:
            log.error("outbox rows %s were given back to another sender while this one sent them: they may have "
                      "gone out twice", lost[:20])

    # ------------------------------------------------------------------ housekeeping
    async def _housekeeping(self) -> None:
        """Renew this sender's leases (before the expiry check, so its own rows never run out while it lives);
        give back the rows of senders that are gone, and of expired leases."""
        self._housekept = time.monotonic()
        now = self.clock.now()
        take_over = self._take_over
        async with self.db.uow(write=True) as uow:
            if self.busy:
                await outbox.renew(uow, sender=self.id, until=now + self.lease)
            dead = [c for c in await outbox.claimants(uow) if c != self.id and (take_over or gone(c))]
            taken = await outbox.release(uow, claimants=dead)
            expired = await outbox.requeue_expired(uow, now=now)
            await uow.commit()
        self._take_over = False
        if taken:
            self.stats.taken_back += taken
            if take_over:
                log.warning("elected sender: took back at once %s outbox rows of the previous holder(s) %s; a row "
                            "whose call Telegram had answered just before that holder stopped goes out again",
                            taken, ", ".join(sorted(dead))[:300])
            else:
                log.warning("took back %s outbox rows of a stopped sender of this host at once; a row whose call "
                            "Telegram had answered just before the stop goes out again", taken)
        if expired:
            log.warning("requeued %s outbox rows whose sender stopped mid-call", expired)

    async def take_back(self) -> int:
        """Give back at once the rows a gone sender of this host had claimed (run on start); how many."""
        before = self.stats.taken_back
        await self._housekeeping()
        return self.stats.taken_back - before

    def role(self) -> Role:
        """The sender's work as the elected "sender" role (bot/election.py)."""
        return SenderRole(self).role()

    # ------------------------------------------------------------------ pictures
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


class SenderRole:
    """Runs `sender` while this process holds the "sender" role: started elected (it takes back the previous
    holders' rows at once), stopped when the role is lost or given back (it starts no call after that, ends
    those under way and records them)."""

    def __init__(self, sender: OutboxSender) -> None:
        self.sender = sender
        self._run: tuple[asyncio.Event, asyncio.Task[None]] | None = None

    def role(self) -> Role:
        return Role("sender", self.start, self.stop)

    async def start(self) -> None:
        stop = asyncio.Event()
        self._run = (stop, asyncio.create_task(self.sender.run(stop, elected=True), name="outbox"))

    async def stop(self) -> None:
        if self._run is not None:
            stop, task = self._run
            self._run = None
            stop.set()
            self.sender.wake()
            await task
