"""The tables of micro spaces and employment (聚能满格, F-9.3 and F-9.5), imported by storage/models.py.

Micro spaces (微效空间): a `Space` (numbered per community) with its place, weekly opening hours (`hours`: weekday
"1"–"7" → list of ["HH:MM", "HH:MM"], local time of the community; a weekday left out is closed), its services and a
keeper (a member). A `Tool` belongs to a space; its `state` (in → requested → out → in) is the compare-and-set that
keeps one tool from being lent twice. A `Loan` (numbered per community) runs requested → out → returned (or refused /
cancelled), with a due date and the reminders' marks. A `ServiceRecord` is a keeper's "缝补 ×3 today".

Employment (就业增收): a `Job` opening (numbered per community), its `JobApplication`s (one per person), a free
`Training` whose seats are taken atomically (`seats_taken < capacity` in one UPDATE), its `TrainingSignup`s with the
reminder's mark and attendance, and the office's `IncomeRecord`s (person optional, amount in fen, month)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


def _ts(nullable: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable)


class Space(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("community_id", "number", name="uq_space_community_number"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    number: int
    name: str = Field(max_length=40)
    place: str = Field(max_length=80)
    hours: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    services: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    keeper_member_id: int | None = Field(default=None, foreign_key="member.id")
    active: bool = True
    created_at: datetime = _ts()


class Tool(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("community_id", "number", name="uq_tool_community_number"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    space_id: int = Field(foreign_key="space.id", index=True)
    number: int
    name: str = Field(max_length=40)
    state: str = Field(default="in", max_length=10)  # in | requested | out | retired
    created_at: datetime = _ts()


class Loan(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("community_id", "number", name="uq_loan_community_number"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    number: int
    space_id: int = Field(foreign_key="space.id", index=True)
    tool_id: int = Field(foreign_key="tool.id", index=True)
    borrower_member_id: int = Field(foreign_key="member.id", index=True)
    state: str = Field(default="requested", max_length=10)  # requested | out | returned | refused | cancelled
    due_on: date
    requested_at: datetime = _ts()
    handed_at: datetime | None = _ts(nullable=True)
    returned_at: datetime | None = _ts(nullable=True)
    reminded_at: datetime | None = _ts(nullable=True)  # the day-before reminder
    overdue_sent: int = 0  # overdue reminders sent so far
    overdue_last_on: date | None = None  # the local day of the last one (at most one a day)
    keeper_told_at: datetime | None = _ts(nullable=True)  # the keeper told, once the reminders stopped


class ServiceRecord(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    space_id: int = Field(foreign_key="space.id", index=True)
    service: str = Field(max_length=20)
    count: int
    day: date
    month: str = Field(max_length=7, index=True)  # YYYY-MM, local
    recorded_by: int = Field(foreign_key="member.id")
    created_at: datetime = _ts()


class Job(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("community_id", "number", name="uq_job_community_number"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    number: int
    poster_member_id: int = Field(foreign_key="member.id")
    title: str = Field(max_length=40)
    employer: str = Field(max_length=40)
    pay: str = Field(max_length=40)
    place: str = Field(max_length=60)
    closes_on: date
    state: str = Field(default="open", max_length=8)  # open | closed
    created_at: datetime = _ts()


class JobApplication(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("job_id", "member_id", name="uq_jobapplication_job_member"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    job_id: int = Field(foreign_key="job.id", index=True)
    member_id: int = Field(foreign_key="member.id")
    message: str = Field(max_length=300)
    created_at: datetime = _ts()


class Training(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("community_id", "number", name="uq_training_community_number"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    number: int
    organiser_member_id: int = Field(foreign_key="member.id")
    title: str = Field(max_length=40)
    place: str = Field(max_length=60)
    starts_at: datetime = _ts()
    capacity: int
    seats_taken: int = 0
    state: str = Field(default="open", max_length=10)  # open | cancelled
    created_at: datetime = _ts()


class TrainingSignup(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("training_id", "member_id", name="uq_trainingsignup_training_member"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    training_id: int = Field(foreign_key="training.id", index=True)
    member_id: int = Field(foreign_key="member.id")
    created_at: datetime = _ts()
    reminded_at: datetime | None = _ts(nullable=True)
    attended: bool | None = None


class IncomeRecord(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    member_id: int | None = Field(default=None, foreign_key="member.id")
    amount_fen: int
    month: str = Field(max_length=7, index=True)  # YYYY-MM
    recorded_by: int = Field(foreign_key="member.id")
    created_at: datetime = _ts()
