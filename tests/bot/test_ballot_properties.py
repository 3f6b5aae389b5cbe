"""Whatever an admin types in the ballot dialog (numbers, dates), and whatever anyone types after /ballot
(receipt codes, subcommands) or /vote, the bot answers in Chinese with valid Telegram HTML of legal
length — never the internal-error text — and writes no ballot until the admin confirms."""

from __future__ import annotations

import asyncio
import itertools
import re
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from bot.core.dispatch import Core
from bot.core.types import ChatRef, MessageEvent, Send, UserRef
from bot.handlers import FALLBACKS, build_router, report_error
from bot.handlers.ballot import parse_local_time
from flows import conversation, membership, needs
from flows.clock import FixedClock
from flows.conversation import State
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Ballot, BallotCandidate, OutboxMessage, User
from tests.bot.test_properties import NOW, SECRET, _check

ADMIN, RESIDENT = 1, 2
GROUP = -100888
_ids = itertools.count(40_000)
CJK = re.compile(r"[\u4e00-\u9fff]")
CLOSES = (NOW + timedelta(days=7)).isoformat()
STEPS = {"choose": {}, "minimum": {"choose": 10}, "closes": {"choose": 10, "minimum": 1},
         "opens": {"choose": 10, "minimum": 1, "closes": CLOSES},
         "confirm": {"choose": 10, "minimum": 1, "closes": CLOSES, "opens": None}}


async def _actor(uow, tg_id: int) -> membership.Actor:  # type: ignore[no-untyped-def]
    user = (await uow.session.exec(select(User).where(User.tg_id == tg_id))).one()
    return await membership.load_actor(uow, user)


@pytest.fixture(scope="module")
def candidates(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite+aiosqlite:///{Path(tmp_path_factory.mktemp('ballotprop')) / 'p.db'}"
    upgrade(url)

    async def seed() -> None:
        db = Database(url)
        async with db.uow() as uow:
            community, invite = await membership.create_community(uow, name="北辰示范社区", now=NOW, buildings=["1"])
            for tg_id, code in ((ADMIN, invite.code), (RESIDENT, None)):
                user = await membership.touch_user(uow, tg_id=tg_id, first_name=f"u{tg_id}", last_name=None,
                                                   username=None, tg_language="zh-hans", now=NOW)
                await membership.register(uow, user=user, community_id=community.id, building_id=None, now=NOW,
                                          invite_code=code)
            await uow.commit()
        async with db.uow() as uow:
            admin = await _actor(uow, ADMIN)
            await needs.open_period(uow, actor=admin, now=NOW)
            for i in range(12):
                need = await needs.submit(uow, actor=admin, category="facility", text=f"需求{i}", now=NOW)
                await needs.promote(uow, actor=admin, need_id=need.id or 0, title=f"候选{i}", now=NOW)
            await uow.commit()
        await db.dispose()

    asyncio.run(seed())
    return url


def _event(who: int, text: str, *, command: str | None = None, chat: ChatRef | None = None) -> MessageEvent:
    return MessageEvent(update_id=next(_ids), chat=chat or ChatRef(id=who, type="private"),
                        user=UserRef(id=who, first_name=f"u{who}", language_code="zh-hans"), message_id=1,
                        text=text if command is None else f"/{command} {text}", command=command,
                        args=text if command is not None else "")


async def _run(url: str, event: MessageEvent, state: State | None = None) -> list:
    db = Database(url)
    try:
        async with db.uow() as uow:
            assert event.user is not None and event.chat is not None
            await conversation.clear(uow, chat_id=event.chat.id, user_id=event.user.id)
            if state is not None:
                await conversation.put(uow, chat_id=event.chat.id, user_id=event.user.id, state=state, now=NOW)
            await uow.commit()
        core = Core(db=db, clock=FixedClock(NOW), secret=SECRET, router=build_router(), errors=report_error,
                    fallbacks=FALLBACKS)
        replies = await core.handle(event)
        async with db.uow() as uow:  # nothing half-written: no ballot, no notice before a confirmation
            assert not (await uow.session.exec(select(Ballot))).all()
            assert not (await uow.session.exec(select(BallotCandidate))).all()
            notices = [o.payload.get("notice", "") for o in (await uow.session.exec(select(OutboxMessage))).all()]
            assert not [n for n in notices if n.startswith("ballot")]
        return replies
    finally:
        await db.dispose()


def _answered_in_chinese(replies: list) -> None:
    _check(replies)
    assert replies, "no answer at all"
    for reply in replies:
        assert isinstance(reply, Send) and CJK.search(reply.message.text), reply


free_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=200)
numbers = st.one_of(st.integers(min_value=-10**15, max_value=10**15).map(str),
                    st.from_regex(r"\A[0-9０-９]{1,20}\Z"))
times = st.one_of(st.datetimes().map(lambda d: d.strftime("%Y-%m-%d %H:%M")),
                  st.from_regex(r"\A\d{4}-\d{1,2}-\d{1,2}( \d{1,2}:\d{1,2})?\Z"))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(step=st.sampled_from(sorted(STEPS)), text=st.one_of(free_text, numbers, times))
@example(step="choose", text="41")
@example(step="minimum", text="11")
@example(step="closes", text="2027-02-28 18:00")
@example(step="closes", text="2027-13-01 18:00")
@example(step="opens", text="2027-03-09 09:00")
@example(step="opens", text="2027-03-20 09:00")
def test_any_text_at_any_step_of_the_dialog(candidates: str, step: str, text: str) -> None:
    replies = asyncio.run(_run(candidates, _event(ADMIN, text), State("ballot_new", step, dict(STEPS[step]))))
    _answered_in_chinese(replies)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(who=st.sampled_from([ADMIN, RESIDENT]), verb=st.sampled_from(["", "receipt ", "withdraw ", "open ", "new "]),
       text=st.one_of(free_text, st.from_regex(r"\A[0-9A-Za-z]{4}-?[0-9A-Za-z]{4}\Z"), numbers))
def test_any_text_after_ballot(candidates: str, who: int, verb: str, text: str) -> None:
    _answered_in_chinese(asyncio.run(_run(candidates, _event(who, verb + text, command="ballot"))))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(who=st.sampled_from([ADMIN, RESIDENT]), text=free_text, group=st.booleans())
def test_any_text_after_vote_or_ballot_in_a_group(candidates: str, who: int, text: str, group: bool) -> None:
    chat = ChatRef(id=GROUP, type="supergroup", title="群") if group else None
    _check(asyncio.run(_run(candidates, _event(who, text, command="vote", chat=chat))))


@pytest.mark.parametrize("text,ok", [("2027-03-15 18:00", True), (" 2027-03-15   18:00 ", True), ("2027-03-15", True),
                                     ("2027-3-5 9:05", True), ("2027-02-30 18:00", False), ("明天", False),
                                     ("2027-03-15T18:00", True), ("2027-03-15 18：00", True), ("", False)])
def test_local_times(text: str, ok: bool) -> None:
    at = parse_local_time(text, "Asia/Shanghai")
    assert (at is not None) == ok
    if ok and text.strip().startswith("2027-03-15"):
        assert at is not None and at.isoformat() == "2027-03-15T10:00:00+00:00"
