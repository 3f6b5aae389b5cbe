"""The sandbox's micro spaces and jobs (#16): a space at 3号楼's gatehouse kept by 孙大爷, with a drill 赵阿姨 has on
loan (due in five days) and a ladder free to borrow, this month's mending and haircuts recorded; an opening posted
by 张网格 and a free training by 王书记 that 赵阿姨 has signed up for. Made through the same flows as the bot, in the
past (their group posts and notices are the demo's history, not sent)."""

from __future__ import annotations

from datetime import datetime, timedelta

from flows import jobs, loans, membership, spaces
from flows.clock import local
from storage.db import UnitOfWork
from storage.models import User

ADMIN, GRID, AUNT, UNCLE = 10001, 10002, 10006, 10008


async def seed_micro(uow: UnitOfWork, *, users: dict[int, User], member_ids: dict[int, int], now: datetime) -> None:
    async def actor(tg_id: int) -> membership.Actor:
        return await membership.load_actor(uow, users[tg_id])

    admin, grid, aunt, uncle = (await actor(ADMIN), await actor(GRID), await actor(AUNT), await actor(UNCLE))
    past = now - timedelta(days=2)
    space = await spaces.register(uow, actor=admin, now=past, draft=spaces.Draft(
        name="3号楼门岗微空间", place="3号楼东侧门岗", hours=spaces.parse_hours("每天 08:00-20:00"),
        services=("缝补", "理发", "工具借用"), keeper_member_id=member_ids[UNCLE]))
    await spaces.register(uow, actor=grid, now=past, draft=spaces.Draft(
        name="党群服务中心活动室", place="社区党群服务中心一楼", hours=spaces.parse_hours("1-5 09:00-11:30 14:00-17:00"),
        services=("理发", "手工编织"), keeper_member_id=member_ids[GRID]))
    drill = await spaces.add_tool(uow, actor=uncle, number=space.number, name="电钻", now=past)
    await spaces.add_tool(uow, actor=uncle, number=space.number, name="梯子", now=past)
    loan = await loans.request(uow, actor=aunt, tool_number=drill.number, days=7, now=past)
    await loans.hand_over(uow, actor=uncle, number=loan.number, now=past)
    for service, count in (("缝补", 3), ("理发", 2)):
        await spaces.record_service(uow, actor=uncle, number=space.number, service=service, count=count, now=past)
    today = local(now, admin.home().timezone)
    await jobs.post_job(uow, actor=grid, now=past, draft=jobs.JobDraft(
        title="手工编织", employer="北辰编织合作社", pay="计件 每件 8 元", place="党群服务中心活动室",
        closes_on=today.date() + timedelta(days=20)))
    start = today.replace(hour=14, minute=30, second=0, microsecond=0) + timedelta(days=5)
    training, _ = await jobs.post_training(uow, actor=admin, now=past, draft=jobs.TrainingDraft(
        title="家政服务培训", place="社区党群服务中心", starts_at=start, capacity=20))
    await jobs.sign_up(uow, actor=aunt, number=training.number, now=past)
