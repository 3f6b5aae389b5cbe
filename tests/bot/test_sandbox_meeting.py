"""The README's walk-through step 8 holds (#13): in the sandbox's 多委联合办公群, 王书记's `/meeting` has an agenda of
the demo's open requests — the fresh hazard waiting for assessment, and nothing closed."""

from __future__ import annotations

from sqlmodel import select

from bot.sandbox import GROUPS, PEOPLE, seed_database
from flows import meeting, requests
from flows.actors import load_actor
from flows.clock import FixedClock
from flows.membership import group_community
from flows.roles import Purpose
from storage.db import Database
from storage.models import User
from storage.models_requests import Request


async def test_item8_the_demo_meeting_has_the_new_hazard_on_its_agenda(db: Database, clock: FixedClock) -> None:
    await seed_database(db, clock)
    office = next(chat for chat, _, purpose, _ in GROUPS if purpose is Purpose.COMMITTEE)
    admin = next(p for p in PEOPLE if p.name == "王书记")
    async with db.uow(write=True) as uow:
        user = (await uow.session.exec(select(User).where(User.tg_id == admin.tg_id))).one()
        actor = await load_actor(uow, user, community=await group_community(uow, tg_chat_id=office))
        opened, _ = await meeting.open_meeting(uow, actor=actor, tg_chat_id=office, in_group=True, now=clock.now())
        items = (await meeting.view(uow, opened)).items
        new = (await uow.session.exec(select(Request).where(Request.state == "new"))).all()
    requested = {i.label for i in items if i.source.endswith("request")}
    assert {requests.code(r.year, r.number) for r in new} <= requested
    assert {i.source for i in items if i.source.endswith("request")} == {"new_request"}  # nothing overdue at the start
