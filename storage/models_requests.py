"""The tables of closed-loop requests (闭环诉求, F-7), imported by storage/models.py.

A request is numbered per community and year (R-2027-0012): `RequestNumber` holds the last number given,
taken with one UPDATE … RETURNING (a row lock on PostgreSQL, the write lock on SQLite), and the schema
refuses a second request with the same (community, year, number). Its state changes only by
compare-and-set (flows/requests.py); every step is a `RequestEvent` (the timeline and the statistics);
its reporters are `RequestReporter` rows (several once requests were merged into it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


def _ts(nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


class RequestNumber(SQLModel, table=True):
    """The last request number given in a community and year."""

    __table_args__ = (UniqueConstraint("community_id", "year", name="uq_request_number_community_year"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    year: int
    last: int = 0


class Request(SQLModel, table=True):
    """A resident's request (诉求), dispute (矛盾纠纷) or safety hazard (安全隐患).

    state: new → assigned → accepted → resolved → confirmed | reopened (→ accepted …) | closed_default;
    new → rejected | merged. `organisation` is the one it was assigned to (an Org code)."""

    __table_args__ = (
        UniqueConstraint("community_id", "year", "number", name="uq_request_community_year_number"),
        Index("ix_request_due", "state", "due_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    year: int
    number: int
    kind: str = Field(max_length=12)  # request | dispute | hazard
    category: str = Field(max_length=24)
    text: str = Field(default="", max_length=500)
    voice_file_id: str | None = Field(default=None, max_length=255)
    voice_seconds: int | None = Field(default=None)
    photos: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    building_id: int | None = Field(default=None, foreign_key="building.id")
    latitude: float | None = Field(default=None)
    longitude: float | None = Field(default=None)
    anonymous: bool = Field(default=False)  # the reporter is not named in any disclosure
    reporter_member_id: int = Field(foreign_key="member.id", index=True)  # who reported it first
    state: str = Field(default="new", max_length=16, index=True)
    organisation: str | None = Field(default=None, max_length=32)
    merged_into_id: int | None = Field(default=None, foreign_key="request.id")
    reject_reason: str | None = Field(default=None, max_length=200)
    reopen_count: int = Field(default=0)
    # the deadline ladder (flows/request_clocks.py): when the next rung of the stage's clock falls due (resolved: the
    # default close), and how many rungs were reached in this stage
    due_at: datetime | None = _ts(nullable=True)
    rung: int = Field(default=0)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    closed_at: datetime | None = _ts(nullable=True)


class RequestReporter(SQLModel, table=True):
    """Someone the request is about to: its reporter, and the reporters of requests merged into it."""

    __table_args__ = (UniqueConstraint("request_id", "member_id", name="uq_request_reporter_request_member"),)
    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="request.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    merged_from_id: int | None = Field(default=None, foreign_key="request.id")
    joined_at: datetime = _ts()


class RequestEvent(SQLModel, table=True):
    """One step of a request's timeline: who (a member, or None for the system), when, what, a note or photo."""

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    request_id: int = Field(foreign_key="request.id", index=True)
    at: datetime = _ts()
    actor_member_id: int | None = Field(default=None, foreign_key="member.id")
    action: str = Field(max_length=16)  # report|assign|merge|reject|accept|progress|resolve|confirm|reopen|close_default
    from_state: str | None = Field(default=None, max_length=16)
    to_state: str | None = Field(default=None, max_length=16)
    organisation: str | None = Field(default=None, max_length=32)
    note: str | None = Field(default=None, max_length=500)
    photo_file_id: str | None = Field(default=None, max_length=255)
