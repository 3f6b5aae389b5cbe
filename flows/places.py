"""Who looks after a place: the grid worker(s) of a building, and who answers when nobody does."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from flows.roles import Role
from storage.db import UnitOfWork
from storage.models import Building, Grid, Member, RoleGrant


def _holding(role: Role) -> Any:
    """Member ids that hold `role` now (a revoked grant never counts)."""
    return select(RoleGrant.member_id).where(RoleGrant.role == role.value, col(RoleGrant.revoked_at).is_(None))


async def grid_workers_of(uow: UnitOfWork, *, community_id: int, building_id: int | None) -> list[Member]:
    """The grid worker of the building's grid; when the building has no grid (or the grid no
    worker who still holds the role), every grid worker of the community, so that nobody is left
    unwatched. A grid's stale worker (role revoked) never receives anything."""
    if building_id is not None:
        row = (
            await uow.session.exec(
                select(Member)
                .join(Grid, col(Grid.worker_member_id) == col(Member.id))
                .join(Building, col(Building.grid_id) == col(Grid.id))
                .where(Building.id == building_id, Building.community_id == community_id,
                       col(Member.id).in_(_holding(Role.GRID_WORKER)))
            )
        ).first()
        if row is not None:
            return [row]
    rows = await uow.session.exec(
        select(Member)
        .where(Member.community_id == community_id, col(Member.id).in_(_holding(Role.GRID_WORKER)))
        .order_by(col(Member.id))
    )
    return list(rows.all())


async def is_grid_worker_of(uow: UnitOfWork, *, member: Member, building_id: int | None) -> bool:
    workers = await grid_workers_of(uow, community_id=member.community_id, building_id=building_id)
    return any(w.id == member.id for w in workers)


async def admins_of(uow: UnitOfWork, *, community_id: int) -> list[int]:
    """The last rung: the community's admins; when it has none, the district admins (one deployment
    serves a district), one membership per person, their grant in this community first."""
    admins = (await uow.session.exec(
        select(RoleGrant.member_id).where(RoleGrant.community_id == community_id, RoleGrant.role == Role.ADMIN.value,
                                          col(RoleGrant.revoked_at).is_(None)))).all()
    if admins:
        return sorted(set(admins))
    rows = (await uow.session.exec(
        select(Member.id, Member.user_id, Member.community_id)
        .where(col(Member.id).in_(_holding(Role.DISTRICT_ADMIN))).order_by(col(Member.id)))).all()
    chosen: dict[int, int] = {}
    for member_id, user_id, member_community in rows:
        if user_id not in chosen or member_community == community_id:
            chosen[user_id] = member_id
    return sorted(chosen.values())


async def district_membership(uow: UnitOfWork, *, user_id: int | None) -> Member | None:
    """A membership through which this person holds the district admin role now, if any."""
    if user_id is None:
        return None
    return (await uow.session.exec(
        select(Member).where(Member.user_id == user_id, col(Member.id).in_(_holding(Role.DISTRICT_ADMIN)))
        .order_by(col(Member.id)))).first()
