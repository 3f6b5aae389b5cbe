"""The board job: called with a fixed clock (before 09:00, on the day, twice, after a restart the next day,
next month), and registered in the real APScheduler."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import select

from flows.clock import FixedClock
from scheduler.runner import Scheduler, board_tick
from storage.db import Database
from storage.models import OutboxMessage
from tests.flows.test_board import START, _community, _projects


async def _notices(db: Database) -> list[tuple[str, int]]:
    async with db.uow() as uow:
        rows = (await uow.session.exec(select(OutboxMessage).order_by(OutboxMessage.id))).all()  # type: ignore[arg-type]
    return [(r.payload["notice"], r.tg_chat_id) for r in rows]


async def test_board_tick_posts_once_a_month_and_catches_up_after_downtime(db: Database) -> None:
    w = await _community(db, "北辰示范社区", START)
    await _projects(db, w, START)
    woken: list[int] = []
    clock = FixedClock(START - timedelta(minutes=10))  # 08:50 on the board day
    res = await board_tick(db, clock, lambda: woken.append(1))
    assert (res.boards, res.weekly, res.monthly) == (0, 0, 0) and woken == [] and await _notices(db) == []
    # the bot was down all of 1 March; it comes back on the 2nd at 15:00 and posts this month's board then
    clock.set(START + timedelta(days=1, hours=6))
    res = await board_tick(db, clock, lambda: woken.append(1))
    assert (res.boards, res.monthly, res.weekly) == (6, 1, 1) and woken == [1]
    assert [(lang, p["month"], len(p["rows"])) for lang, p in res.pictures] == [("zh_CN", "2027-03", 3)]
    kinds = sorted({n for n, _ in await _notices(db)})
    assert kinds == ["board", "board_blockers", "board_pic", "board_weekly"]
    # the job fires again (every ten minutes, and on other days of the month): nothing more
    for later in (timedelta(minutes=10), timedelta(days=5), timedelta(days=20)):
        clock.set(START + timedelta(days=1, hours=6) + later)
        res = await board_tick(db, clock, lambda: woken.append(1))
        assert (res.boards, res.monthly) == (0, 0)
    # next month, on the day: the board again
    clock.set(datetime(2027, 4, 1, 1, 0, tzinfo=UTC))
    res = await board_tick(db, clock, lambda: woken.append(1))
    assert res.boards == 6 and res.monthly == 1


async def test_the_scheduler_registers_the_board_job(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'jobs.db'}"  # only the job store lives here
    db = Database(url)
    sched = Scheduler(url, db=db, clock=FixedClock(START), name="test-board")
    sched.start()
    try:
        job = sched.aps.get_job("board_tick")
        assert job is not None and job.trigger.interval == timedelta(minutes=10)
    finally:
        sched.shutdown()
        await db.dispose()
