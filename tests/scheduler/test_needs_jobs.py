"""The needs reminder job (F-1.5): called with a fixed clock (idempotent, civil hours), and run by
the real APScheduler, reaching the group over real HTTP with its deep link."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import select

from flows import membership, needs
from flows.clock import FixedClock
from scheduler.runner import Scheduler, needs_tick
from storage.db import Database
from storage.models import Chat, OutboxMessage, User
from tests.bot.conftest import Harness, buttons
from tests.bot.test_needs import ADMIN, GROUP, R1, _setup

TIANJIN = ZoneInfo("Asia/Shanghai")
OPENED = datetime(2027, 3, 3, 9, 0, tzinfo=TIANJIN)  # a Wednesday
SUBMIT = "✍ 提需求"


async def _collecting(db: Database) -> None:
    async with db.uow() as uow:
        community, invite = await membership.create_community(uow, name="北辰示范社区", now=OPENED, buildings=["1"])
        user = await membership.touch_user(uow, tg_id=ADMIN, first_name="王书记", last_name=None, username=None,
                                           tg_language="zh-hans", now=OPENED)
        await membership.register(uow, user=user, community_id=community.id, building_id=None, now=OPENED,
                                  invite_code=invite.code)
        for tg_chat_id, purpose in ((-1001, "community"), (-1002, "building"), (-1003, None)):
            uow.session.add(Chat(tg_chat_id=tg_chat_id, type="supergroup", title="群", community_id=community.id,
                                 purpose=purpose, bot_status="administrator", created_at=OPENED))
        await uow.commit()
    async with db.uow() as uow:
        user = (await uow.session.exec(select(User).where(User.tg_id == ADMIN))).one()
        await needs.open_period(uow, actor=await membership.load_actor(uow, user), now=OPENED,
                                closes_on=date(2027, 4, 30))
        await uow.commit()


async def _reminders(db: Database) -> list[tuple[int, bool]]:
    async with db.uow() as uow:
        rows = (await uow.session.exec(select(OutboxMessage).order_by(OutboxMessage.id))).all()
    return [(r.tg_chat_id, r.payload["params"]["last"]) for r in rows if r.payload["notice"] == "needs_remind"]


async def test_needs_tick_reminds_each_linked_group_once_a_week(db: Database) -> None:
    await _collecting(db)
    woken: list[int] = []
    clock = FixedClock(OPENED + timedelta(days=6, hours=3))
    assert await needs_tick(db, clock, lambda: woken.append(1)) == 0  # not a week yet
    clock.set(datetime(2027, 3, 10, 9, 50, tzinfo=TIANJIN))
    assert await needs_tick(db, clock, lambda: woken.append(1)) == 0  # a week, but before 10:00
    clock.set(datetime(2027, 3, 10, 10, 0, tzinfo=TIANJIN))
    assert await needs_tick(db, clock, lambda: woken.append(1)) == 2 and woken == [1]
    for minutes in (10, 20, 600):  # the job keeps firing every ten minutes
        clock.set(datetime(2027, 3, 10, 10, 0, tzinfo=TIANJIN) + timedelta(minutes=minutes))
        assert await needs_tick(db, clock, lambda: woken.append(1)) == 0
    assert woken == [1]
    clock.set(datetime(2027, 3, 15, 12, 0, tzinfo=TIANJIN))  # Monday of the next week: not yet Wednesday
    assert await needs_tick(db, clock) == 0
    clock.set(datetime(2027, 3, 17, 10, 5, tzinfo=TIANJIN))
    assert await needs_tick(db, clock) == 2
    clock.set(datetime(2027, 4, 28, 10, 5, tzinfo=TIANJIN))  # two days before the closing day
    assert await needs_tick(db, clock) == 2
    assert await needs_tick(db, clock) == 0
    assert await _reminders(db) == [(-1001, False), (-1002, False)] * 2 + [(-1001, True), (-1002, True)]


async def test_the_real_scheduler_reminds_the_group(linli: Harness, db_url: str) -> None:
    await _setup(linli)
    # to the next 1 March, 10:00 in Tianjin, and open the collection there
    now = linli.clock.now()
    opening = datetime(now.astimezone(TIANJIN).year + 1, 3, 1, 10, 0, tzinfo=TIANJIN)
    linli.clock.advance(seconds=(opening - now).total_seconds())
    assert "征集已开始" in (await linli.say(ADMIN, "/needs open"))[-1]["text"]
    out = await linli.say(R1, "/need 小区里多装几个快递柜", chat_id=GROUP)
    await linli.press(R1, out[-1], "便民服务")
    linli.clock.advance(days=7, minutes=5)
    start = await linli.tg.cursor()
    sched = Scheduler(db_url, db=linli.db, clock=linli.clock, name="test-needs", on_outbox=linli.app.sender.wake)
    sched.start()
    try:
        job = sched.aps.get_job("needs_tick")
        assert job is not None and job.trigger.interval == timedelta(minutes=10)
        job.modify(next_run_time=datetime.now(UTC))  # run it now rather than in ten minutes
        deadline = time.monotonic() + 10
        got: list[dict] = []
        while time.monotonic() < deadline and not got:
            await asyncio.sleep(0.2)
            got = [m for m in await linli.tg.bot_messages(GROUP, start) if "仍在征集" in (m.get("text") or "")]
    finally:
        sched.shutdown()
    assert len(got) == 1 and "目前已收集 1 条需求" in got[0]["text"] and "北辰示范社区" in got[0]["text"]
    assert buttons(got[0]) == [SUBMIT]
    assert got[0]["reply_markup"]["inline_keyboard"][0][0]["url"].endswith("?start=need")
