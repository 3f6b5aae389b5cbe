"""The needs list's use cases against a real database: the period, submitting and numbering,
support once per person (in the schema), review (merge carrying supporters, reject, promote),
and who may do what per role."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from flows import membership, needs
from flows.clock import FixedClock
from flows.errors import AlreadyDone, Forbidden, Invalid, NotFound, NotRegistered
from flows.membership import Actor
from flows.roles import Org, Role
from storage.db import Database
from storage.models import AuditEntry, Chat, Community, Need, NeedSupport, OutboxMessage
from tests.flows.people import actor_of, enrol

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


@pytest.fixture
async def world(db: Database, clock: FixedClock) -> World:
    now = clock.now()
    async with db.uow() as uow:
        community, _ = await membership.create_community(uow, name="北辰示范社区", now=now, buildings=["1", "2"])
        members = await enrol(uow, community_id=community.id or 0, people=ROLES, first_tg_id=300, now=now)
        await membership.touch_user(uow, tg_id=399, first_name="stranger", last_name=None, username=None,
                                    tg_language="zh-hans", now=now)
        uow.session.add(Chat(tg_chat_id=-100123, type="supergroup", title="社区群", community_id=community.id,
                             purpose="community", bot_status="administrator", created_at=now))
        uow.session.add(Chat(tg_chat_id=-100124, type="supergroup", title="别的群", community_id=None,
                             bot_status="administrator", created_at=now))
        await uow.commit()
    actors = {key: await actor_of(db, 300 + i) for i, key in enumerate(ROLES)}
    return World(community.id, actors, members, await actor_of(db, 399))


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


async def test_a_need_told_by_voice(db: Database, clock: FixedClock, world: World) -> None:
    """Old people need not type: a voice message alone is a need; its length is checked, and the
    admins' list carries it so they can listen."""
    await _open(db, clock, world)
    resident = world.actors["resident"]
    for seconds, reason in ((0, "bad"), (None, "bad"), (needs.VOICE_SECONDS + 1, "too_long")):
        with pytest.raises(Invalid) as err:
            await _submit(db, clock, resident, text="", voice_file_id="AwACAgQ-voice", voice_seconds=seconds)
        assert (err.value.field, err.value.reason) == ("voice", reason)
    with pytest.raises(Invalid) as err:
        await _submit(db, clock, resident, text="", voice_file_id="", voice_seconds=5)
    assert err.value.field == "voice"
    with pytest.raises(Invalid) as err:  # no voice: the text is still required
        await _submit(db, clock, resident, text="  ")
    assert err.value.reason == "empty"
    spoken = await _submit(db, clock, resident, text="", voice_file_id="AwACAgQ-voice", voice_seconds=12)
    both = await _submit(db, clock, resident, text="楼道灯", voice_file_id="AwACAgQ-voice2", voice_seconds=300)
    assert (spoken.text, spoken.voice_file_id, spoken.voice_seconds) == ("", "AwACAgQ-voice", 12)
    assert (both.text, both.voice_seconds) == ("楼道灯", 300)
    async with db.uow() as uow:
        page = await needs.review_list(uow, actor=world.actors["admin"], now=clock.now())
    assert {(n.number, n.voice_file_id, n.voice_seconds) for n in page.items} == {
        (spoken.number, "AwACAgQ-voice", 12), (both.number, "AwACAgQ-voice2", 300)}


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
        assert told[0].payload["params"]["own"] is False  # resident2 did not write the need it went into
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


# ---------------------------------------------------------------- categories per community (F-1.1)


async def _actor_of(db: Database, world: World, key: str) -> Actor:
    """A fresh actor (the community's settings as stored now)."""
    return await actor_of(db, 300 + list(ROLES).index(key))


