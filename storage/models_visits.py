"""The tables of visits and services for key persons (F-5.3, F-5.4), imported by storage/models.py.

`VisitPlan`: one row per key person, when the next visit falls due and how far its ladder climbed (the index
on (status, next_at) is what the scheduler's tick reads). `Visit`: one visit recorded (note sealed).
`ServiceRequest`: a 助医/助洁/助行/助急 request for a person, numbered per community, claimed by one
conditional UPDATE. `ServiceOffer`: a member declares a service they offer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


def _ts(nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


class VisitPlan(SQLModel, table=True):
    """A key person's next visit: due at `due_at`; `rung`/`next_at` are the deadline ladder's state
    (flows/ladder.py). status: open | stopped (the person left the ledger)."""

    __table_args__ = (Index("ix_visitplan_due", "status", "next_at"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    person_id: int = Field(foreign_key="keyperson.id", unique=True)
    status: str = Field(default="open", max_length=8)
    due_at: datetime = _ts()
    rung: int = Field(default=0)
    next_at: datetime | None = _ts(nullable=True)
    visits: int = Field(default=0)  # how many visits were recorded: the version a record compares against
    last_visit_at: datetime | None = _ts(nullable=True)


class Visit(SQLModel, table=True):
    """One visit: who visited whom, when, the outcome, a sealed note, a colour change with a sealed reason."""

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    person_id: int = Field(foreign_key="keyperson.id", index=True)
    member_id: int | None = Field(default=None, foreign_key="member.id")
    at: datetime = _ts(index=True)
    due_at: datetime = _ts()
    on_time: bool = Field(default=True)
    outcome: str = Field(max_length=10)  # home | away | hospital
    note_enc: str = Field(default="", max_length=2000)
    voice_enc: str = Field(default="", max_length=1000)  # a voice note's file id, sealed
    risk_before: str = Field(max_length=8)
    risk_after: str = Field(max_length=8)
    risk_reason_enc: str = Field(default="", max_length=1000)


class ServiceOffer(SQLModel, table=True):
    """A member offers a service (medical | cleaning | mobility | emergency)."""

    __table_args__ = (UniqueConstraint("member_id", "kind", name="uq_service_offer_member_kind"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    kind: str = Field(max_length=12)
    created_at: datetime = _ts()


class ServiceRequest(SQLModel, table=True):
    """A service for a key person. state: open → claimed → done → confirmed; open|claimed → cancelled."""

    __table_args__ = (
        UniqueConstraint("community_id", "number", name="uq_service_request_community_number"),
        Index("ix_servicerequest_due", "state", "next_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    number: int
    person_id: int = Field(foreign_key="keyperson.id", index=True)
    kind: str = Field(max_length=12)
    wanted_at: datetime = _ts()
    state: str = Field(default="open", max_length=10)
    requester_member_id: int = Field(foreign_key="member.id")
    claimer_member_id: int | None = Field(default=None, foreign_key="member.id")
    claimed_at: datetime | None = _ts(nullable=True)
    done_at: datetime | None = _ts(nullable=True)
    done_note_enc: str = Field(default="", max_length=2000)
    confirmed_at: datetime | None = _ts(nullable=True)
    confirmed_by: int | None = Field(default=None, foreign_key="member.id")
    rung: int = Field(default=0)
    next_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()
