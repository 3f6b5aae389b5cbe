"""Who may see and act for a key person's visits and services, and the settings (visit intervals)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import or_
from sqlmodel import col, select

from flows.care.ledger import is_admin
from flows.errors import Forbidden, NotFound
from flows.membership import Actor
from flows.places import is_grid_worker_of
from flows.roles import Role
from storage.db import UnitOfWork
from storage.models import Building, Community, Grid, KeyPerson, Member, RoleGrant

DEFAULT_DAYS = {"red": 7, "yellow": 14, "green": 30}  # 🔴 weekly, 🟡 fortnightly, 🟢 monthly
ON_TIME = timedelta(days=2)  # a visit recorded within this after its due time is on time (before the reminder)


def interval(community: Community, risk: str) -> timedelta:
    """Days between visits for a risk colour: settings["visits"][colour] over the defaults (1–365)."""
    given = (community.settings or {}).get("visits") or {}
    days = given.get(risk) if isinstance(given, dict) else None
    if not isinstance(days, int) or isinstance(days, bool) or not 0 < days <= 365:
        days = DEFAULT_DAYS.get(risk, DEFAULT_DAYS["yellow"])
    return timedelta(days=days)


async def holds(uow: UnitOfWork, member_id: int | None, *roles: Role) -> bool:
    if member_id is None:
        return False
    row = (await uow.session.exec(select(RoleGrant.id).where(
        RoleGrant.member_id == member_id, col(RoleGrant.role).in_([r.value for r in roles]),
        col(RoleGrant.revoked_at).is_(None)))).first()
    return row is not None


async def person_for(uow: UnitOfWork, *, actor: Actor, person_id: int) -> tuple[KeyPerson, str]:
    """The active person, if the actor looks after them: 'volunteer' (paired, primary or backup, still holding the
    role), 'grid' (grid worker of the building) or 'admin'. Another community's person is not found."""
    me = actor.registered()
    person = await uow.session.get(KeyPerson, person_id)
    if person is None or person.community_id != me.community_id or not person.active:
        raise NotFound("person", person_id)
    if is_admin(actor):
        return person, "admin"
    if actor.roles & {Role.GRID_WORKER.value} and await is_grid_worker_of(uow, member=me,
                                                                           building_id=person.building_id):
        return person, "grid"
    if me.id in (person.primary_volunteer_id, person.backup_volunteer_id) and Role.VOLUNTEER.value in actor.roles:
        return person, "volunteer"
    raise Forbidden("visits:person")


def scope(actor: Actor) -> list[Any]:
    """The conditions on KeyPerson (joined with Building) for the persons the actor sees in lists: admins all of
    the community, a grid worker the buildings of their grids, a volunteer their paired persons."""
    me = actor.registered()
    where: list[Any] = [KeyPerson.community_id == me.community_id, col(KeyPerson.active).is_(True)]
    if is_admin(actor):
        return where
    ors: list[Any] = []
    if Role.GRID_WORKER.value in actor.roles:
        ors.append(col(Building.grid_id).in_(select(Grid.id).where(Grid.worker_member_id == me.id)))
    if Role.VOLUNTEER.value in actor.roles:
        ors += [col(KeyPerson.primary_volunteer_id) == me.id, col(KeyPerson.backup_volunteer_id) == me.id]
    if not ors:
        raise Forbidden("visits")
    return [*where, or_(*ors)]


async def label(uow: UnitOfWork, building_id: int | None) -> str:
    b = await uow.session.get(Building, building_id) if building_id else None
    return b.label if b else ""


async def name_of(uow: UnitOfWork, member_id: int | None) -> str:
    m = await uow.session.get(Member, member_id) if member_id else None
    return m.display_name if m else ""
