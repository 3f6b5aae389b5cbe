"""Check-ins: who is asked, reminded and alerted, looked up once per unit of work (one tick)."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from flows import ladder
from flows.ladder import Recipient
from flows.places import admins_of, grid_workers_of
from flows.roles import Perm, Purpose, permissions
from storage.db import UnitOfWork
from storage.models import Absence, Building, Chat, Community, KeyPerson, Member, RoleGrant, User

__all__ = ["Recipient", "recipients"]


def _cache(uow: UnitOfWork, name: str) -> dict[Any, Any]:
    """A lookup cache that lives as long as the unit of work (one transaction, one tick)."""
    caches: dict[str, dict[Any, Any]] | None = getattr(uow, "_checkin_caches", None)
    if caches is None:
        caches = {}
        uow._checkin_caches = caches  # type: ignore[attr-defined]
    return caches.setdefault(name, {})


async def communities(uow: UnitOfWork) -> dict[int, Community]:
    return {c.id: c for c in (await uow.session.exec(select(Community))).all() if c.id is not None}


async def recipients(uow: UnitOfWork, member_ids: set[int], community: Community) -> dict[int, Recipient]:
    return await ladder.people(uow, member_ids, locale=community.locale)


async def workers(uow: UnitOfWork, community_id: int, building_id: int | None) -> list[int]:
    cache = _cache(uow, "workers")
    key = (community_id, building_id)
    if key not in cache:
        cache[key] = [w.id for w in await grid_workers_of(uow, community_id=community_id, building_id=building_id)]
    return list(cache[key])


async def admins(uow: UnitOfWork, community_id: int) -> list[int]:
    return await admins_of(uow, community_id=community_id)


async def volunteer_groups(uow: UnitOfWork, community_id: int) -> list[Chat]:
    rows = await uow.session.exec(
        select(Chat).where(Chat.community_id == community_id, Chat.purpose == Purpose.VOLUNTEERS.value,
                           col(Chat.bot_status).in_(("member", "administrator"))))
    return list(rows.all())


async def building_label(uow: UnitOfWork, building_id: int | None) -> str:
    if building_id is None:
        return ""
    cache = _cache(uow, "labels")
    if building_id not in cache:
        b = await uow.session.get(Building, building_id)
        cache[building_id] = b.label if b else ""
    return str(cache[building_id])


async def away_set(uow: UnitOfWork, community_id: int, days: list[str]) -> set[tuple[int, str]]:
    """(member_id, local_date) pairs of volunteers away on those days."""
    if not days:
        return set()
    rows = (await uow.session.exec(
        select(Absence).where(Absence.community_id == community_id, Absence.first_day <= max(days),
                              Absence.last_day >= min(days)))).all()
    return {(a.member_id, d) for a in rows for d in days if a.first_day <= d <= a.last_day}


def effective_assignee(person: KeyPerson, day: str, away: set[tuple[int, str]]) -> int | None:
    """The primary volunteer, or the backup when the primary is away that day."""
    primary, backup = person.primary_volunteer_id, person.backup_volunteer_id
    if primary is not None and (primary, day) in away and backup is not None:
        return backup
    return primary if primary is not None else backup


async def member_in(uow: UnitOfWork, user: User, community_id: int) -> Member | None:
    return (await uow.session.exec(
        select(Member).where(Member.user_id == user.id, Member.community_id == community_id))).first()


async def perms_now(uow: UnitOfWork, member: Member) -> frozenset[Perm]:
    """What the member may do now (their grants are read again: a press may come after a revoke)."""
    return permissions((await uow.session.exec(select(RoleGrant.role).where(
        RoleGrant.member_id == member.id, col(RoleGrant.revoked_at).is_(None)))).all())
