"""Micro-governance (flows/wishes.py, flows/digest.py; issue #16 F-9.2): the atomic claim under contention, posting a
wish through the groups' budget, and the evening's digests at district scale.

Figures: 20 volunteers pressing 🙋 on one wish at the same moment (asyncio.gather of 20 claims, each its own unit of
work; the time until all 20 have their answer, and the winners — always 1), a wish posted to its two groups
(the day's count read per group), and `digest.due` sending the held posts of 370 building groups (the district's
building teams), two items each, in one pass.
"""

from __future__ import annotations

import asyncio
import statistics
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import select

from benchmarks.common import Databases, Table, ms, say, timed
from flows import digest, membership, wishes
from flows.errors import AlreadyDone
from flows.roles import Role
from storage.db import Database
from storage.models import Building, Chat, Community, User
from storage.models_micro import DigestItem

NOW = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)  # 10:00 in Tianjin
CLAIMERS = 20


async def actor_of(db: Database, tg_id: int) -> membership.Actor:
    async with db.uow() as uow:
        return await membership.load_actor(uow, (await uow.session.exec(select(User).where(User.tg_id == tg_id))).one())


async def _world(db: Database, groups: int) -> Community:
    async with db.uow(write=True) as uow:
        community, _ = await membership.create_community(uow, name="基准社区", now=NOW,
                                                         buildings=[str(i) for i in range(1, groups + 1)])
        for i in range(CLAIMERS + 1):  # the resident (50000), then the volunteers
            user = await membership.touch_user(uow, tg_id=50_000 + i, first_name=f"p{i}", last_name=None,
                                               username=None, tg_language="zh-hans", now=NOW)
            done = await membership.register(uow, user=user, community_id=community.id or 0, building_id=None, now=NOW)
            if i:
                await membership.assign_role(uow, member=done.member, role=Role.VOLUNTEER, org=None, now=NOW)
        for b in (await uow.session.exec(select(Building).where(Building.community_id == community.id))).all():
            uow.session.add(Chat(tg_chat_id=-10_000_000 - (b.id or 0), type="supergroup", title=f"{b.label}号楼",
                                 community_id=community.id, purpose="building", building_id=b.id,
                                 bot_status="administrator", created_at=NOW))
        uow.session.add(Chat(tg_chat_id=-9_999_999, type="supergroup", title="居民群", community_id=community.id,
                             purpose="community", bot_status="administrator", created_at=NOW))
        await uow.commit()
    return community


async def _claims(db: Database, rounds: int) -> tuple[list[float], list[float], set[int]]:
    resident = await actor_of(db, 50_000)
    volunteers = [await actor_of(db, 50_001 + i) for i in range(CLAIMERS)]
    posts, claims, winners = [], [], set()
    for _ in range(rounds):
        async with db.uow(write=True) as uow:
            with timed() as elapsed:
                w = await wishes.post(uow, actor=resident, text="想请人帮忙换个灯泡", photo=None, days=7, now=NOW)
                await uow.commit()
                posts.append(elapsed())

        async def press(i: int, number: int = w.number) -> int:
            async with db.uow(write=True) as uow:
                try:
                    await wishes.claim(uow, actor=volunteers[i], number=number, now=NOW)
                except AlreadyDone:
                    return 0
                await uow.commit()
                return 1

        with timed() as elapsed:
            won = await asyncio.gather(*(press(i) for i in range(CLAIMERS)))
            claims.append(elapsed())
        winners.add(sum(won))
    return posts, claims, winners


async def _digests(db: Database, community: Community) -> tuple[float, int]:
    async with db.uow(write=True) as uow:
        chats = (await uow.session.exec(select(Chat.tg_chat_id).where(Chat.purpose == "building"))).all()
        for chat in chats:
            for k in range(2):
                uow.session.add(DigestItem(community_id=community.id or 0, tg_chat_id=chat, key=f"bench:{chat}:{k}",
                                           local_date="2027-03-01", created_at=NOW,
                                           notice={"kind": "wish_posted", "params": {"number": k, "text": "灯泡"}}))
        await uow.commit()
    evening = digest.digest_time(community, datetime(2027, 3, 1).date())
    async with db.uow(write=True) as uow:
        with timed() as elapsed:
            sent = await digest.due(uow, now=evening)
            await uow.commit()
            return elapsed(), sent


async def run(root: Path, quick: bool) -> None:
    databases = Databases(root)
    rounds, groups = (5, 100) if quick else (20, 370)
    say(f"\n== micro-governance: {CLAIMERS} presses at once on one wish ({rounds} wishes), digests of {groups} "
        f"building groups, {databases.backend} ==")
    db = Database(databases.fresh("micro"))
    table = Table(f"micro-governance ({databases.backend})", ["", "median", "max", "note"])
    try:
        community = await _world(db, groups)
        posts, claims, winners = await _claims(db, rounds)
        table.add("a wish posted to its 2 groups", ms(statistics.median(posts)), ms(max(posts)), "")
        table.add(f"{CLAIMERS} claims at once, all answered", ms(statistics.median(claims)), ms(max(claims)),
                  f"winners per wish: {sorted(winners)}")
        took, sent = await _digests(db, community)
        table.add(f"digest.due, {groups} groups × 2 held posts", ms(took), ms(took), f"{sent} digest messages")
    finally:
        await db.dispose()
    table.print()
