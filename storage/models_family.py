"""Family members of key persons (#17, F-5.4), imported by storage/models.py.

`FamilyLink`: a member linked by a one-time invite (`Invite.role == "family"`, `Invite.person_id`) to ONE key
person: they see that person's alias and room only, ask for services for them and confirm them. Removing the link
(`revoked_at`) keeps the row (history); redeeming a new invite for the same person opens it again."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


class FamilyLink(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("person_id", "member_id", name="uq_family_link_person_member"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    person_id: int = Field(foreign_key="keyperson.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    created_by: int | None = Field(default=None, foreign_key="member.id")
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
