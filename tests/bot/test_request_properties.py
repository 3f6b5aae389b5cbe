"""Whatever people type while reporting (#13) — `/report 文字` in a group, any step of the private dialog, a merge
number or a reason for the committee, a handler's progress or result, a reporter's "not solved" reason — the bot
answers with valid Telegram HTML of legal length, never the internal-error text, and a group never sees the text."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from bot.core.dispatch import Core
from bot.core.types import ChatRef, MessageEvent, UserRef
from bot.handlers import FALLBACKS, build_router, report_error
from flows import conversation, membership, request_work, requests
from flows.clock import FixedClock
from flows.conversation import State
from flows.roles import Purpose
from storage.db import Database
from storage.migrate import upgrade
from storage.models import User
from storage.models_requests import Request
from tests.bot.test_properties import NOW, SECRET, _check

ADMIN = 1
GROUP = -100778
_ids = itertools.count(40_000)


async def _admin(uow) -> membership.Actor:  # type: ignore[no-untyped-def]
    user = (await uow.session.exec(select(User).where(User.tg_id == ADMIN))).one()
    return await membership.load_actor(uow, user)


@pytest.fixture(scope="module")
def community(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite+aiosqlite:///{Path(tmp_path_factory.mktemp('requestprop')) / 'p.db'}"
    upgrade(url)

    async def seed() -> None:
        db = Database(url)
        async with db.uow() as uow:
            made, invite = await membership.create_community(uow, name="北辰示范社区", now=NOW, buildings=["1"])
            user = await membership.touch_user(uow, tg_id=ADMIN, first_name="王书记", last_name=None, username=None,
                                               tg_language="zh-hans", now=NOW)
            await membership.register(uow, user=user, community_id=made.id, building_id=None, now=NOW,
                                      invite_code=invite.code)
            await uow.commit()
        async with db.uow() as uow:
            await membership.link_chat(uow, actor=await _admin(uow), tg_chat_id=GROUP, chat_type="supergroup",
                                       title="社区群", purpose=Purpose.COMMUNITY, building_label=None, now=NOW)
            await uow.commit()
        await db.dispose()

    asyncio.run(seed())
    return url


def _event(text: str, *, command: str | None = None, chat: ChatRef | None = None) -> MessageEvent:
    return MessageEvent(update_id=next(_ids), chat=chat or ChatRef(id=ADMIN, type="private"),
                        user=UserRef(id=ADMIN, first_name="王书记", language_code="zh-hans"), message_id=1,
                        text=text if command is None else f"/{command} {text}", command=command,
                        args=text if command is not None else "")


async def _run(url: str, event: MessageEvent, state: State | None = None, stage: str = "") -> list:
    """One update, with the conversation at `state`; `stage` walks a fresh request that far first."""
    db = Database(url)
    try:
        async with db.uow(write=True) as uow:
            if stage:
                admin = await _admin(uow)
                row = await requests.submit(uow, actor=admin, kind="request", category="env", text="楼道堆物", now=NOW)
                if stage in ("accepted", "resolved"):
                    await request_work.assign(uow, actor=admin, request_id=row.id or 0, org="property", now=NOW)
                    await request_work.accept(uow, actor=admin, request_id=row.id or 0, now=NOW)
                if stage == "resolved":
                    await request_work.resolve(uow, actor=admin, request_id=row.id or 0, note="好了", now=NOW)
                assert state is not None
                state = State(state.flow, state.step, {**state.data, "id": row.id, "cid": row.community_id})
            if state is not None:
                await conversation.put(uow, chat_id=ADMIN, user_id=ADMIN, state=state, now=NOW)
            await uow.commit()
        core = Core(db=db, clock=FixedClock(NOW), secret=SECRET, router=build_router(), errors=report_error,
                    fallbacks=FALLBACKS)
        replies = await core.handle(event)
        async with db.uow() as uow:
            for r in (await uow.session.exec(select(Request))).all():
                assert len(r.text) <= 500 and len(r.reject_reason or "") <= 200
        return replies
    finally:
        await db.dispose()


free_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=600)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=free_text)
def test_item2_any_report_in_a_group_is_never_repeated_there(community: str, text: str) -> None:
    assume(len(text.strip()) >= 6)
    replies = asyncio.run(_run(community, _event(text, command="report", chat=ChatRef(id=GROUP, type="supergroup"))))
    _check(replies)
    assert all(text.strip() not in r.message.text for r in replies)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(step=st.sampled_from(["kind", "category", "text", "photos", "building", "location", "anon", "confirm"]),
       text=free_text)
def test_item2_any_text_at_any_step_of_the_report(community: str, step: str, text: str) -> None:
    state = State("report", step, {"k": "hazard", "c": "fire", "t": "楼道堆物", "p": []})
    _check(asyncio.run(_run(community, _event(text), state)))


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flow=st.sampled_from([("rq_assess", "m", "new"), ("rq_assess", "r", "new"), ("rq_handle", "p", "accepted"),
                             ("rq_handle", "d", "accepted"), ("rq_reopen", "why", "resolved")]), text=free_text)
def test_item3_to_5_any_text_for_the_committee_the_handler_or_the_reporter(community: str,
                                                                            flow: tuple[str, str, str],
                                                                            text: str) -> None:
    name, step, stage = flow
    _check(asyncio.run(_run(community, _event(text), State(name, step, {}), stage=stage)))
