"""The tables of the weekly multi-committee meeting (多委联合办公会, F-8), imported by storage/models.py.

A `Meeting` is numbered per community (unique in the schema); `open_slot` holds the community's id while the
meeting is open and NULL once closed, and is unique — so a community has at most one open meeting, whoever
opens it at the same moment. Its agenda is frozen into `MeetingItem` rows when it opens; a decision on an item
makes the row an assignment (owner, organisation, deadline) that climbs the deadline ladder (flows/ladder.py:
state, rung, due_at). `MeetingAttendance` is one row per member present. `MeetingCall` records that the
reminder of the meeting at a given time was sent (once, whatever the number of schedulers)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


def _ts(nullable: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable)


class Meeting(SQLModel, table=True):
    """One sitting of the committees: open (while the chair records decisions) → closed (minutes posted)."""

    __table_args__ = (UniqueConstraint("community_id", "number", name="uq_meeting_community_number"),
                      UniqueConstraint("open_slot", name="uq_meeting_open_slot"))
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    number: int
    state: str = Field(default="open", max_length=8)  # open | closed
    open_slot: int | None = Field(default=None)  # the community's id while open, NULL once closed (unique)
    chair_member_id: int = Field(foreign_key="member.id")
    tg_chat_id: int = Field(sa_type=BigInteger)  # where it was opened
    opened_at: datetime = _ts()
    closed_at: datetime | None = _ts(nullable=True)


class MeetingAttendance(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("meeting_id", "member_id", name="uq_meeting_attendance_member"),)
    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    member_id: int = Field(foreign_key="member.id")
    at: datetime = _ts()


class MeetingItem(SQLModel, table=True):
    """An agenda item (a request to assess or overdue, a project behind, open incidents, a rectification) and,
    once decided, the assignment it became: state pending → assigned (on the ladder) → done | noted."""

    __table_args__ = (UniqueConstraint("meeting_id", "source", "ref_id", name="uq_meeting_item_source_ref"),
                      Index("ix_meeting_item_due", "state", "due_at"))
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    position: int
    source: str = Field(max_length=24)  # new_request | overdue_request | project | incidents | rectification
    ref_id: int = 0  # the request's or project's id (0: the incidents, counted)
    label: str = Field(max_length=60)  # R-2027-0012, the project's number and title, the incidents' count
    detail: str | None = Field(default=None, max_length=16)  # a request's kind (request | dispute | hazard)
    state: str = Field(default="pending", max_length=10)  # pending | assigned | done | noted
    organisation: str | None = Field(default=None, max_length=32)
    owner_member_id: int | None = Field(default=None, foreign_key="member.id")
    deadline: datetime | None = _ts(nullable=True)
    note: str | None = Field(default=None, max_length=300)
    decided_by_member_id: int | None = Field(default=None, foreign_key="member.id")
    decided_at: datetime | None = _ts(nullable=True)
    rung: int = 0
    due_at: datetime | None = _ts(nullable=True)


class MeetingCall(SQLModel, table=True):
    """The reminder of the meeting at `at` was sent (the row is taken once: insert-or-ignore)."""

    __table_args__ = (UniqueConstraint("community_id", "at", name="uq_meeting_call_community_at"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    at: datetime = _ts()
    created_at: datetime = _ts()
