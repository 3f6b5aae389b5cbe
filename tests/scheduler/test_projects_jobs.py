"""The projects' monthly reminder job: with a fixed clock (restarts, repeats), and registered in the real
APScheduler."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from flows import membership
from flows.clock import FixedClock
from flows.roles import Role
from scheduler.runner import Scheduler, projects_tick
from storage.db import Database
from storage.models import OutboxMessage, Project

START = datetime(2027, 3, 10, 2, 0, tzinfo=UTC)
REPORT_DAY = datetime(2027, 4, 1, 1, 0, tzinfo=UTC)  # 09:00 on 1 April in Tianjin


async def _world(db: Database) -> None:
    async with db.uow() as uow:
        community, _ = await membership.create_community(uow, name="北辰示范社区", now=START, buildings=["1"])
        members = []
        for tg_id, name, role in ((701, "王书记", Role.ADMIN), (702, "张网格", Role.GRID_WORKER)):
            user = await membership.touch_user(uow, tg_id=tg_id, first_name=name, last_name=None, username=None,
                                               tg_language="zh-hans", now=START)
            done = await membership.register(uow, user=user, community_id=community.id, building_id=None, now=START)
            await membership.assign_role(uow, member=done.member, role=role, org=None, now=START)
            members.append(done.member.id)
        uow.session.add(Project(community_id=community.id or 0, year=2027, number=1, title="楼道照明改造",
                                category="facility", created_at=START, owner_member_id=members[1]))
        await uow.commit()


async def _sent(db: Database) -> list[tuple[str, int]]:
    async with db.uow() as uow:
        rows = (await uow.session.exec(select(OutboxMessage).order_by(OutboxMessage.id))).all()
    return [(r.payload["notice"], r.tg_chat_id) for r in rows]


async def test_the_monthly_reminder_goes_out_once(db: Database, db_url: str) -> None:
    await _world(db)
    woken: list[int] = []
    clock = FixedClock(REPORT_DAY - timedelta(minutes=10))  # 08:50: not yet
    assert await projects_tick(db, clock, lambda: woken.append(1)) == 0
    clock.set(REPORT_DAY + timedelta(minutes=5))
    assert await projects_tick(db, clock, lambda: woken.append(1)) == 2
    assert await _sent(db) == [("project_report_remind", 702), ("project_late_owners", 701)]
    # the job fires again, and the bot restarts later that day: nothing more
    assert await projects_tick(db, clock, lambda: woken.append(1)) == 0
    clock.advance(hours=5)
    assert await projects_tick(db, clock, lambda: woken.append(1)) == 0
    assert woken == [1] and len(await _sent(db)) == 2

    sched = Scheduler(db_url, db=db, clock=clock, name="test-projects")
    sched.start()
    try:
        job = sched.aps.get_job("projects_tick")
        assert job is not None and job.trigger.interval == timedelta(minutes=10)
    finally:
        sched.shutdown()
