"""Households in the property survey (#15, F-10): a member's room, and one completed survey per household.

`MemberRoom` remembers the room a member gave (for the building they live in when they gave it: a move to another
building makes it unknown again). The room is written like the roster's (`flows/imports/residents.room_of`); it
is not sensitive like the care ledger but is never shown to others or in a group.

`PropertySurveyHousehold` is the claim of a household on the month's survey of a project: unique per (project,
month, building, room), inserted with the last answer, so of two members of one household answering at the same
moment exactly one counts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


def _ts(nullable: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable)


class MemberRoom(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("member_id", name="uq_memberroom_member"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    member_id: int = Field(foreign_key="member.id")
    building_id: int = Field(foreign_key="building.id")  # the building the room is in
    room: str = Field(max_length=20)  # normalised like the roster's rooms
    set_at: datetime = _ts()


class PropertySurveyHousehold(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("project_id", "month", "building_id", "room",
                                       name="uq_propertysurveyhousehold_room"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    project_id: int = Field(foreign_key="propertyproject.id", index=True)
    month: str = Field(max_length=7)
    building_id: int = Field(foreign_key="building.id")
    room: str = Field(max_length=20)
    survey_id: int = Field(foreign_key="propertysurvey.id")  # the survey that counts for the household
    answered_at: datetime = _ts()
