"""Property projects (物业项目), the buildings they serve, the companies' members, and the 12345 complaints
matched to them (F-10). Admins (Perm.PROPERTY_SETUP) set them up; a project is numbered per community."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from sqlalchemy import delete, update
from sqlmodel import col, select

from flows import audit, menus, outbox
from flows.actors import Actor
from flows.errors import AlreadyDone, Invalid, NotFound
from flows.membership import _grant, person
from flows.numbering import next_number
from flows.roles import Perm, Role, RoleGranted
from storage.db import UnitOfWork
from storage.models import Building, Member, RoleGrant, User
from storage.models_complaints import HotlineComplaint
from storage.models_property import PropertyBuilding, PropertyProject, PropertyStaff

MAX_NAME = 100
MAX_ALIASES = 10
MAX_HOUSEHOLDS = 100_000


def _clean(text: str, field: str) -> str:
    value = " ".join(text.split())
    if not value:
        raise Invalid(field, "empty")
    if len(value) > MAX_NAME:
        raise Invalid(field, "too_long", limit=MAX_NAME)
    return value


def normalise_estate(text: str) -> str:
    """An estate's name as compared: NFKC (full-width → half-width), no spaces or punctuation, lower case."""
    return re.sub(r"[\s\W_]+", "", unicodedata.normalize("NFKC", text)).lower()


async def add_project(uow: UnitOfWork, *, actor: Actor, company: str, estate: str, households: int,
                      aliases: list[str] | None = None, now: datetime) -> PropertyProject:
    me = actor.require(Perm.PROPERTY_SETUP)
    company, estate = _clean(company, "company"), _clean(estate, "estate")
    if not 1 <= households <= MAX_HOUSEHOLDS:
        raise Invalid("households", "out_of_range", limit=MAX_HOUSEHOLDS)
    names = [_clean(a, "alias") for a in (aliases or []) if a.strip()]
    if len(names) > MAX_ALIASES:
        raise Invalid("alias", "too_many", limit=MAX_ALIASES)
    number = await next_number(uow, community_id=me.community_id, number=PropertyProject.number,
                               community_column=PropertyProject.community_id)
    project = PropertyProject(community_id=me.community_id, number=number, company=company, estate=estate,
                              aliases=names, households=households, created_by=me.id, created_at=now)
    uow.session.add(project)
    await uow.session.flush()
    audit.record(uow, action="property.project_add", now=now, community_id=me.community_id,
                 actor_user_id=actor.user.id, subject_type="property_project", subject_id=project.id,
                 number=project.number)
    return project


async def list_projects(uow: UnitOfWork, *, community_id: int) -> list[PropertyProject]:
    return list((await uow.session.exec(
        select(PropertyProject).where(PropertyProject.community_id == community_id, col(PropertyProject.active))
        .order_by(col(PropertyProject.number)))).all())


async def get_project(uow: UnitOfWork, *, community_id: int, number: int) -> PropertyProject:
    project = (await uow.session.exec(select(PropertyProject).where(
        PropertyProject.community_id == community_id, PropertyProject.number == number))).first()
    if project is None:
        raise NotFound("property_project", number)
    return project


async def buildings_of(uow: UnitOfWork, *, project_id: int) -> list[Building]:
    return list((await uow.session.exec(
        select(Building).join(PropertyBuilding, col(PropertyBuilding.building_id) == col(Building.id))
        .where(PropertyBuilding.project_id == project_id).order_by(col(Building.sort_key), col(Building.id)))).all())


async def link_buildings(uow: UnitOfWork, *, actor: Actor, number: int, labels: list[str],
                         now: datetime) -> list[str]:
    """The buildings (by label) served by a project; all or nothing: an unknown building or one served by
    another project is refused, naming it. Returns the labels newly linked."""
    me = actor.require(Perm.PROPERTY_SETUP)
    project = await get_project(uow, community_id=me.community_id, number=number)
    if not labels:
        raise Invalid("building", "empty")
    linked: list[str] = []
    for label in labels:
        building = (await uow.session.exec(select(Building).where(
            Building.community_id == me.community_id, Building.label == label))).first()
        if building is None:
            raise NotFound("building", label)
        held = (await uow.session.exec(select(PropertyBuilding).where(
            PropertyBuilding.building_id == building.id))).first()
        if held is not None:
            if held.project_id == project.id:
                continue
            other = await uow.session.get(PropertyProject, held.project_id)
            raise Invalid("building", "served", building=label, project=other.number if other else 0)
        uow.session.add(PropertyBuilding(community_id=me.community_id, project_id=project.id or 0,
                                         building_id=building.id or 0))
        linked.append(label)
    await uow.session.flush()
    audit.record(uow, action="property.buildings_link", now=now, community_id=me.community_id,
                 actor_user_id=actor.user.id, subject_type="property_project", subject_id=project.id,
                 buildings=linked)
    return linked


