"""The sandbox's closed-loop requests (#13): one in every state, so `/requests` has something to show and each
person's buttons something to do — 赵阿姨 has a resolved one waiting for her 满意 / 没解决, the committee group a
new hazard to assess (its card sent as the sandbox starts), 李经理 (the property company's handler too) one to accept and one to resolve."""

from __future__ import annotations

from datetime import datetime, timedelta

from flows import membership, request_work, requests
from flows.roles import Org, Role
from storage.db import UnitOfWork
from storage.models import User

ADMIN, HANDLER, AUNT, UNCLE, REP = 10001, 10005, 10006, 10008, 10004

#: (reporter, kind, category, text, building label, how far it got, how long ago it was reported)
REQUESTS = [
    (UNCLE, "request", "noise", "5号楼底商夜里搬货，吵得睡不着。", "5", "closed_default", timedelta(days=12)),
    (REP, "request", "parking", "地库入口有车长期占道。", None, "rejected", timedelta(days=9)),
    (AUNT, "request", "repair", "3号楼2单元电梯按钮失灵。", "3", "confirmed", timedelta(days=8)),
    (AUNT, "dispute", "neighbour", "楼上漏水到我家，协商不成。", "3", "accepted", timedelta(days=2)),
    (UNCLE, "dispute", "neighbour", "3号楼漏水的事，我家也受影响。", "3", "merged", timedelta(days=1)),
    (AUNT, "request", "repair", "3号楼单元门禁坏了。", "3", "resolved", timedelta(days=2)),
    (REP, "request", "repair", "5号楼楼道窗户关不上。", "5", "reopened", timedelta(days=1)),
    (REP, "request", "env", "垃圾站周边有积水。", "5", "assigned", timedelta(hours=3)),
    (UNCLE, "request", "other", "希望小区增设快递柜。", "5", "new", timedelta(hours=5)),
]
#: Reported as the sandbox starts: its card waits in the committee group (the rest are the demo's past).
FRESH = (AUNT, "hazard", "fire", "3号楼楼道堆满纸箱，堵住消防通道。", "3")


async def seed_requests(uow: UnitOfWork, *, users: dict[int, User], buildings: dict[str, int | None],
                        now: datetime) -> None:
    """Walk each demo request as far as its state, at times in the past (no clock is overdue at `now`)."""
    async def actor(tg_id: int) -> membership.Actor:
        return await membership.load_actor(uow, users[tg_id])

    manager = await membership.membership(uow, user=users[HANDLER], community_id=users[ADMIN].active_community_id or 0)
    assert manager is not None
    await membership.assign_role(uow, member=manager, role=Role.HANDLER, org=Org.PROPERTY, now=now)
    admin, handler = await actor(ADMIN), await actor(HANDLER)
    first = None
    for who, kind, category, text, building, state, ago in REQUESTS:
        at = now - ago
        row = await requests.submit(uow, actor=await actor(who), kind=kind, category=category, text=text, now=at,
                                    building_id=buildings.get(building or ""))
        rid = row.id or 0
        if state == "new":
            continue
        if state == "merged":
            assert first is not None
            await request_work.merge(uow, actor=admin, request_id=rid, into=str(first), now=at + timedelta(hours=1))
            continue
        if state == "rejected":
            await request_work.reject(uow, actor=admin, request_id=rid, reason="属于商户经营管理，已转告物业。",
                                      now=at + timedelta(hours=2))
            continue
        first = row.number if kind == "dispute" else first  # the merged one goes into it
        await request_work.assign(uow, actor=admin, request_id=rid,
                                  org="police" if kind == "dispute" else "property", now=at + timedelta(minutes=30))
        if state == "assigned":
            continue
        worker = admin if kind == "dispute" else handler
        await request_work.accept(uow, actor=worker, request_id=rid, now=at + timedelta(hours=1))
        await request_work.progress(uow, actor=worker, request_id=rid, note="已到现场查看。", now=at + timedelta(hours=2))
        if state == "accepted":
            continue
        await request_work.resolve(uow, actor=worker, request_id=rid, note="已处理完毕。", now=at + timedelta(hours=6))
        if state == "confirmed":
            await request_work.confirm(uow, actor=await actor(who), request_id=rid, now=at + timedelta(days=1))
        elif state == "reopened":
            await request_work.reopen(uow, actor=await actor(who), request_id=rid, reason="窗户还是关不严。",
                                      now=at + timedelta(hours=8))
    await request_work.due(uow, now=now)  # the one resolved 12 days ago, never answered: 默认满意


async def report_fresh(uow: UnitOfWork, *, users: dict[int, User], buildings: dict[str, int | None],
                       now: datetime) -> None:
    """A hazard reported just now, its card in the committee group (the joint assessment to try)."""
    who, kind, category, text, building = FRESH
    await requests.submit(uow, actor=await membership.load_actor(uow, users[who]), kind=kind, category=category,
                          text=text, now=now, building_id=buildings.get(building))
