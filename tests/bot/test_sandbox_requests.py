"""The sandbox's demo has a request in every state (#13), and only the fresh hazard's card is waiting to be sent."""

from __future__ import annotations

from sqlmodel import select

from bot.sandbox import GROUPS, seed_database
from flows import requests
from flows.clock import FixedClock
from flows.roles import Purpose
from storage.db import Database
from storage.models import OutboxMessage
from storage.models_requests import Request


async def test_the_demo_has_a_request_in_every_state(db: Database, clock: FixedClock) -> None:
    await seed_database(db, clock)
    async with db.uow() as uow:
        rows = (await uow.session.exec(select(Request))).all()
        queued = (await uow.session.exec(select(OutboxMessage))).all()
    assert {r.state for r in rows} == set(requests.STATES)
    office = next(chat for chat, _, purpose, _ in GROUPS if purpose is Purpose.COMMITTEE)
    assert [(m.tg_chat_id, m.payload["notice"]) for m in queued] == [(office, "request_filed")]
    assert not any(r.due_at is not None and r.due_at <= clock.now() for r in rows)  # nothing overdue at the start
