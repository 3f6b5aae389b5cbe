"""#11 item 4, "a holder that dies is replaced within 30 s" for the sender's rows too: a sender that dies on another
host leaves its rows `sending` with a claim no liveness check of this host can judge (its pid means nothing here).
The process elected to the sender role takes them back at once — safe, because only the role's holder sends and a
holder starts no call once it has lost the role — instead of waiting for the claim's lease (60 s before)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import timedelta

from sqlmodel import col, select

from bot.election import Elector, wall_clock
from bot.runtimes.aiogram_rt import AiogramRuntime
from bot.standin.client import StandInClient
from bot.standin.server import StandIn
from flows import outbox
from flows.clock import OffsetClock
from flows.outbox import Outcome
from storage.db import Database, is_sqlite
from storage.leases import AdvisoryLocks, role_locks
from storage.models import OutboxMessage
from tests.bot.conftest import TOKEN
from tests.delivery.test_sender import Limits, make_sender, messages_per_chat, open_chats, queue, statuses

EVERY = 0.1  # seconds between the electors' rounds here (default 5)
LEASE = timedelta(seconds=1.0)  # the role's lease here (default 20)
FAR_SENDER = "far-host:4242:0badc0de"  # a sender of another host: its pid says nothing about this machine
FAR_HOLDER = "far-host/4242"


async def _claimed_by_the_far_sender(db: Database, clock: OffsetClock) -> None:
    """Its rows as it left them: `sending`, claimed, with a claim lease of a minute still to run."""
    async with db.uow() as uow:
        for row in (await uow.session.exec(select(OutboxMessage))).all():
            row.status, row.claimed_by = "sending", FAR_SENDER
            row.lease_until = clock.now() + timedelta(seconds=60)
            uow.session.add(row)
        await uow.commit()


async def test_item4_a_dead_sender_of_another_host_is_replaced_with_its_rows_within_the_role_lease(
        db: Database, db_url: str, standin: StandIn, tg: StandInClient) -> None:
    ids = [1200, 1201, 1202, 1203, 1204]
    open_chats(standin, ids)
    clock = OffsetClock()
    await queue(db, clock, ids)
    await _claimed_by_the_far_sender(db, clock)
    far = role_locks(db, FAR_HOLDER, lease=LEASE, check_timeout=1.0)
    assert await far.hold(["sender"], wall_clock()) == {"sender"}  # the far host holds the role, then dies

    runtime = AiogramRuntime(TOKEN, standin.url)
    sender = make_sender(db, runtime.gateway, clock, lease=LEASE)
    here = Elector(role_locks(db, "near-host/7", lease=LEASE, check_timeout=1.0), [sender.role()], every=EVERY)
    stop = asyncio.Event()
    try:
        assert await here.step() == set()  # a standby while the far host holds the role
        started = time.monotonic()
        if isinstance(far, AdvisoryLocks) and far.connection is not None:
            await far.connection.invalidate()  # its process is gone: PostgreSQL ends its session and its lock
        # (SQLite: it renews no more; its lease lapses)
        task = asyncio.create_task(here.run(stop))
        while messages_per_chat(standin, ids) != Counter(dict.fromkeys(ids, 1)):
            assert time.monotonic() - started < 20, f"not re-sent: {await statuses(db)}"  # the claims' lease: 60 s
            await asyncio.sleep(0.05)
        took = time.monotonic() - started
        print(f"the far host's rows sent again {took:.2f} s after it died "
              f"({'SQLite' if is_sqlite(db_url) else 'PostgreSQL'})")
        assert took < LEASE.total_seconds() + 10 * EVERY + 2  # within the role's lease and a round or two
        assert here.held == {"sender"}
        assert sender.stats.taken_back == len(ids)
        while await statuses(db) != Counter({"sent": len(ids)}):  # recorded as their calls returned
            assert time.monotonic() - started < 20, await statuses(db)
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        assert messages_per_chat(standin, ids) == Counter(dict.fromkeys(ids, 1))  # and sent once
    finally:
        stop.set()
        await asyncio.gather(*(t for t in [locals().get("task")] if t is not None))
        await far.close()
        await runtime.stop()


async def test_item4_a_sender_that_loses_its_role_starts_no_more_calls(db: Database, standin: StandIn,
                                                                       tg: StandInClient) -> None:
    """The takeover is safe only if the old holder stops sending when it loses the role: the calls it had
    claimed but not begun (waiting for the overall rate) are given back unsent, not sent after the stop."""
    ids = list(range(1300, 1310))
    open_chats(standin, ids)
    clock = OffsetClock()
    await queue(db, clock, ids)
    runtime = AiogramRuntime(TOKEN, standin.url)
    sender = make_sender(db, runtime.gateway, clock, limits=Limits(overall=4, per_chat=100, per_group_minute=600),
                         concurrency=10)
    role = sender.role()
    try:
        await role.start()
        while sum(messages_per_chat(standin, ids).values()) < 2:
            await asyncio.sleep(0.01)
        await role.stop()  # the role lost: 8 claimed calls still wait for their turn at 4/s
        sent = sum(messages_per_chat(standin, ids).values())
        assert sent <= 3
        async with db.uow() as uow:
            rows = (await uow.session.exec(select(OutboxMessage).where(col(OutboxMessage.status) == "pending"))).all()
        assert len(rows) == len(ids) - sent  # given back as they were, for the next holder
        assert all(r.claimed_by is None and r.attempts == 0 for r in rows)
    finally:
        await runtime.stop()


async def test_item4_a_sender_that_gets_its_role_back_records_what_it_could_not_before(db: Database) -> None:
    """The role lost in a database cut: the sender stops, and the outcomes of its last calls cannot be written
    (they stay in memory, their rows claimed). Given the role back, it writes them at once — before, only once
    another call ended, and with nothing else to send those chats stayed `sending`."""
    clock = OffsetClock()
    await queue(db, clock, [1400])
    sender = make_sender(db, None, clock)
    async with db.uow() as uow:
        [row] = await outbox.claim(uow, [r.id or 0 for r in (await uow.session.exec(select(OutboxMessage))).all()],
                                   sender=sender.id, now=clock.now(), lease=LEASE)
        await uow.commit()
    sender._unrecorded.append(Outcome(row_id=row.id or 0, chat_id=1400, kind="sent", message_id=7))
    role = sender.role()
    try:
        await role.start()
        started = time.monotonic()
        while (await statuses(db))["sent"] != 1:
            assert time.monotonic() - started < 5, await statuses(db)
            await asyncio.sleep(0.05)
    finally:
        await role.stop()