def test_stored_categories_are_read_leniently() -> None:
    def community(value: object) -> Community:
        return Community(slug="c", name="c", settings={"need_categories": value})

    assert needs.categories(community(None)) == needs.CATEGORIES
    assert needs.categories(community(["green", "env", "bogus", 3])) == ("env", "green")  # the old format
    assert needs.categories(community(["-env", "-green"])) == needs.CATEGORIES  # never none in use
    states = needs.category_states(community(["env", "x:加装电梯", "-x:社区食堂", "x:加装电梯", "x:" + "长" * 13,
                                             "x: 空格 "]))
    assert states[-2:] == [("x:加装电梯", True), ("x:社区食堂", False)] and len(states) == 12
    assert needs.categories(community(["env", "x:加装电梯"])) == ("env", "x:加装电梯")


async def test_admins_edit_the_categories(db: Database, clock: FixedClock, world: World) -> None:
    await _open(db, clock, world)
    old = await _submit(db, clock, world.actors["resident"], category="env", text="垃圾分类点太少")
    now = clock.now()
    async with db.uow() as uow:
        admin = world.actors["admin"]
        for who in ("resident", "grid", "committee"):
            with pytest.raises(Forbidden):
                await needs.add_category(uow, actor=world.actors[who], name="加装电梯", now=now)
            with pytest.raises(Forbidden):
                await needs.set_category(uow, actor=world.actors[who], code="env", active=False, now=now)
        assert await needs.add_category(uow, actor=admin, name="  加装\n电梯 ", now=now) == "x:加装 电梯"
        for bad, reason in (("   ", "empty"), ("长" * 13, "too_long"), ("加装 电梯", "duplicate")):
            with pytest.raises(Invalid) as err:
                await needs.add_category(uow, actor=admin, name=bad, now=now)
            assert err.value.reason == reason
        assert await needs.add_category(uow, actor=admin, name="长" * 12, now=now) == "x:" + "长" * 12
        await needs.set_category(uow, actor=admin, code="env", active=False, now=now)
        with pytest.raises(Invalid):
            await needs.set_category(uow, actor=admin, code="x:nope", active=True, now=now)
        await uow.commit()
    async with db.uow() as uow:  # stored for good (the JSON column was reassigned), and audited
        community = await uow.session.get(Community, world.community_id)
        assert community is not None
        assert needs.categories(community) == (*needs.CATEGORIES[1:], "x:加装 电梯", "x:" + "长" * 12)
        assert needs.all_categories(community)[0] == "env"
        actions = (await uow.session.exec(select(AuditEntry.action).where(
            AuditEntry.action.in_(("needs.category", "needs.category_add"))))).all()  # type: ignore[attr-defined]
        assert sorted(actions) == ["needs.category", "needs.category_add", "needs.category_add"]
    resident = await _actor_of(db, world, "resident2")
    with pytest.raises(Invalid):  # switched off: no new needs there ...
        await _submit(db, clock, resident, category="env")
    new = await _submit(db, clock, resident, category="x:加装 电梯", text="3号楼想加装电梯")
    async with db.uow() as uow:  # ... but the needs filed there keep showing under it
        counts = dict(await needs.category_counts(uow, actor=resident, now=clock.now()))
        assert counts["env"] == 1 and counts["x:加装 电梯"] == 1 and len(counts) == 12
        shown = await needs.list_needs(uow, actor=resident, category="env", now=clock.now())
        assert [n.id for n in shown.items] == [old.id]
        assert [n.id for n in (await needs.list_needs(uow, actor=resident, category="x:加装 电梯",
                                                      now=clock.now())).items] == [new.id]
        admin = await _actor_of(db, world, "admin")
        with pytest.raises(Invalid):  # promoting into a category switched off
            await needs.promote(uow, actor=admin, need_id=new.id or 0, title="加装电梯", category="env", now=now)
        await needs.promote(uow, actor=admin, need_id=old.id or 0, title="垃圾分类", category="env", now=now)
        await needs.promote(uow, actor=admin, need_id=new.id or 0, title="加装电梯", category="x:" + "长" * 12,
                            now=now)
        await uow.commit()
    async with db.uow() as uow:
        assert (await uow.session.get(Need, new.id)).category == "x:" + "长" * 12  # type: ignore[union-attr]