async def grant_staff(uow: UnitOfWork, *, actor: Actor, number: int, member_id: int,
                      now: datetime) -> PropertyProject:
    """Make a member one of the project's company (role property_staff, tied to the project); they are told."""
    me = actor.require(Perm.PROPERTY_SETUP)
    project = await get_project(uow, community_id=me.community_id, number=number)
    row = await person(uow, member_id=member_id)
    if row is None or row[0].community_id != me.community_id:
        raise NotFound("member", member_id)
    member, user = row
    tied = (await uow.session.exec(select(PropertyStaff).where(
        PropertyStaff.member_id == member_id, PropertyStaff.project_id == project.id))).first()
    added = await _grant(uow, member=member, role=Role.PROPERTY_STAFF, org=None, by=me.id, now=now)
    if tied is not None and not added:
        raise AlreadyDone("property_staff")
    if added:  # a fresh grant (never held, or revoked since): ties of an earlier grant do not come back with it
        await uow.session.exec(delete(PropertyStaff).where(col(PropertyStaff.member_id) == member_id))
        tied = None
    if tied is None:
        uow.session.add(PropertyStaff(community_id=me.community_id, project_id=project.id or 0, member_id=member_id,
                                      granted_by=me.id, granted_at=now))
    audit.record(uow, action="property.staff_grant", now=now, community_id=me.community_id,
                 actor_user_id=actor.user.id, subject_type="member", subject_id=member_id, project=project.number)
    assert actor.community is not None
    outbox.notify(uow, tg_chat_id=user.tg_id, lang=user.language or actor.community.locale, now=now,
                  community_id=me.community_id, recipient_user_id=user.id,
                  notice=RoleGranted(role=Role.PROPERTY_STAFF.value, community=actor.community.name))
    await menus.refresh(uow, user=user, now=now)
    return project


async def staff_projects(uow: UnitOfWork, *, actor: Actor) -> list[PropertyProject]:
    """The projects whose company the actor is a member of — none once their role property_staff is revoked."""
    me = actor.require(Perm.PROPERTY_REPLY)
    holds = select(RoleGrant.member_id).where(RoleGrant.member_id == me.id,
                                                RoleGrant.role == Role.PROPERTY_STAFF.value,
                                                col(RoleGrant.revoked_at).is_(None))
    return list((await uow.session.exec(
        select(PropertyProject).join(PropertyStaff, col(PropertyStaff.project_id) == col(PropertyProject.id))
        .where(PropertyStaff.member_id == me.id, col(PropertyStaff.member_id).in_(holds),
               PropertyProject.community_id == me.community_id)
        .order_by(col(PropertyProject.number)))).all())


async def staff_of(uow: UnitOfWork, *, project_id: int) -> list[tuple[Member, User]]:
    """The company's members of a project who hold the role now, with their users (to tell them something)."""
    return list((await uow.session.exec(
        select(Member, User).join(User, col(User.id) == col(Member.user_id))
        .join(PropertyStaff, col(PropertyStaff.member_id) == col(Member.id))
        .join(RoleGrant, col(RoleGrant.member_id) == col(Member.id))
        .where(PropertyStaff.project_id == project_id, RoleGrant.role == Role.PROPERTY_STAFF.value,
               col(RoleGrant.revoked_at).is_(None)).order_by(col(Member.id)))).all())


async def match_complaints(uow: UnitOfWork, *, community_id: int) -> int:
    """Write `property_project_id` on the community's unmatched 12345 complaints whose estate names a project
    (its estate or an alias: equal once normalised, or the complaint's text contains the name — the longest
    name wins). Returns how many were matched. Unmatched ones stay for the next run."""
    projects = await list_projects(uow, community_id=community_id)
    names = sorted(((normalise_estate(n), p.id or 0) for p in projects for n in [p.estate, *p.aliases]
                    if normalise_estate(n)), key=lambda np: -len(np[0]))
    if not names:
        return 0
    rows = (await uow.session.exec(select(HotlineComplaint.id, HotlineComplaint.estate).where(
        HotlineComplaint.community_id == community_id, col(HotlineComplaint.property_project_id).is_(None)))).all()
    by_project: dict[int, list[int]] = {}
    for cid, estate in rows:
        text = normalise_estate(estate or "")
        if not text:
            continue
        hit = next((pid for name, pid in names if name == text), None) \
            or next((pid for name, pid in names if len(name) >= 2 and name in text), None)
        if hit:
            by_project.setdefault(hit, []).append(cid)
    matched = 0
    for pid, ids in by_project.items():
        result = await uow.session.exec(update(HotlineComplaint).where(
            col(HotlineComplaint.id).in_(ids), col(HotlineComplaint.property_project_id).is_(None))
            .values(property_project_id=pid))
        matched += result.rowcount or 0
    return matched
