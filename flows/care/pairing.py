"""The care ledger: pairing key persons with volunteers, and the grids with their grid workers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import col, select

from flows import audit, outbox
from flows.care.ledger import PersonLine, Volunteer, _label, _lines, _person, _volunteer, clean
from flows.care.notices import CarePaired, CareUnpaired
from flows.errors import Invalid, NotFound
from flows.membership import Actor, parse_building_range
from flows.paging import Page, clamp
from flows.roles import Perm, Role
from storage.db import UnitOfWork
from storage.models import Building, Community, Grid, KeyPerson, Member, RoleGrant, User

# ---------------------------------------------------------------- pairing


async def _is_volunteer(uow: UnitOfWork, member_id: int) -> bool:
    row = (await uow.session.exec(select(RoleGrant.id).where(
        RoleGrant.member_id == member_id, RoleGrant.role == Role.VOLUNTEER.value,
        col(RoleGrant.revoked_at).is_(None)))).first()
    return row is not None


async def list_volunteers(uow: UnitOfWork, *, actor: Actor, page: int = 1, size: int = 8,
                          exclude: int | None = None) -> Page[Volunteer]:
    me = actor.require(Perm.PAIR)
    has_role = select(RoleGrant.member_id).where(RoleGrant.role == Role.VOLUNTEER.value,
                                                 col(RoleGrant.revoked_at).is_(None))
    where: list[Any] = [Member.community_id == me.community_id, col(Member.id).in_(has_role)]
    if exclude is not None:
        where.append(col(Member.id) != exclude)
    total = (await uow.session.exec(select(func.count()).select_from(Member).where(*where))).one()
    page, pages, offset = clamp(page, total, size)
    rows = (await uow.session.exec(
        select(Member, User).join(User, col(User.id) == col(Member.user_id)).where(*where)
        .order_by(col(Member.id)).offset(offset).limit(size))).all()
    items = [Volunteer(member_id=m.id or 0, name=m.display_name or u.first_name) for m, u in rows]
    return Page(items=items, page=page, pages=pages, total=total)


async def _check_volunteer(uow: UnitOfWork, community_id: int, member_id: int, which: str) -> tuple[Member, User]:
    row = (await uow.session.exec(
        select(Member, User).join(User, col(User.id) == col(Member.user_id)).where(Member.id == member_id))).first()
    if row is None or row[0].community_id != community_id:
        raise NotFound("member", member_id)
    if not await _is_volunteer(uow, member_id):
        raise Invalid(which, "not_volunteer", member_id=member_id)
    return row[0], row[1]


async def _set_pair(uow: UnitOfWork, *, community: Community, person: KeyPerson, primary_id: int,
                    backup_id: int | None, actor_user_id: int | None, action: str, now: datetime,
                    notify: bool = True) -> None:
    if backup_id is not None and primary_id == backup_id:
        raise Invalid("backup", "same")
    assert community.id is not None
    people = [(await _check_volunteer(uow, community.id, primary_id, "primary"), "primary")]
    if backup_id is not None:
        people.append((await _check_volunteer(uow, community.id, backup_id, "backup"), "backup"))
    before = (person.primary_volunteer_id, person.backup_volunteer_id)
    person.primary_volunteer_id, person.backup_volunteer_id = primary_id, backup_id
    person.updated_at = now
    uow.session.add(person)
    audit.record(uow, action=action, now=now, community_id=community.id, actor_user_id=actor_user_id,
                 subject_type="person", subject_id=person.id, primary=primary_id, backup=backup_id)
    label = await _label(uow, person.building_id)
    for ((member, user), role) in people if notify else []:
        if member.id in before and before[0 if role == "primary" else 1] == member.id:
            continue  # unchanged: no news for them
        outbox.notify(uow, tg_chat_id=user.tg_id, lang=user.language or community.locale, now=now,
                      community_id=community.id, recipient_user_id=user.id,
                      notice=CarePaired(alias=person.alias, room=person.room, building=label, role=role,
                                        person_id=person.id or 0))
    for old in sorted({m for m in before if m is not None} - {primary_id, backup_id}) if notify else []:
        row = (await uow.session.exec(
            select(Member, User).join(User, col(User.id) == col(Member.user_id)).where(Member.id == old))).first()
        if row is not None:  # no longer looking after this person: tell them, so they stop checking
            outbox.notify(uow, tg_chat_id=row[1].tg_id, now=now, community_id=community.id,
                          lang=row[1].language or community.locale, recipient_user_id=row[1].id,
                          notice=CareUnpaired(alias=person.alias, room=person.room, building=label,
                                              person_id=person.id or 0))


async def pair(uow: UnitOfWork, *, actor: Actor, person_id: int, primary_id: int, backup_id: int | None,
               now: datetime) -> KeyPerson:
    """Pair a person with a primary and a backup volunteer; both are told (alias and room only)."""
    person = await _person(uow, actor=actor, person_id=person_id, perm=Perm.PAIR)
    assert actor.community is not None
    await _set_pair(uow, community=actor.community, person=person, primary_id=primary_id, backup_id=backup_id,
                    actor_user_id=actor.user.id, action="pair.set", now=now)
    return person


async def my_persons(uow: UnitOfWork, *, actor: Actor, now: datetime) -> list[PersonLine]:
    """A volunteer's persons, as primary first, then as backup: alias, room, building, colour."""
    me = actor.require(Perm.CHECK)
    rows = (await uow.session.exec(
        select(KeyPerson, Building).join(Building, col(Building.id) == col(KeyPerson.building_id), isouter=True)
        .where(KeyPerson.community_id == me.community_id, col(KeyPerson.active).is_(True),
               or_(col(KeyPerson.primary_volunteer_id) == me.id, col(KeyPerson.backup_volunteer_id) == me.id))
        .order_by(col(Building.sort_key), col(KeyPerson.room), col(KeyPerson.id)))).all()
    lines = _lines(rows, me.id)
    lines.sort(key=lambda x: not x.as_primary)
    if lines:
        audit.record(uow, action="person.read", now=now, community_id=me.community_id, actor_user_id=actor.user.id,
                     via="mine", person_ids=[x.id for x in lines])
    return lines