async def test_category_limits(db: Database, clock: FixedClock, world: World) -> None:
    now = clock.now()
    async with db.uow() as uow:
        admin = world.actors["admin"]
        for i in range(needs.MAX_IN_USE - len(needs.CATEGORIES)):
            await needs.add_category(uow, actor=admin, name=f"自定{i}", now=now)
        with pytest.raises(Invalid) as err:  # 16 in use
            await needs.add_category(uow, actor=admin, name="再一个", now=now)
        assert (err.value.field, err.value.reason) == ("categories", "too_many")
        await needs.set_category(uow, actor=admin, code="env", active=False, now=now)
        await needs.add_category(uow, actor=admin, name="再一个", now=now)
        with pytest.raises(Invalid):
            await needs.set_category(uow, actor=admin, code="env", active=True, now=now)
        for code in needs.categories(await uow.session.get(Community, world.community_id))[1:]:
            await needs.set_category(uow, actor=admin, code=code, active=False, now=now)
        await needs.set_category(uow, actor=admin, code="env", active=False, now=now)  # already off: no-op
        last = needs.categories(await uow.session.get(Community, world.community_id))
        assert len(last) == 1
        with pytest.raises(Invalid) as err:
            await needs.set_category(uow, actor=admin, code=last[0], active=False, now=now)
        assert (err.value.field, err.value.reason) == ("categories", "last")
        for i in range(needs.MAX_OWN - 7):
            await needs.add_category(uow, actor=admin, name=f"更多{i}", now=now)
        with pytest.raises(Invalid) as err:
            await needs.add_category(uow, actor=admin, name="太多了", now=now)
        assert err.value.reason == "too_many_own"


# ---------------------------------------------------------------- reminders to the groups (F-1.5)


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    """A local (Tianjin) time in March 2027."""
    return datetime(2027, 3, day, hour, minute, tzinfo=ZoneInfo("Asia/Shanghai"))


async def _remind(db: Database, clock: FixedClock, at: datetime) -> list[dict]:
    clock.set(at)
    async with db.uow() as uow:
        count = await needs.remind(uow, now=clock.now())
        await uow.commit()
    async with db.uow() as uow:
        rows = (await uow.session.exec(select(OutboxMessage).where(OutboxMessage.dedupe_key.like("needs_remind:%"))  # type: ignore[union-attr]
                                       .order_by(OutboxMessage.id))).all()
    assert count <= len(rows)
    return [{"chat": r.tg_chat_id, **r.payload["params"]} for r in rows[len(rows) - count:]]


async def test_reminders_weekly_then_a_last_call(db: Database, clock: FixedClock, world: World) -> None:
    clock.set(_at(1, 9, 30))  # a Monday
    async with db.uow() as uow:
        uow.session.add(Chat(tg_chat_id=-100125, type="supergroup", title="退出的群", community_id=world.community_id,
                             purpose="building", bot_status="left", created_at=clock.now()))
        await needs.open_period(uow, actor=world.actors["admin"], now=clock.now(), closes_on=date(2027, 3, 31))
        await uow.commit()
    await _submit(db, clock, world.actors["resident"])
    await _submit(db, clock, world.actors["resident2"], text="多种树", category="green")
    assert await _remind(db, clock, _at(1, 11)) == []  # the opening notice has just gone out
    assert await _remind(db, clock, _at(8, 9, 50)) == []  # a week later, before 10:00
    sent = await _remind(db, clock, _at(8, 10, 0))
    assert sent == [{"chat": -100123, "year": 2027, "community": "北辰示范社区", "count": 2, "last": False,
                     "closes_on": "2027-03-31"}]
    assert await _remind(db, clock, _at(8, 10, 10)) == []  # the scheduler calls again
    assert await _remind(db, clock, _at(10, 12)) == []  # once per week
    assert await _remind(db, clock, _at(15, 21)) == []  # not in the evening ...
    assert len(await _remind(db, clock, _at(16, 10, 30))) == 1  # ... but the next day of that week
    assert len(await _remind(db, clock, _at(22, 10))) == 1
    last = await _remind(db, clock, _at(29, 10))  # two days before the closing day
    assert [(m["last"], m["count"]) for m in last] == [(True, 2)]
    assert await _remind(db, clock, _at(30, 10)) == [] and await _remind(db, clock, _at(31, 15)) == []
    assert await _remind(db, clock, datetime(2027, 4, 5, 10, tzinfo=ZoneInfo("Asia/Shanghai"))) == []  # closed


