"""Whatever people type as a need (private dialog or `/need 文字` in a group), a reject reason, a
candidate title or the name of a new category, the bot answers with valid Telegram HTML of legal length — never the
internal-error text — and stores only what keeps the limits."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from bot.core.dispatch import Core
from bot.core.types import ChatRef, MessageEvent, UserRef
from bot.handlers import FALLBACKS, build_router, report_error
from flows import conversation, membership, needs
from flows.clock import FixedClock
from flows.conversation import State
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Community, Need, User
from tests.bot.test_properties import NOW, SECRET, _check

ADMIN = 1
GROUP = -100777
_ids = itertools.count(20_000)


async def _admin(uow) -> membership.Actor:  # type: ignore[no-untyped-def]
    user = (await uow.session.exec(select(User).where(User.tg_id == ADMIN))).one()
    return await membership.load_actor(uow, user)


@pytest.fixture(scope="module")
def collecting(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite+aiosqlite:///{Path(tmp_path_factory.mktemp('needprop')) / 'p.db'}"
    upgrade(url)

    async def seed() -> None:
        db = Database(url)
        async with db.uow() as uow:
            community, invite = await membership.create_community(uow, name="北辰示范社区", now=NOW, buildings=["1"])
            user = await membership.touch_user(uow, tg_id=ADMIN, first_name="王书记", last_name=None, username=None,
                                               tg_language="zh-hans", now=NOW)
            await membership.register(uow, user=user, community_id=community.id, building_id=None, now=NOW,
                                      invite_code=invite.code)
            await uow.commit()
        async with db.uow() as uow:
            await needs.open_period(uow, actor=await _admin(uow), now=NOW)
            await uow.commit()
        await db.dispose()

    asyncio.run(seed())
    return url


def _event(text: str, *, command: str | None = None, chat: ChatRef | None = None) -> MessageEvent:
    return MessageEvent(update_id=next(_ids), chat=chat or ChatRef(id=ADMIN, type="private"),
                        user=UserRef(id=ADMIN, first_name="王书记", language_code="zh-hans"), message_id=1,
                        text=text if command is None else f"/{command} {text}", command=command,
                        args=text if command is not None else "")


async def _run(url: str, event: MessageEvent, state: State | None = None, fresh_need: bool = False) -> list:
    db = Database(url)
    try:
        async with db.uow() as uow:
            if fresh_need:
                need = await needs.submit(uow, actor=await _admin(uow), category="env", text="楼道堆物", now=NOW)
                assert state is not None
                state = State(state.flow, state.step, {"id": need.id})
            if state is not None:
                await conversation.put(uow, chat_id=ADMIN, user_id=ADMIN, state=state, now=NOW)
            await uow.commit()
        core = Core(db=db, clock=FixedClock(NOW), secret=SECRET, router=build_router(), errors=report_error,
                    fallbacks=FALLBACKS)
        replies = await core.handle(event)
        async with db.uow() as uow:
            for n in (await uow.session.exec(select(Need))).all():
                assert 0 < len(n.text) <= 500 and len(n.reject_reason or "") <= 200
                assert len(n.candidate_title or "") <= 30
        return replies
    finally:
        await db.dispose()


free_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=600)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(step=st.sampled_from(["category", "text", "photo", "confirm"]), text=free_text)
def test_any_text_at_any_step_of_need(collecting: str, step: str, text: str) -> None:
    state = State("need", step, {"ch": "chat", "cat": "facility", "text": "楼道灯不亮"})
    _check(asyncio.run(_run(collecting, _event(text), state)))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=free_text)
def test_any_need_in_a_group(collecting: str, text: str) -> None:
    _check(asyncio.run(_run(collecting, _event(text, command="need", chat=ChatRef(id=GROUP, type="supergroup")))))


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(step=st.sampled_from(["m", "r", "p", "pc"]), text=free_text)
def test_any_review_text(collecting: str, step: str, text: str) -> None:
    _check(asyncio.run(_run(collecting, _event(text), State("need_review", step, {}), fresh_need=True)))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=free_text)
def test_any_category_name(collecting: str, text: str) -> None:
    _check(asyncio.run(_run(collecting, _event(text), State("need_cats", "name", {}))))

    async def stored() -> list[str]:
        db = Database(collecting)
        try:
            async with db.uow() as uow:
                community = (await uow.session.exec(select(Community))).one()
                return list((community.settings or {}).get("need_categories") or [])
        finally:
            await db.dispose()

    raw = [c.removeprefix("-") for c in asyncio.run(stored())]  # as stored, not as read back
    assert len(raw) == len(set(raw)) <= 10 + needs.MAX_OWN
    assert all(c in needs.CATEGORIES or (needs.is_own(c) and len(c) <= 2 + needs.LIMITS["category"]) for c in raw)
