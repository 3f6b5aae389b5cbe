"""People for the flows' tests: members of a community with their roles, and their actors as loaded by the bot."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import select

from flows import membership
from flows.membership import Actor
from flows.roles import Org, Role
from storage.db import Database, UnitOfWork
from storage.models import User

#: a person's role: none (a resident), a role, or a role with its organisation
Part = Role | tuple[Role, Org | None] | None


async def actor_of(db: Database, tg_id: int) -> Actor:
    """The actor of a Telegram user, as the dispatcher would load it."""
    async with db.uow() as uow:
        user = (await uow.session.exec(select(User).where(User.tg_id == tg_id))).one()
        return await membership.load_actor(uow, user)


async def enrol(uow: UnitOfWork, *, community_id: int, people: dict[str, Part], first_tg_id: int,
                now: datetime) -> dict[str, int]:
    """Register the people (Telegram ids from first_tg_id on, in order) and grant their roles: key → member id."""
    members: dict[str, int] = {}
    for i, (key, part) in enumerate(people.items()):
        user = await membership.touch_user(uow, tg_id=first_tg_id + i, first_name=key, last_name=None, username=None,
                                           tg_language="zh-hans", now=now)
        done = await membership.register(uow, user=user, community_id=community_id, building_id=None, now=now)
        if part is not None:
            role, org = part if isinstance(part, tuple) else (part, None)
            await membership.assign_role(uow, member=done.member, role=role, org=org, now=now)
        members[key] = done.member.id or 0
    return members
