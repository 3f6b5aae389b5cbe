"""Quick polls' use cases against a real database: parsing `/poll` text within the Bot API limits,
who may put a poll where (checked without writing), storing a sent poll, answers (the latest wins,
empty = retracted, unknown polls and closed polls ignored, unregistered people kept without a
member), results as counts, the latest poll of a chat, closing — and uniqueness in the schema."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from flows import membership, polls
from flows.clock import FixedClock
from flows.errors import AlreadyDone, Forbidden, Invalid, NotFound, NotRegistered
from flows.membership import Actor
from flows.roles import Role
from storage.db import Database
from storage.models import AuditEntry, Chat, Poll, PollAnswer, User

LINKED, UNLINKED, FOREIGN = -100200, -100201, -100202
ADMIN_TG, RESIDENT_TG, RESIDENT2_TG, STRANGER_TG, OTHER_ADMIN_TG = 600, 601, 602, 603, 604


@dataclass
class World:
    admin: Actor
    resident: Actor
    stranger: Actor
    other_admin: Actor  # admin of another community
    resident_member: int


async def _actor(db: Database, tg_id: int) -> Actor:
    async with db.uow() as uow:
        user = (await uow.session.exec(select(User).where(User.tg_id == tg_id))).one()
        return await membership.load_actor(uow, user)


async def _person(uow, tg_id: int, name: str, community_id: int | None, now, admin: bool = False) -> int | None:  # type: ignore[no-untyped-def]
    user = await membership.touch_user(uow, tg_id=tg_id, first_name=name, last_name=None, username=None,
                                       tg_language="zh-hans", now=now)
    if community_id is None:
        return None
    done = await membership.register(uow, user=user, community_id=community_id, building_id=None, now=now)
    if admin:
        await membership.assign_role(uow, member=done.member, role=Role.ADMIN, org=None, now=now)
    return done.member.id


@pytest.fixture
async def world(db: Database, clock: FixedClock) -> World:
    now = clock.now()
    async with db.uow() as uow:
        home, _ = await membership.create_community(uow, name="北辰示范社区", now=now, buildings=["1"])
        other, _ = await membership.create_community(uow, name="别的社区", now=now, buildings=["1"])
        await _person(uow, ADMIN_TG, "王书记", home.id, now, admin=True)
        resident = await _person(uow, RESIDENT_TG, "赵阿姨", home.id, now)
        await _person(uow, RESIDENT2_TG, "钱叔叔", home.id, now)
        await _person(uow, STRANGER_TG, "路人", None, now)
        await _person(uow, OTHER_ADMIN_TG, "李书记", other.id, now, admin=True)
        for tg_chat_id, community_id, purpose in ((LINKED, home.id, "community"), (UNLINKED, None, None),
                                                  (FOREIGN, other.id, "community")):
            uow.session.add(Chat(tg_chat_id=tg_chat_id, type="supergroup", title="群", community_id=community_id,
                                 purpose=purpose, bot_status="administrator", created_at=now))
        await uow.commit()
    assert resident is not None
    return World(admin=await _actor(db, ADMIN_TG), resident=await _actor(db, RESIDENT_TG),
                 stranger=await _actor(db, STRANGER_TG), other_admin=await _actor(db, OTHER_ADMIN_TG),
                 resident_member=resident)


async def _put(db: Database, clock: FixedClock, world: World, text: str = "几点开始？ | 上午 | 下午 | 晚上",
               tg_poll_id: str = "5001", chat: int = LINKED) -> Poll:
    """What /poll does: prepare in the update's transaction, create after Telegram accepted it."""
    async with db.uow() as uow:
        draft = await polls.prepare(uow, actor=world.admin, tg_chat_id=chat, chat_type="supergroup", text=text)
    async with db.uow() as uow:
        poll = await polls.create(uow, draft=draft, tg_poll_id=tg_poll_id, message_id=77, now=clock.now())
        await uow.commit()
    return poll


async def _answer(db: Database, clock: FixedClock, tg_user: int, options: list[int],
                  tg_poll_id: str = "5001") -> PollAnswer | None:
    async with db.uow() as uow:
        answer = await polls.record_answer(uow, tg_poll_id=tg_poll_id, tg_user_id=tg_user, option_ids=options,
                                           now=clock.now())
        await uow.commit()
    return answer


async def _rows(db: Database, model: type) -> list:  # type: ignore[type-arg]
    async with db.uow() as uow:
        return list((await uow.session.exec(select(model))).all())


# ---------------------------------------------------------------- parsing


