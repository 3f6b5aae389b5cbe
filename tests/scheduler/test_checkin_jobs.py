"""The check-in jobs: called with a fixed clock (restart semantics), and the real APScheduler."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from sqlmodel import select

from flows.clock import FixedClock
from scheduler.runner import Scheduler, checkins_tick, checkins_weekly
from storage.db import Database
from storage.models import CheckinPrompt
from tests.bot.conftest import Harness
from tests.bot.test_checkins import GROUP, _go_to, _new, _world
from tests.flows.checkin_world import build, messages

MORNING = datetime(2027, 3, 1, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai, a Monday


async def test_restart_inside_the_grace_period_sends_once(db: Database) -> None:
    w = await build(db)
    woken: list[int] = []
    clock = FixedClock(MORNING - timedelta(hours=1))
    await checkins_tick(db, clock, lambda: woken.append(1))  # planned; nothing due
    assert woken == [] and await messages(db) == []
    # killed at 09:00:30 before the minute's tick ran; started again at 09:20
    clock.set(MORNING + timedelta(minutes=20))
    res = await checkins_tick(db, clock, lambda: woken.append(1))
    assert res.sent == 1 and woken == [1]
    res = await checkins_tick(db, clock, lambda: woken.append(1))  # the job fires twice
    assert res.messages == 0 and woken == [1]
    assert [m.tg_chat_id for m in await messages(db)] == [w.tg["primary"]]


async def test_restart_beyond_the_grace_period_reports_missed(db: Database) -> None:
    w = await build(db)
    clock = FixedClock(MORNING - timedelta(hours=1))
    await checkins_tick(db, clock)
    clock.set(MORNING + timedelta(minutes=45))
    res = await checkins_tick(db, clock)
    assert res.sent == 0 and res.missed == 1
    assert [(m.payload["notice"], m.tg_chat_id) for m in await messages(db)] == [("ck_missed", w.tg["grid"])]


async def test_weekly_job_is_idempotent(db: Database) -> None:
    await build(db)
    clock = FixedClock(MORNING - timedelta(days=6))  # the Tuesday before
    await checkins_tick(db, clock)
    async with db.uow(write=True) as uow:
        for pr in (await uow.session.exec(select(CheckinPrompt))).all():
            pr.status, pr.answer, pr.answered_by = "answered", "ok", pr.assignee_member_id
            pr.sent_at, pr.answered_at = pr.due_at, pr.due_at + timedelta(minutes=3)
            uow.session.add(pr)
        await uow.commit()
    clock.set(MORNING)
    assert await checkins_weekly(db, clock) == 1
    assert await checkins_weekly(db, clock) == 0


async def test_the_real_scheduler_sends_a_prompt(linli: Harness, db_url: str) -> None:
    w = await _world(linli)
    _go_to(linli, 8, 59)
    linli.clock.advance(seconds=56)  # 09:00:01 in Shanghai
    start = await linli.tg.cursor()
    sched = Scheduler(db_url, db=linli.db, clock=linli.clock, name="test-checkins", on_outbox=linli.app.sender.wake,
                      tick_seconds=1)
    sched.start()
    try:
        deadline = time.monotonic() + 10
        got: list[dict] = []
        while time.monotonic() < deadline and not got:
            await asyncio.sleep(0.2)
            got = await _prompts(linli, w.tg["primary"], start)
    finally:
        sched.shutdown()
    assert len(got) == 1 and "窗帘" in got[0]["text"]
    await asyncio.sleep(1.2)  # more ticks ran meanwhile: still one prompt
    assert len(await _prompts(linli, w.tg["primary"], start)) == 1


async def _prompts(linli: Harness, chat_id: int, start: int) -> list[dict]:
    """The check-in prompts among the new messages (the same ticks also tell the volunteer a first visit is due)."""
    return [m for m in await _new(linli, chat_id, start) if "窗帘" in m.get("text", "")]
    assert await _new(linli, GROUP, start) == []
