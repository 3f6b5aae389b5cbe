"""The micro spaces' and trainings' reminder job (#16): with a fixed clock — a loan due tomorrow and a training
tomorrow are reminded once, whether the job fires twice or the process restarts (a new Database on the same
file) — and registered in the real APScheduler."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from flows import jobs, loans, membership, spaces
from flows.clock import FixedClock
from flows.roles import Role
from scheduler.runner import Scheduler, spaces_tick
from storage.db import Database
from storage.models import OutboxMessage

START = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)  # Monday 10:00 in Tianjin


async def _world(db: Database) -> None:
    async with db.uow(write=True) as uow:
        community, _ = await membership.create_community(uow, name="北辰示范社区", now=START, buildings=["1"])
        actors = []
        for tg_id, name, role in ((711, "王书记", Role.ADMIN), (712, "孙大爷", None), (713, "赵阿姨", None)):
            user = await membership.touch_user(uow, tg_id=tg_id, first_name=name, last_name=None, username=None,
                                               tg_language="zh-hans", now=START)
            done = await membership.register(uow, user=user, community_id=community.id, building_id=None, now=START)
            if role is not None:
                await membership.assign_role(uow, member=done.member, role=role, org=None, now=START)
            actors.append(await membership.load_actor(uow, user))
        admin, keeper, aunt = actors
        space = await spaces.register(uow, actor=admin, now=START, draft=spaces.Draft(
            name="门岗", place="1号楼", hours={}, services=("工具借用",), keeper_member_id=keeper.registered().id or 0))
        drill = await spaces.add_tool(uow, actor=keeper, number=space.number, name="电钻", now=START)
        loan = await loans.request(uow, actor=aunt, tool_number=drill.number, days=2, now=START)
        await loans.hand_over(uow, actor=keeper, number=loan.number, now=START)
        training, _ = await jobs.post_training(uow, actor=admin, now=START, draft=jobs.TrainingDraft(
            title="家政服务培训", place="中心", starts_at=START + timedelta(days=1, hours=4), capacity=5))
        await jobs.sign_up(uow, actor=aunt, number=training.number, now=START)
        await uow.commit()


async def _reminders(db: Database) -> list[str]:
    async with db.uow() as uow:
        rows = (await uow.session.exec(select(OutboxMessage).order_by(OutboxMessage.id))).all()
    return [r.payload["notice"] for r in rows if r.payload["notice"] in ("loan_due_soon", "training_remind")]


async def test_the_reminders_go_out_once_through_a_restart(db: Database, db_url: str) -> None:
    await _world(db)
    woken: list[int] = []
    clock = FixedClock(START + timedelta(hours=1))  # the loan is due Wednesday: Tuesday is the day before
    assert await spaces_tick(db, clock, lambda: woken.append(1)) == {"due_soon": 0, "overdue": 0, "keepers": 0,
                                                                   "trainings": 0}
    clock.set(START + timedelta(days=1))  # Tuesday 10:00: the loan's reminder and the training's (at 14:00)
    assert await spaces_tick(db, clock, lambda: woken.append(1)) == {"due_soon": 1, "overdue": 0, "keepers": 0,
                                                                   "trainings": 1}
    assert await spaces_tick(db, clock, lambda: woken.append(1)) == {"due_soon": 0, "overdue": 0, "keepers": 0,
                                                                   "trainings": 0}
    restarted = Database(db_url)
    try:
        clock.advance(hours=2)
        assert not any((await spaces_tick(restarted, clock)).values())
    finally:
        await restarted.dispose()
    assert await _reminders(db) == ["loan_due_soon", "training_remind"] and woken == [1]

    sched = Scheduler(db_url, db=db, clock=clock, name="test-micro")
    sched.start()
    try:
        job = sched.aps.get_job("spaces_tick")
        assert job is not None and job.trigger.interval == timedelta(minutes=10)
    finally:
        sched.shutdown()
