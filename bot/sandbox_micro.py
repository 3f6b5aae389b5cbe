"""The sandbox demo's micro-governance (#16): building 3's enthusiast team (孙大爷, a Party-member household and its
leader, with 刘志愿), two micro-wishes of 赵阿姨 (one open, one fulfilled and thanked by 刘志愿, who agreed to be
named in the thank-you list) and a micro deed posted by 李经理 (committee). Their notices and held group posts are
the demo's past: nothing of it is sent (the caller forgets the outbox rows; the digest's held items go here)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlmodel import col

from flows import membership, micro, microposts, teams, wishes
from storage.db import UnitOfWork
from storage.models import User
from storage.models_micro import DigestItem

ADMIN, VOLUNTEER, COMMITTEE, RESIDENT, ENTHUSIAST = 10001, 10003, 10005, 10006, 10008


async def seed_micro(uow: UnitOfWork, *, users: dict[int, User], member_ids: dict[int, int],
                     buildings: dict[str, int | None], community_id: int, now: datetime) -> None:
    async def actor(tg_id: int) -> membership.Actor:
        return await membership.load_actor(uow, users[tg_id])

    admin, building = await actor(ADMIN), buildings["3"] or 0
    await teams.add_member(uow, actor=admin, building_id=building, member_id=member_ids[ENTHUSIAST], party=True,
                           now=now)
    await teams.add_member(uow, actor=admin, building_id=building, member_id=member_ids[VOLUNTEER], party=False,
                           now=now)
    await teams.set_leader(uow, actor=admin, building_id=building, member_id=member_ids[ENTHUSIAST], now=now)
    resident, volunteer = await actor(RESIDENT), await actor(VOLUNTEER)
    await wishes.post(uow, actor=resident, text="想请人帮忙修一下家里漏水的水龙头", photo=None, days=7, now=now)
    done = await wishes.post(uow, actor=resident, text="想要一本大字版的《红楼梦》", photo=None, days=7, now=now)
    await wishes.claim(uow, actor=volunteer, number=done.number, now=now)
    await micro.set_consent(uow, actor=volunteer, agreed=True, now=now)
    await wishes.fulfil(uow, actor=volunteer, number=done.number, note="书已经送到赵阿姨家", photo=None, now=now)
    await wishes.answer(uow, actor=resident, number=done.number, thanked=True, now=now)
    await microposts.post(uow, actor=await actor(COMMITTEE), kind="deed", title="清理3号楼楼道堆物",
                          text="周六上午，需要两位邻居", now=now)
    await uow.session.execute(delete(DigestItem).where(col(DigestItem.community_id) == community_id))
