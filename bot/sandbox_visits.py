"""The sandbox's visits and services (#17): 李奶奶's visit is due now (the tick tells 刘志愿), the other two were
visited two days ago; 孙大爷 offers 助行 and 助医, and 刘志愿 has asked 助行 for 刘阿姨 tomorrow at 09:00 — its
post waits in the volunteers' group with a claim button."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import col, select

from flows import ladder, membership
from flows.visits import plans, services
from storage.crypto import Sealer
from storage.db import UnitOfWork
from storage.models import KeyPerson, User

VOLUNTEER, BACKUP = 10003, 10008


async def _persons(uow: UnitOfWork, community_id: int) -> list[KeyPerson]:
    return list((await uow.session.exec(select(KeyPerson).where(KeyPerson.community_id == community_id)
                                        .order_by(col(KeyPerson.id)))).all())


async def seed_visits(uow: UnitOfWork, *, users: dict[int, User], sealer: Sealer, now: datetime) -> None:
    """Plans for every key person; the second and third visited two days ago (the first is due now)."""
    volunteer = await membership.load_actor(uow, users[VOLUNTEER])
    await plans.ensure_plans(uow, now=now)
    for person in (await _persons(uow, volunteer.home().id or 0))[1:]:
        await plans.record(uow, actor=volunteer, sealer=sealer, person_id=person.id or 0, version=0, outcome="home",
                           note="一切都好。", now=now - timedelta(days=2))


async def open_service(uow: UnitOfWork, *, users: dict[int, User], now: datetime) -> None:
    """孙大爷 offers 助行 and 助医; 刘志愿 asks 助行 for the third person, tomorrow at 09:00 local time."""
    backup = await membership.load_actor(uow, users[BACKUP])
    await services.set_offers(uow, actor=backup, kinds=["mobility", "medical"], now=now)
    volunteer = await membership.load_actor(uow, users[VOLUNTEER])
    community = volunteer.home()
    persons = await _persons(uow, community.id or 0)
    if len(persons) < 3:
        return
    local = now.astimezone(ladder.zone(community.timezone))
    tomorrow = (local + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    await services.ask(uow, actor=volunteer, person_id=persons[2].id or 0, kind="mobility",
                       wanted_at=tomorrow.astimezone(ladder.zone("UTC")), now=now)