async def test_no_reminders_right_after_opening_or_when_closed(db: Database, clock: FixedClock,
                                                               world: World) -> None:
    clock.set(_at(1, 9))
    async with db.uow() as uow:
        await needs.open_period(uow, actor=world.actors["admin"], now=clock.now(), closes_on=date(2027, 3, 3))
        await uow.commit()
    assert await _remind(db, clock, _at(1, 10)) == []  # the last call would be today: too soon
    assert await _remind(db, clock, _at(2, 10)) == []
    async with db.uow() as uow:
        await needs.close_period(uow, actor=world.actors["admin"], now=_at(2, 12))
        await uow.commit()
    assert await _remind(db, clock, _at(8, 10)) == []
    async with db.uow() as uow:  # reopened without a closing date: weekly from a week after reopening
        await needs.open_period(uow, actor=world.actors["admin"], now=_at(9, 9))
        await uow.commit()
    assert await _remind(db, clock, _at(15, 10)) == []
    assert len(await _remind(db, clock, _at(16, 10))) == 1


async def test_needs_filed_at_the_same_moment_get_distinct_numbers(db: Database, clock: FixedClock,
                                                                    world: World) -> None:
    await _open(db, clock, world)
    authors = ["resident", "resident2", "resident3", "representative", "volunteer", "committee"] * 2

    async def file(key: str) -> int:
        async with db.uow(write=True) as uow:
            need = await needs.submit(uow, actor=world.actors[key], category="facility", text=f"{key} 的需求",
                                      now=clock.now())
            await uow.commit()
            return need.number

    numbers = await asyncio.gather(*(file(key) for key in authors))
    assert sorted(numbers) == list(range(1, len(authors) + 1))


async def test_item7_needs_per_member_per_collection_are_capped(db: Database, clock: FixedClock, world: World) -> None:
    """A member submits at most `per_member` needs themselves per collection (LINLI_NEEDS_PER_MEMBER); what staff
    enter for them at a door visit does not count, and the neighbours are not held back."""
    from flows.errors import LimitReached

    assert needs.PER_MEMBER == 10  # the default of the setting
    await _open(db, clock, world)
    resident = world.actors["resident"]
    for i in range(3):
        await _submit(db, clock, resident, text=f"需求 {i}", per_member=3)
    with pytest.raises(LimitReached) as err:
        await _submit(db, clock, resident, text="第四条", per_member=3)
    assert (err.value.what, err.value.limit) == ("needs", 3)
    async with db.uow() as uow:
        with pytest.raises(LimitReached):
            await needs.check_allowance(uow, actor=resident, now=clock.now(), per_member=3)
        assert len((await uow.session.exec(select(Need).where(Need.text == "第四条"))).all()) == 0
    await _submit(db, clock, world.actors["grid"], text="上门记录", channel="door_visit",
                  author_member_id=world.members["resident"], per_member=3)
    await _submit(db, clock, world.actors["resident2"], text="别人的", per_member=3)
    for i in range(needs.PER_MEMBER):
        await _submit(db, clock, world.actors["resident3"], text=f"默认 {i}", per_member=needs.PER_MEMBER)
    with pytest.raises(LimitReached):
        await _submit(db, clock, world.actors["resident3"], text="第十一条", per_member=needs.PER_MEMBER)
    await _submit(db, clock, world.actors["resident3"], text="demo data", per_member=None)  # seeding: no cap
