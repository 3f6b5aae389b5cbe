"""A community's household roster (住户名册), imported from the residents' file (F-11.3), and the imports' runs.

One household per (community, building, room): the property evaluation (F-10) counts households per building
and takes one answer per household, so a household is addressed by (community_id, building_id, room). The
household's contact (a resident's name and phone, both optional) is personal data: sealed with the ledger key
(`storage/crypto.Sealer`), never in the clear, never logged.

`ImportRun` is one import started from the bot: its dry run shown, then applied or cancelled. Its state changes
by compare-and-set (previewed → applying → applied, or previewed → cancelled), so two presses of ✅ apply once.
The file is not kept: Telegram keeps it under `file_id`, and its digest proves the applied file is the one
previewed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


def _ts(nullable: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable)


class Household(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("community_id", "building_id", "room", name="uq_household_room"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    building_id: int = Field(foreign_key="building.id", index=True)
    room: str = Field(max_length=20)  # as people write it: "2-401", "401"
    size: int | None = Field(default=None)  # people living there, when the file says
    name_sealed: str = Field(default="", sa_column=Column(Text, nullable=False))  # a resident's name, sealed
    phone_sealed: str = Field(default="", sa_column=Column(Text, nullable=False))  # their phone, sealed
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class ImportRun(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    member_id: int = Field(foreign_key="member.id")  # who started it (only they may apply it)
    kind: str = Field(max_length=16)  # residents | key-persons | complaints
    file_id: str = Field(max_length=200)  # Telegram's id of the document
    file_name: str = Field(default="", max_length=200)
    digest: str = Field(default="", max_length=64)  # sha256 of the file as previewed
    state: str = Field(default="fetching", max_length=12)  # fetching | previewed | applying | applied | cancelled
    counts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _ts()
    finished_at: datetime | None = _ts(nullable=True)
