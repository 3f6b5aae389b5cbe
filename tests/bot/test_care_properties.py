"""Whatever a grid worker types at any free-text step of /person add or edit, the bot answers with
valid Telegram HTML of legal length — never the internal-error text — and keeps names sealed."""

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
from flows import care, conversation, membership
from flows.care import Draft
from flows.clock import FixedClock
from flows.conversation import State
from storage.crypto import Sealer
from storage.db import Database
from storage.migrate import upgrade
from storage.models import User
from tests.bot.test_properties import NOW, SECRET, _check

ADMIN = 1
_ids = itertools.count(10_000)
SEALER = Sealer(SECRET)


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, int, int]:
    url = f"sqlite+aiosqlite:///{Path(tmp_path_factory.mktemp('careprop')) / 'p.db'}"
    upgrade(url)

    async def seed() -> tuple[int, int]:
        db = Database(url)
        async with db.uow() as uow:
            community, invite = await membership.create_community(uow, name="北辰示范社区", now=NOW,
                                                                  buildings=["1", "2", "3"])
            user = await membership.touch_user(uow, tg_id=ADMIN, first_name="王书记", last_name=None, username=None,
                                               tg_language="zh-hans", now=NOW)
            await membership.register(uow, user=user, community_id=community.id, building_id=None, now=NOW,
                                      invite_code=invite.code)
            await uow.commit()
        async with db.uow() as uow:
            user = (await uow.session.exec(select(User).where(User.tg_id == ADMIN))).one()
            actor = await membership.load_actor(uow, user)
            b3 = await membership.building_by_label(uow, community_id=community.id, label="3")
            person = await care.add_person(uow, actor=actor, sealer=SEALER, draft=_draft(b3.id), now=NOW)
            await uow.commit()
        await db.dispose()
        return b3.id, person.id

    b3, pid = asyncio.run(seed())
    return url, b3, pid


def _draft(building_id: int) -> Draft:
    return Draft(building_id=building_id, room="2-401", alias="3-2-401 李奶奶", name_enc=SEALER.seal("李秀兰"),
                 groups=["solitary"], risk="red", services=["medical"])


async def _type(url: str, step: str, data: dict, text: str) -> list:
    db = Database(url)
    try:
        async with db.uow() as uow:
            await conversation.put(uow, chat_id=ADMIN, user_id=ADMIN, state=State("person", step, data), now=NOW)
            await uow.commit()
        core = Core(db=db, clock=FixedClock(NOW), secret=SECRET, router=build_router(), errors=report_error,
                    fallbacks=FALLBACKS)
        event = MessageEvent(update_id=next(_ids), chat=ChatRef(id=ADMIN, type="private"),
                             user=UserRef(id=ADMIN, first_name="王书记", language_code="zh-hans"), message_id=1,
                             text=text)
        return await core.handle(event)
    finally:
        await db.dispose()


STEPS = ["building", "room", "alias", "name", "groups", "risk", "services", "contact", "notes", "confirm"]
free_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=600)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(step=st.sampled_from(STEPS), text=free_text)
def test_any_text_at_any_step_of_person_add(ledger: tuple[str, int, int], step: str, text: str) -> None:
    url, b3, _ = ledger
    _check(asyncio.run(_type(url, step, _draft(b3).to_dict(), text)))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field_name=st.sampled_from(list(care.TEXT_FIELDS)), text=free_text)
def test_any_text_when_editing(ledger: tuple[str, int, int], field_name: str, text: str) -> None:
    url, _, pid = ledger
    _check(asyncio.run(_type(url, "edit", {"id": pid, "field": field_name}, text)))
