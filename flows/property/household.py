"""The household behind a survey answer (#15, F-10): a member's room, the roster's rooms, the household's claim.

A household is (building, room) — the roster's key (`storage.models_roster.Household`). A member's room is asked
once (`set_room`) and kept in `MemberRoom` for the building they live in; the survey's last answer claims the
household for the month (`claim`: insert-or-ignore on a unique key), so a second member of the household is told
it is done and nothing of theirs is written. The households counted for a project (minimum sample, complaint
rate) are the roster's households of its buildings when the roster has any, else the project's declared number."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select

from flows.actors import Actor
from flows.errors import Invalid, NotFound
from flows.imports.reader import looks_like_formula
from flows.imports.residents import MAX_ROOM, room_of
from storage.db import UnitOfWork, insert_ignoring
from storage.models import Member
from storage.models_household import MemberRoom, PropertySurveyHousehold
from storage.models_property import PropertyBuilding, PropertyProject
from storage.models_roster import Household


async def room_of_member(uow: UnitOfWork, member: Member) -> str | None:
    """The member's room in the building they live in now, if they gave it."""
    if member.building_id is None:
        return None
    return (await uow.session.exec(select(MemberRoom.room).where(
        MemberRoom.member_id == member.id, MemberRoom.building_id == member.building_id))).first()


def valid_room(text: str) -> str:
    """A room as typed, normalised like the roster's ("２－401室" → "2-401"); Invalid when empty, too long or a
    formula."""
    raw = text.strip()
    if looks_like_formula(raw):
        raise Invalid("room", "formula")
    room = room_of(raw)
    if not room:
        raise Invalid("room", "empty")
    if len(room) > MAX_ROOM:
        raise Invalid("room", "too_long", limit=MAX_ROOM)
    return room


async def set_room(uow: UnitOfWork, *, actor: Actor, text: str, now: datetime) -> str:
    member = actor.registered()
    if member.building_id is None:
        raise Invalid("room", "no_building")
    room = valid_room(text)
    row = (await uow.session.exec(select(MemberRoom).where(MemberRoom.member_id == member.id))).first()
    row = row or MemberRoom(community_id=member.community_id, member_id=member.id or 0, building_id=0, room="")
    row.building_id, row.room, row.set_at = member.building_id, room, now
    uow.session.add(row)
    await uow.session.flush()
    return room


async def answered_by(uow: UnitOfWork, *, project_id: int, month: str, building_id: int, room: str) -> int | None:
    """The survey that counts for this household this month, if one is in."""
    return (await uow.session.exec(select(PropertySurveyHousehold.survey_id).where(
        PropertySurveyHousehold.project_id == project_id, PropertySurveyHousehold.month == month,
        PropertySurveyHousehold.building_id == building_id, PropertySurveyHousehold.room == room))).first()


async def claim(uow: UnitOfWork, *, community_id: int, project_id: int, month: str, building_id: int, room: str,
                survey_id: int, now: datetime) -> bool:
    """Claim the household for this survey; False when another member's survey has it (one statement: the unique
    key decides between two members answering at the same moment)."""
    result = await uow.session.execute(
        insert_ignoring(uow, PropertySurveyHousehold, ["project_id", "month", "building_id", "room"])
        .values(community_id=community_id, project_id=project_id, month=month, building_id=building_id,
                room=room, survey_id=survey_id, answered_at=now))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def answered_members(uow: UnitOfWork, *, project_id: int, month: str) -> set[int]:
    """Members whose known room belongs to a household that has answered this month (not invited again)."""
    rows = (await uow.session.exec(select(MemberRoom.member_id).join(
        PropertySurveyHousehold, (col(PropertySurveyHousehold.building_id) == col(MemberRoom.building_id))
        & (col(PropertySurveyHousehold.room) == col(MemberRoom.room)))
        .join(Member, col(Member.id) == col(MemberRoom.member_id))
        .where(PropertySurveyHousehold.project_id == project_id, PropertySurveyHousehold.month == month,
               col(Member.building_id) == col(MemberRoom.building_id)))).all()
    return set(rows)


async def households(uow: UnitOfWork, projects: list[PropertyProject]) -> dict[int, int]:
    """Households per project: the roster's households of the project's buildings when the roster has any, else
    the project's declared number."""
    ids = [p.id or 0 for p in projects]
    counted = dict((await uow.session.exec(
        select(PropertyBuilding.project_id, func.count(col(Household.id)))
        .join(Household, col(Household.building_id) == col(PropertyBuilding.building_id))
        .where(col(PropertyBuilding.project_id).in_(ids)).group_by(col(PropertyBuilding.project_id)))).all()) \
        if ids else {}
    return {p.id or 0: counted.get(p.id or 0) or p.households for p in projects}


async def roster_rooms(uow: UnitOfWork, *, actor: Actor) -> list[tuple[int, str]]:
    """The roster's (household id, room) of the actor's building, by room (empty without a roster)."""
    member = actor.registered()
    if member.building_id is None:
        return []
    return [(i or 0, r) for i, r in (await uow.session.exec(select(Household.id, Household.room).where(
        Household.community_id == member.community_id, Household.building_id == member.building_id)
        .order_by(col(Household.room)))).all()]


async def pick_room(uow: UnitOfWork, *, actor: Actor, household_id: int, now: datetime) -> str:
    """The member picked their room from the roster's buttons: it must be a household of their building."""
    member = actor.registered()
    row = await uow.session.get(Household, household_id)
    if row is None or row.community_id != member.community_id or row.building_id != member.building_id:
        raise NotFound("room", household_id)
    return await set_room(uow, actor=actor, text=row.room, now=now)