def test_parse_splits_cleans_and_accepts_the_full_width_bar() -> None:
    assert polls.parse("  周六  大扫除？\n| 上午9点 ｜下午\t3点 |晚上") == ("周六 大扫除？", ("上午9点", "下午 3点", "晚上"))
    assert polls.parse("问题\u200b\x07 | a | b") == ("问题", ("a", "b"))
    assert polls.parse("<b>Q</b> | <i>x</i> | y") == ("<b>Q</b>", ("<i>x</i>", "y"))  # plain text, sent as such


@pytest.mark.parametrize(("text", "field", "reason", "details"), [
    ("", "question", "empty", {}),
    (" \u200b | a | b", "question", "empty", {}),
    ("问" * 301 + " | a | b", "question", "too_long", {"limit": 300}),
    ("😀" * 151 + " | a | b", "question", "too_long", {"limit": 300}),  # Telegram counts UTF-16 units
    ("Q", "options", "too_few", {"limit": 2}),
    ("Q | a", "options", "too_few", {"limit": 2}),
    ("Q | a |  | b", "option", "empty", {"number": 2}),
    ("Q | a | b |", "option", "empty", {"number": 3}),
    ("Q | a | " + "b" * 101, "option", "too_long", {"number": 2, "limit": 100}),
    ("Q | Yes | no | yes", "option", "duplicate", {"number": 3, "text": "yes"}),
    ("Q | " + " | ".join(str(i) for i in range(13)), "options", "too_many", {"limit": 12}),
])
def test_parse_refuses_what_telegram_would(text: str, field: str, reason: str, details: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(Invalid) as err:
        polls.parse(text)
    assert (err.value.field, err.value.reason) == (field, reason)
    for key, value in details.items():
        assert err.value.details[key] == value


def test_parse_takes_the_limits_themselves() -> None:
    question, options = polls.parse("问" * 300 + " | " + " | ".join(chr(ord("A") + i) + "选" * 99 for i in range(12)))
    assert len(question) == 300 and len(options) == 12 and all(len(o) == 100 for o in options)
    assert polls.parse("😀" * 150 + " | a | b")[0] == "😀" * 150


# ---------------------------------------------------------------- who may put a poll where


async def test_prepare_checks_without_writing(db: Database, world: World) -> None:
    async with db.uow() as uow:
        draft = await polls.prepare(uow, actor=world.admin, tg_chat_id=LINKED, chat_type="supergroup",
                                    text="几点开始？ | 上午 | 下午")
    assert draft.question == "几点开始？" and draft.options == ("上午", "下午") and draft.tg_chat_id == LINKED
    assert draft.member_id == world.admin.member.id  # type: ignore[union-attr]
    assert await _rows(db, Poll) == []


@pytest.mark.parametrize(("who", "chat", "chat_type", "error"), [
    ("resident", LINKED, "supergroup", Forbidden),
    ("stranger", LINKED, "supergroup", NotRegistered),
    ("admin", UNLINKED, "supergroup", NotFound),
    ("admin", -100999, "group", NotFound),  # a group we have never seen
    ("admin", FOREIGN, "supergroup", Forbidden),
    ("other_admin", LINKED, "supergroup", Forbidden),
    ("admin", ADMIN_TG, "private", Invalid),
])
async def test_prepare_refuses(db: Database, world: World, who: str, chat: int, chat_type: str,
                               error: type[Exception]) -> None:
    with pytest.raises(error):
        async with db.uow() as uow:
            await polls.prepare(uow, actor=getattr(world, who), tg_chat_id=chat, chat_type=chat_type,
                                text="几点开始？ | 上午 | 下午")


async def test_permission_is_checked_before_the_text(db: Database, world: World) -> None:
    with pytest.raises(Forbidden):
        async with db.uow() as uow:
            await polls.prepare(uow, actor=world.resident, tg_chat_id=LINKED, chat_type="supergroup", text="")


# ---------------------------------------------------------------- storing and answering


async def test_create_stores_the_sent_poll_and_audits(db: Database, clock: FixedClock, world: World) -> None:
    poll = await _put(db, clock, world)
    [row] = await _rows(db, Poll)
    assert (row.tg_poll_id, row.message_id, row.tg_chat_id) == ("5001", 77, LINKED)
    assert row.options == ["上午", "下午", "晚上"] and row.question == "几点开始？" and row.closed_at is None
    assert row.created_by_member_id == world.admin.member.id  # type: ignore[union-attr]
    [entry] = [e for e in await _rows(db, AuditEntry) if e.action == "poll.create"]
    assert entry.subject_id == poll.id and entry.actor_user_id == world.admin.user.id


async def test_answers_latest_wins_retract_and_unregistered(db: Database, clock: FixedClock, world: World) -> None:
    poll = await _put(db, clock, world)
    await _answer(db, clock, RESIDENT_TG, [0])
    await _answer(db, clock, RESIDENT2_TG, [1])
    await _answer(db, clock, STRANGER_TG, [2])  # a User row but no member
    await _answer(db, clock, 999_999, [2])  # never seen at all
    clock.advance(minutes=1)
    changed = await _answer(db, clock, RESIDENT2_TG, [0])
    assert changed is not None and changed.option_ids == [0] and changed.answered_at == clock.now()
    await _answer(db, clock, 999_999, [])  # retracted
    answers = {a.tg_user_id: a for a in await _rows(db, PollAnswer)}
    assert {k: a.option_ids for k, a in answers.items()} == {RESIDENT_TG: [0], RESIDENT2_TG: [0], STRANGER_TG: [2],
                                                            999_999: []}
    assert answers[RESIDENT_TG].member_id == world.resident_member
    assert answers[STRANGER_TG].member_id is None and answers[999_999].member_id is None
    async with db.uow() as uow:
        res = await polls.results(uow, poll=poll)
    assert res.counts == (2, 0, 1) and res.voters == 3 and not res.closed and res.lang == "zh_CN"
    assert res.question == "几点开始？" and res.options == ("上午", "下午", "晚上")


async def test_answers_to_unknown_or_closed_polls_are_ignored(db: Database, clock: FixedClock, world: World) -> None:
    assert await _answer(db, clock, RESIDENT_TG, [0], tg_poll_id="nope") is None
    assert await _rows(db, PollAnswer) == []
    await _put(db, clock, world)
    await _answer(db, clock, RESIDENT_TG, [1])
    async with db.uow() as uow:
        await polls.close(uow, actor=world.admin, tg_chat_id=LINKED, now=clock.now())
        await uow.commit()
    assert await _answer(db, clock, RESIDENT_TG, [0]) is None
    assert [a.option_ids for a in await _rows(db, PollAnswer)] == [[1]]


async def test_out_of_range_option_ids_are_dropped(db: Database, clock: FixedClock, world: World) -> None:
    await _put(db, clock, world)
    answer = await _answer(db, clock, RESIDENT_TG, [7, -1, 2, 2])
    assert answer is not None and answer.option_ids == [2]


# ---------------------------------------------------------------- latest, results, closing


async def test_latest_is_per_chat_and_newest(db: Database, clock: FixedClock, world: World) -> None:
    async with db.uow() as uow:
        assert await polls.latest(uow, tg_chat_id=LINKED) is None
        with pytest.raises(NotFound):
            await polls.latest_results(uow, tg_chat_id=LINKED)
    await _put(db, clock, world, "第一个？ | 是 | 否", tg_poll_id="1")
    await _put(db, clock, world, "第二个？ | 是 | 否", tg_poll_id="2")  # same moment: the later row wins
    clock.advance(hours=1)
    async with db.uow() as uow:
        latest = await polls.latest(uow, tg_chat_id=LINKED)
        assert latest is not None and latest.question == "第二个？"
        assert (await polls.latest_results(uow, tg_chat_id=LINKED)).voters == 0
        assert await polls.latest(uow, tg_chat_id=UNLINKED) is None


async def test_close(db: Database, clock: FixedClock, world: World) -> None:
    with pytest.raises(NotFound):
        async with db.uow() as uow:
            await polls.close(uow, actor=world.admin, tg_chat_id=LINKED, now=clock.now())
    await _put(db, clock, world)
    await _answer(db, clock, RESIDENT_TG, [0])
    with pytest.raises(Forbidden):
        async with db.uow() as uow:
            await polls.close(uow, actor=world.resident, tg_chat_id=LINKED, now=clock.now())
    async with db.uow() as uow:
        poll = await polls.close(uow, actor=world.admin, tg_chat_id=LINKED, now=clock.now())
        await uow.commit()
    assert poll.message_id == 77
    async with db.uow() as uow:
        res = await polls.latest_results(uow, tg_chat_id=LINKED)
    assert res.closed and res.counts == (1, 0, 0) and res.voters == 1
    with pytest.raises(AlreadyDone):
        async with db.uow() as uow:
            await polls.close(uow, actor=world.admin, tg_chat_id=LINKED, now=clock.now())
    assert "poll.close" in [e.action for e in await _rows(db, AuditEntry)]


# ---------------------------------------------------------------- the schema


async def test_one_answer_per_person_and_one_row_per_telegram_poll(db: Database, clock: FixedClock,
                                                                   world: World) -> None:
    poll = await _put(db, clock, world)
    await _answer(db, clock, RESIDENT_TG, [0])
    with pytest.raises(IntegrityError):
        async with db.uow() as uow:
            uow.session.add(PollAnswer(poll_id=poll.id, tg_user_id=RESIDENT_TG, option_ids=[1], answered_at=clock.now()))
            await uow.commit()
    with pytest.raises(IntegrityError):
        await _put(db, clock, world)  # the same Telegram poll id again
