"""The tables of full-grid micro-governance (聚能满格, F-9.1, F-9.2, F-9.4), imported by storage/models.py.

- `Team` — one enthusiast team (楼门热心人) per building (unique per community and building), with a leader.
  `TeamMember` — who is in it (`removed_at` set when taken out; the row stays as history and comes back on a
  re-add), `party`: a Party-member household (党员户), who may be paired with key persons (`TeamPairing`, a
  second circle beside the volunteers: alias and room only).
- `Wish` — a micro-wish (微心愿), numbered per community (unique in the schema): open → claimed → fulfilled →
  thanked, or back to open when the resident says it did not happen. The claim is one conditional UPDATE.
- `MicroPost` — a micro project / deed / post (微项目/微实事/微岗位), numbered per community: open → claimed → done.
- `MicroConsent` — whether a member agreed to be named in the monthly thank-you list (asked once).
- `DigestItem` — a group post held back for the day's digest (flows/digest.py): the notice it would have been."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


def _ts(nullable: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable)


class Team(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("community_id", "building_id", name="uq_team_building"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    building_id: int = Field(foreign_key="building.id")
    leader_member_id: int | None = Field(default=None, foreign_key="member.id")
    created_at: datetime = _ts()


class TeamMember(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("team_id", "member_id", name="uq_team_member"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    party: bool = False  # a Party-member household (党员户): may be paired with key persons
    granted_role: bool = False  # the team gave them the enthusiast role (taken back with the last team)
    added_at: datetime = _ts()
    removed_at: datetime | None = _ts(nullable=True)


class TeamPairing(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    person_id: int = Field(foreign_key="keyperson.id", index=True)
    paired_at: datetime = _ts()
    ended_at: datetime | None = _ts(nullable=True)


class Wish(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("community_id", "number", name="uq_wish_community_number"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    number: int
    building_id: int | None = Field(default=None, foreign_key="building.id")
    for_member_id: int | None = Field(default=None, foreign_key="member.id")  # the resident (None: not registered)
    posted_by_member_id: int = Field(foreign_key="member.id")  # the resident, or the grid worker (代为发布)
    text: str = Field(max_length=500)
    photo: str | None = Field(default=None, max_length=255)
    state: str = Field(default="open", max_length=12, index=True)  # open | claimed | fulfilled | thanked
    claimer_member_id: int | None = Field(default=None, foreign_key="member.id")
    claimer_kind: str | None = Field(default=None, max_length=12)  # volunteer | unit
    due_at: datetime = _ts()  # the day it should be fulfilled by (end of that local day)
    reminded_at: datetime | None = _ts(nullable=True)
    fulfil_note: str | None = Field(default=None, max_length=500)
    fulfil_photo: str | None = Field(default=None, max_length=255)
    reopened: int = 0
    created_at: datetime = _ts()
    claimed_at: datetime | None = _ts(nullable=True)
    fulfilled_at: datetime | None = _ts(nullable=True)
    thanked_at: datetime | None = _ts(nullable=True)


class MicroPost(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("community_id", "number", name="uq_micropost_community_number"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    number: int
    kind: str = Field(max_length=8)  # project | deed | post
    title: str = Field(max_length=80)
    text: str = Field(default="", max_length=500)
    state: str = Field(default="open", max_length=12, index=True)  # open | claimed | done
    created_by: int = Field(foreign_key="member.id")
    claimer_member_id: int | None = Field(default=None, foreign_key="member.id")
    done_note: str | None = Field(default=None, max_length=500)
    done_photo: str | None = Field(default=None, max_length=255)
    created_at: datetime = _ts()
    claimed_at: datetime | None = _ts(nullable=True)
    done_at: datetime | None = _ts(nullable=True)


class MicroConsent(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("community_id", "member_id", name="uq_microconsent_member"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    member_id: int = Field(foreign_key="member.id")
    agreed: bool = False
    answered_at: datetime = _ts()


class DigestItem(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    tg_chat_id: int = Field(sa_type=BigInteger, index=True)
    key: str = Field(max_length=120, unique=True)  # the caller's key: one post, held once
    local_date: str = Field(max_length=10)  # YYYY-MM-DD: the community's day it belongs to
    notice: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))  # kind, params
    created_at: datetime = _ts()
    posted_at: datetime | None = _ts(nullable=True)
