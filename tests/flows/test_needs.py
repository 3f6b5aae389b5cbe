"""The needs list's use cases against a real database: the period, submitting and numbering,
support once per person (in the schema), review (merge carrying supporters, reject, promote),
and who may do what per role."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from flows import membership, needs
from flows.clock import FixedClock
from flows.errors import AlreadyDone, Forbidden, Invalid, NotFound, NotRegistered
from flows.membership import Actor
from flows.roles import Org, Role
from storage.db import Database
from storage.models import AuditEntry, Chat, Need, NeedSupport, OutboxMessage, User

ROLES: dict[str, tuple[Role, Org | None] | None] = {
    "resident": None, "resident2": None, "resident3": None, "representative": (Role.REPRESENTATIVE, None),
    "volunteer": (Role.VOLUNTEER, None), "committee": (Role.COMMITTEE, Org.PROPERTY),
    "grid": (Role.GRID_WORKER, None), "admin": (Role.ADMIN, None),
}


@dataclass
class World:
    community_id: int
    actors: dict[str, Actor]
    members: dict[str, int]
    stranger: Actor


async def _actor(db: Database, tg_id: int) -> Actor:
    async with db.uow() as uow:
        user = (await uow.session.exec(select(User).where(User.tg_id == tg_id))).one()
        return await membership.load_actor(uow, user)


@pytest.fixture
async def world(db: Database, clock: FixedClock) -> World:
    now = clock.now()
    async with db.uow() as uow:
        community, _ = await membership.create_community(uow, name="北辰示范社区", now=now, buildings=["1", "2"])
        members = {}
        for i, (key, role) in enumerate(ROLES.items()):
            user = await membership.touch_user(uow, tg_id=300 + i, first_name=key, last_name=None, username=None,
                                               tg_language="zh-hans", now=now)
            done = await membership.register(uow, user=user, community_id=community.id, building_id=None, now=now)
            if role is not None:
                await membership.assign_role(uow, member=done.member, role=role[0], org=role[1], now=now)
            members[key] = done.member.id
        await membership.touch_user(uow, tg_id=399, first_name="stranger", last_name=None, username=None,
                                    tg_language="zh-hans", now=now)
        uow.session.add(Chat(tg_chat_id=-100123, type="supergroup", title="社区群", community_id=community.id,
                             purpose="community", bot_status="administrator", created_at=now))
        uow.session.add(Chat(tg_chat_id=-100124, type="supergroup", title="别的群", community_id=None,
                             bot_status="administrator", created_at=now))
        await uow.commit()
    actors = {key: await _actor(db, 300 + i) for i, key in enumerate(ROLES)}
    return World(community.id, actors, members, await _actor(db, 399))


async def _open(db: Database, clock: FixedClock, world: World) -> None:
    async with db.uow() as uow:
        await needs.open_period(uow, actor=world.actors["admin"], now=clock.now())
        await uow.commit()


async def _submit(db: Database, clock: FixedClock, actor: Actor, text: str = "楼道灯不亮", category: str = "facility",
                  **kw: object) -> Need:
    async with db.uow() as uow:
        need = await needs.submit(uow, actor=actor, category=category, text=text, now=clock.now(), **kw)  # type: ignore[arg-type]
        await uow.commit()
    return need


async def test_open_tells_linked_groups_and_close_stops_submissions(db: Database, clock: FixedClock,
                                                                    world: World) -> None:
    with pytest.raises(Invalid) as err:
        await _submit(db, clock, world.actors["resident"])
    assert (err.value.field, err.value.reason) == ("period", "closed")
    await _open(db, clock, world)
    async with db.uow() as uow:
        rows = (await uow.session.exec(select(OutboxMessage))).all()
        assert [r.tg_chat_id for r in rows] == [-100123]
        assert rows[0].payload["notice"] == "needs_open" and rows[0].payload["lang"] == "zh_CN"
        with pytest.raises(AlreadyDone):
            await needs.open_period(uow, actor=world.actors["admin"], now=clock.now())
    need = await _submit(db, clock, world.actors["resident"])
    assert need.number == 1 and need.channel == "chat" and need.status == "open"
    async with db.uow() as uow:
        await needs.close_period(uow, actor=world.actors["admin"], now=clock.now())
        await uow.commit()
    with pytest.raises(Invalid):
        await _submit(db, clock, world.actors["resident"])
    async with db.uow() as uow:
        with pytest.raises(AlreadyDone):
            await needs.close_period(uow, actor=world.actors["admin"], now=clock.now())
        actions = (await uow.session.exec(select(AuditEntry.action))).all()
    assert {"needs.open", "need.create", "needs.close"} <= set(actions)


async def test_closing_date_ends_the_period(db: Database, clock: FixedClock, world: World) -> None:
    now = clock.now()
    soon = (now + timedelta(days=2)).date()
    if soon.year != now.year:
        pytest.skip("the fixed clock is at the end of a year")
    async with db.uow() as uow:
        with pytest.raises(Invalid):
            await needs.open_period(uow, actor=world.actors["admin"], now=now, closes_on=date(now.year - 1, 1, 1))
        await needs.open_period(uow, actor=world.actors["admin"], now=now, closes_on=soon)
        await uow.commit()
    await _submit(db, clock, world.actors["resident"])
    clock.advance(days=3)
    with pytest.raises(Invalid):
        await _submit(db, clock, world.actors["resident"])


async def test_numbers_count_per_community_and_year(db: Database, clock: FixedClock, world: World) -> None:
    await _open(db, clock, world)
    numbers = [(await _submit(db, clock, world.actors["resident"], text=f"需求{i}")).number for i in range(3)]
    assert numbers == [1, 2, 3]
    clock.advance(days=370)
    await _open(db, clock, world)
    need = await _submit(db, clock, world.actors["resident"])
    assert need.number == 1 and need.year > numbers[0] - 1


async def test_input_rules(db: Database, clock: FixedClock, world: World) -> None:
    await _open(db, clock, world)
    for text, reason in (("   ", "empty"), ("长" * 501, "too_long"), ("\u200b\u0007", "empty")):
        with pytest.raises(Invalid) as err:
            await _submit(db, clock, world.actors["resident"], text=text)
        assert err.value.reason == reason
    with pytest.raises(Invalid):
        await _submit(db, clock, world.actors["resident"], category="nope")
    assert (await _submit(db, clock, world.actors["resident"], text="长" * 500)).text == "长" * 500
    with pytest.raises(NotRegistered):
        await _submit(db, clock, world.stranger)


async def test_entering_for_a_resident(db: Database, clock: FixedClock, world: World) -> None:
    await _open(db, clock, world)
    need = await _submit(db, clock, world.actors["grid"], channel="door_visit",
                         author_member_id=world.members["resident"])
    assert (need.author_member_id, need.entered_by_member_id) == (world.members["resident"], world.members["grid"])
    with pytest.raises(Invalid):  # a grid worker does not record meetings
        await _submit(db, clock, world.actors["grid"], channel="meeting", author_member_id=world.members["resident"])
    need = await _submit(db, clock, world.actors["admin"], channel="rep_meeting",
                         author_member_id=world.members["representative"])
    assert need.channel == "rep_meeting"
    for who in ("resident", "representative", "volunteer", "committee"):
        with pytest.raises(Forbidden):
            await _submit(db, clock, world.actors[who], channel="door_visit",
                          author_member_id=world.members["resident"])
    with pytest.raises(NotFound):
        await _submit(db, clock, world.actors["grid"], channel="door_visit", author_member_id=99999)


@pytest.mark.parametrize("who", list(ROLES))
async def test_review_and_period_permissions(db: Database, clock: FixedClock, world: World, who: str) -> None:
    await _open(db, clock, world)
    need = await _submit(db, clock, world.actors["resident2"])
    other = await _submit(db, clock, world.actors["resident2"], text="另一件")
    actor = world.actors[who]
    async with db.uow() as uow:
        calls = [needs.close_period(uow, actor=actor, now=clock.now()),
                 needs.review_list(uow, actor=actor, now=clock.now()),
                 needs.reject(uow, actor=actor, need_id=need.id or 0, reason="不属于社区事务", now=clock.now()),
                 needs.promote(uow, actor=actor, need_id=other.id or 0, title="楼道灯", now=clock.now())]
        for call in calls:
            if who == "admin":
                await call
            else:
                with pytest.raises(Forbidden):
                    await call


async def test_support_once_per_person_and_schema_says_so(db: Database, clock: FixedClock, world: World) -> None:
    await _open(db, clock, world)
    need = await _submit(db, clock, world.actors["resident"])
    async with db.uow() as uow:
        assert await needs.support(uow, actor=world.actors["resident2"], need_id=need.id or 0, now=clock.now()) == 1
        assert await needs.support(uow, actor=world.actors["resident3"], need_id=need.id or 0, now=clock.now()) == 2
        with pytest.raises(AlreadyDone):
            await needs.support(uow, actor=world.actors["resident2"], need_id=need.id or 0, now=clock.now())
        await uow.commit()
    async with db.uow() as uow:
        uow.session.add(NeedSupport(need_id=need.id or 0, member_id=world.members["resident2"], created_at=clock.now()))
        with pytest.raises(IntegrityError):
            await uow.session.flush()
    async with db.uow() as uow:
        with pytest.raises(NotRegistered):
            await needs.support(uow, actor=world.stranger, need_id=need.id or 0, now=clock.now())
        with pytest.raises(NotFound):
            await needs.support(uow, actor=world.actors["resident2"], need_id=12345, now=clock.now())


async def test_browsing_counts_pages_and_my_needs(db: Database, clock: FixedClock, world: World) -> None:
    await _open(db, clock, world)
    for i in range(7):
        await _submit(db, clock, world.actors["resident"], text=f"灯{i}")
    await _submit(db, clock, world.actors["resident2"], category="green", text="种树")
    async with db.uow() as uow:
        counts = dict(await needs.category_counts(uow, actor=world.actors["resident3"], now=clock.now()))
        assert counts["facility"] == 7 and counts["green"] == 1 and counts["env"] == 0 and len(counts) == 10
        first = await needs.list_needs(uow, actor=world.actors["resident3"], category="facility", now=clock.now())
        assert (len(first.items), first.pages, first.total) == (5, 2, 7)
        await needs.support(uow, actor=world.actors["resident3"], need_id=first.items[-1].id, now=clock.now())
        top = await needs.list_needs(uow, actor=world.actors["resident3"], category="facility", now=clock.now())
        assert top.items[0].supporters == 1
        mine = await needs.my_needs(uow, actor=world.actors["resident2"])
        assert [n.text for n in mine.items] == ["种树"]


async def test_merge_carries_supporters_without_duplicates(db: Database, clock: FixedClock, world: World) -> None:
    await _open(db, clock, world)
    keep = await _submit(db, clock, world.actors["resident"], text="3号楼楼道灯坏了")
    dup = await _submit(db, clock, world.actors["resident2"], text="楼道灯不亮")
    async with db.uow() as uow:
        now = clock.now()
        await needs.support(uow, actor=world.actors["resident3"], need_id=keep.id or 0, now=now)
        await needs.support(uow, actor=world.actors["resident3"], need_id=dup.id or 0, now=now)
        await needs.support(uow, actor=world.actors["volunteer"], need_id=dup.id or 0, now=now)
        await needs.support(uow, actor=world.actors["resident"], need_id=dup.id or 0, now=now)  # keep's author
        with pytest.raises(Invalid):
            await needs.merge(uow, actor=world.actors["admin"], need_id=dup.id or 0, into_number=dup.number, now=now)
        with pytest.raises(NotFound):
            await needs.merge(uow, actor=world.actors["admin"], need_id=dup.id or 0, into_number=99, now=now)
        await needs.merge(uow, actor=world.actors["admin"], need_id=dup.id or 0, into_number=keep.number, now=now)
        await uow.commit()
    async with db.uow() as uow:
        backers = sorted((await uow.session.exec(select(NeedSupport.member_id)
                                                 .where(NeedSupport.need_id == keep.id))).all())
        assert backers == sorted([world.members["resident3"], world.members["volunteer"], world.members["resident2"]])
        merged = await needs.show(uow, actor=world.actors["resident2"], need_id=dup.id or 0)
        assert (merged.status, merged.merged_into) == ("merged", keep.number)
        told = (await uow.session.exec(select(OutboxMessage).where(OutboxMessage.recipient_user_id.is_not(None)))).all()  # type: ignore[union-attr]
        assert [(m.tg_chat_id, m.payload["notice"], m.payload["params"]["into"]) for m in told] == [
            (301, "need_merged", keep.number)]
        with pytest.raises(Invalid):  # a merged need is not reviewed again
            await needs.reject(uow, actor=world.actors["admin"], need_id=dup.id or 0, reason="x", now=clock.now())
        assert "need.merge" in (await uow.session.exec(select(AuditEntry.action))).all()


async def test_reject_and_promote_tell_the_author(db: Database, clock: FixedClock, world: World) -> None:
    await _open(db, clock, world)
    a = await _submit(db, clock, world.actors["resident"])
    b = await _submit(db, clock, world.actors["resident2"], category="green", text="多种树")
    async with db.uow() as uow:
        admin = world.actors["admin"]
        with pytest.raises(Invalid) as err:
            await needs.reject(uow, actor=admin, need_id=a.id or 0, reason="长" * 201, now=clock.now())
        assert err.value.reason == "too_long"
        with pytest.raises(Invalid):
            await needs.promote(uow, actor=admin, need_id=b.id or 0, title="长" * 31, now=clock.now())
        await needs.reject(uow, actor=admin, need_id=a.id or 0, reason="属于物业维修范围", now=clock.now())
        await needs.promote(uow, actor=admin, need_id=b.id or 0, title="小区绿化提升", category="env", now=clock.now())
        await uow.commit()
    async with db.uow() as uow:
        told = (await uow.session.exec(select(OutboxMessage).where(OutboxMessage.recipient_user_id.is_not(None))  # type: ignore[union-attr]
                                       .order_by(OutboxMessage.id))).all()
        assert [(m.payload["notice"], m.tg_chat_id) for m in told] == [("need_rejected", 300), ("need_candidate", 301)]
        assert told[0].payload["params"]["reason"] == "属于物业维修范围"
        cand = await needs.show(uow, actor=world.actors["resident"], need_id=b.id or 0)
        assert (cand.status, cand.candidate_title, cand.category) == ("candidate", "小区绿化提升", "env")
        counts = dict(await needs.category_counts(uow, actor=world.actors["resident"], now=clock.now()))
        assert counts["facility"] == 0 and counts["env"] == 1