# ---------------------------------------------------------------- grids


@dataclass(frozen=True)
class GridView:
    id: int
    name: str
    buildings: tuple[str, ...]
    worker: Volunteer | None


async def _grid_view(uow: UnitOfWork, grid: Grid) -> GridView:
    labels = (await uow.session.exec(select(Building.label).where(Building.grid_id == grid.id)
                                     .order_by(col(Building.sort_key), col(Building.id)))).all()
    return GridView(id=grid.id or 0, name=grid.name, buildings=tuple(labels),
                    worker=await _volunteer(uow, grid.worker_member_id))


async def set_grid(uow: UnitOfWork, *, actor: Actor, name: str, buildings: str, now: datetime) -> GridView:
    """Create the grid (or find it by name) and put these buildings in it."""
    me = actor.require(Perm.GRIDS)
    name = clean("grid", name)
    labels = parse_building_range(buildings)
    if not labels:
        raise Invalid("buildings", "empty")
    found: list[Building] = []
    for label in labels:
        b = (await uow.session.exec(select(Building).where(Building.community_id == me.community_id,
                                                           Building.label == label))).first()
        if b is None:
            raise NotFound("building", label)
        found.append(b)
    grid = (await uow.session.exec(select(Grid).where(Grid.community_id == me.community_id,
                                                      Grid.name == name))).first()
    if grid is None:
        grid = Grid(community_id=me.community_id, name=name)
        uow.session.add(grid)
        await uow.session.flush()
    for b in found:
        b.grid_id = grid.id
        uow.session.add(b)
    await uow.session.flush()
    audit.record(uow, action="grid.set", now=now, community_id=me.community_id, actor_user_id=actor.user.id,
                 subject_type="grid", subject_id=grid.id, buildings=[b.label for b in found])
    return await _grid_view(uow, grid)


async def set_grid_worker(uow: UnitOfWork, *, actor: Actor, name: str, member_id: int, now: datetime) -> GridView:
    me = actor.require(Perm.GRIDS)
    grid = (await uow.session.exec(select(Grid).where(Grid.community_id == me.community_id,
                                                      Grid.name == name.strip()))).first()
    if grid is None:
        raise NotFound("grid", name[:60])
    member = await uow.session.get(Member, member_id)
    if member is None or member.community_id != me.community_id:
        raise NotFound("member", member_id)
    held = (await uow.session.exec(select(RoleGrant.id).where(
        RoleGrant.member_id == member_id, RoleGrant.role == Role.GRID_WORKER.value,
        col(RoleGrant.revoked_at).is_(None)))).first()
    if held is None:
        raise Invalid("member", "not_grid_worker", member_id=member_id)
    grid.worker_member_id = member_id
    uow.session.add(grid)
    await uow.session.flush()
    audit.record(uow, action="grid.worker", now=now, community_id=me.community_id, actor_user_id=actor.user.id,
                 subject_type="grid", subject_id=grid.id, worker=member_id)
    return await _grid_view(uow, grid)


async def list_grids(uow: UnitOfWork, *, actor: Actor) -> list[GridView]:
    me = actor.require(Perm.GRIDS)
    grids = (await uow.session.exec(select(Grid).where(Grid.community_id == me.community_id)
                                    .order_by(col(Grid.id)))).all()
    return [await _grid_view(uow, g) for g in grids]
