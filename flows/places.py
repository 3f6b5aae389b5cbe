"""Who looks after a place: the grid worker(s) of a building."""

from __future__ import annotations

from sqlmodel import col, select

from flows.roles import Role
from storage.db import UnitOfWork
from storage.models import Building, Grid, Member, RoleGrant


async def grid_workers_of(uow: UnitOfWork, *, community_id: int, building_id: int | None) -> list[Member]:
    """The grid worker of the building's grid; when the building has no grid (or the grid no
    worker), every grid worker of the community, so that nobody is left unwatched."""
    if building_id is not None:
        row = (
            await uow.session.exec(
                select(Member)
                .join(Grid, col(Grid.worker_member_id) == col(Member.id))
                .join(Building, col(Building.grid_id) == col(Grid.id))
                .where(Building.id == building_id, Building.community_id == community_id)
            )
        ).first()
        if row is not None:
            return [row]
    rows = await uow.session.exec(
        select(Member)
        .join(RoleGrant, col(RoleGrant.member_id) == col(Member.id))
        .where(Member.community_id == community_id, RoleGrant.role == Role.GRID_WORKER.value,
               col(RoleGrant.revoked_at).is_(None))
        .order_by(col(Member.id))
    )
    return list(rows.all())


async def is_grid_worker_of(uow: UnitOfWork, *, member: Member, building_id: int | None) -> bool:
    workers = await grid_workers_of(uow, community_id=member.community_id, building_id=building_id)
    return any(w.id == member.id for w in workers)
