"""The ballot job: called with a fixed clock (a restart runs it again: nothing twice), and the real
APScheduler opening a ballot on time."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from sqlmodel import col, select

from flows import ballot
from flows.clock import FixedClock
from scheduler.runner import KEYED, TICKS, Scheduler, ballot_apply, ballot_tick
from storage.db import Database
from storage.models import Ballot, BallotMark, OutboxMessage
from tests.flows.test_ballot import NOW, SECRET, _cands, _create, _vote, build


async def _notices(db: Database) -> list[str]:
    async with db.uow() as uow:
        rows = (await uow.session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all()
    return [r.payload["notice"] for r in rows]


async def _status(db: Database, bid: int) -> str:
    async with db.uow() as uow:
        b = await uow.session.get(Ballot, bid)
        assert b is not None
        return b.status


async def test_the_tick_opens_reminds_and_closes_once(db: Database) -> None:
    w = await build(db)
    opens, closes = NOW + timedelta(hours=1), NOW + timedelta(days=3)
    bid = await _create(db, w, opens_at=opens, closes_at=closes, choose=2)
    woken: list[int] = []
    clock = FixedClock(NOW)

    def wake() -> None:
        woken.append(1)

    assert await ballot_tick(db, clock, wake) == {"opened": 0, "reminded": 0, "closed": 0}
    assert woken == [] and await _status(db, bid) == "draft"
    clock.set(opens + timedelta(minutes=5))  # the process was down at the opening time
    assert (await ballot_tick(db, clock, wake))["opened"] == 1
    assert woken == [1] and await _status(db, bid) == "open"
    assert (await ballot_tick(db, clock, wake))["opened"] == 0  # the job fires twice
    assert woken == [1]
    assert (await _notices(db)).count("ballot_open") == 5
    c = [x.id for x in await _cands(db, bid)]
    for who in ("rep1", "rep2", "rep3"):
        await _vote(db, w, who, bid, [c[0], c[1]], clock.now())
    await _vote(db, w, "rep4", bid, [c[2]], clock.now())
    clock.set(closes - timedelta(hours=20))
    assert (await ballot_tick(db, clock, wake))["reminded"] == 1  # only adminrep has not voted
    assert (await ballot_tick(db, clock, wake))["reminded"] == 0
    assert len(woken) == 2
    clock.set(closes + timedelta(minutes=1))
    assert (await ballot_tick(db, clock, wake, ballot_key=SECRET))["closed"] == 1  # closing opens the envelopes
    assert (await ballot_tick(db, clock, wake, ballot_key=SECRET))["closed"] == 0
    assert len(woken) == 3 and await _status(db, bid) == "closed"
    async with db.uow() as uow:
        assert [(p.number, p.title) for p in await ballot.projects(uow, community_id=w.community_id, year=2027)] == [
            (1, "项目1"), (2, "项目2")]
    notices = await _notices(db)
    assert notices.count("ballot_remind") == 1 and notices.count("ballot_result") == 3  # group + two admins


async def test_the_real_scheduler_opens_a_ballot(db: Database, db_url: str) -> None:
    w = await build(db)
    bid = await _create(db, w, opens_at=NOW + timedelta(minutes=1), closes_at=NOW + timedelta(days=3))
    clock = FixedClock(NOW + timedelta(minutes=1, seconds=1))
    woken: list[int] = []
    sched = Scheduler(db_url, db=db, clock=clock, name="test-ballot", on_outbox=lambda: woken.append(1),
                      tick_seconds=1)
    sched.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and await _status(db, bid) != "open":
            await asyncio.sleep(0.2)
    finally:
        sched.shutdown()
    assert await _status(db, bid) == "open" and woken
    assert (await _notices(db)).count("ballot_open") == 5


async def test_item4_the_apply_job_writes_sheets_in_batches(db: Database) -> None:
    """The job between the voters and the counted sheets: nothing while fewer than BATCH_MIN wait and not for
    long; then all of them in one run; without the ballot key it fails loudly rather than close uncounted."""
    w = await build(db)
    bid = await _create(db, w, closes_at=NOW + timedelta(days=3), choose=2)
    clock = FixedClock(NOW)
    await ballot_tick(db, clock)
    c = [x.id for x in await _cands(db, bid)]
    for who in ("rep1", "rep2", "rep3", "rep4"):
        await _vote(db, w, who, bid, [c[0]], clock.now())
    assert await ballot_apply(db, clock, ballot_key=SECRET) == 0  # four wait, just now
    await _vote(db, w, "adminrep", bid, [c[1]], clock.now())
    with pytest.raises(RuntimeError):
        await ballot_apply(db, clock)  # five wait, but the process cannot open them
    assert await ballot_apply(db, clock, ballot_key=SECRET) == 5
    assert await ballot_apply(db, clock, ballot_key=SECRET) == 0
    await _vote(db, w, "rep1", bid, [c[1]], clock.now())  # a change of mind: waits alone …
    assert await ballot_apply(db, clock, ballot_key=SECRET) == 0
    clock.set(NOW + ballot.BATCH_WAIT)  # … until it has waited BATCH_WAIT
    assert await ballot_apply(db, clock, ballot_key=SECRET) == 1
    async with db.uow() as uow:
        chosen = (await uow.session.exec(select(BallotMark.candidate_id).where(col(BallotMark.chosen).is_(True)))).all()
    assert sorted(chosen) == sorted([c[0]] * 3 + [c[1]] * 2)
    assert "ballot_apply" in TICKS and "ballot_apply" in KEYED
