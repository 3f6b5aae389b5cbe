"""The tables of announcements to the community's groups (F-11.4), imported by storage/models.py.

An `Announcement` is numbered per community (unique in the schema): its audience (all building groups, one grid's,
the volunteers' group, chosen buildings), its text (or a photo's caption), whether it is urgent (it ignores the
quiet hours), when it goes out (`send_at`) and its state: sent (queued or gone) → deleted. One `AnnouncementPost`
per group it went to (unique per announcement and chat) points at the outbox row that carries it (`outbox_id`) —
the sender writes Telegram's message id there, and the post learns it (`message_id`) to edit the message in
place later, as the board's posts do (flows/board.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


def _ts(nullable: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable)


class Announcement(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("community_id", "number", name="uq_announcement_community_number"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    number: int
    author_member_id: int = Field(foreign_key="member.id")
    audience: str = Field(max_length=12)  # all | grid | volunteers | buildings
    targets: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # grid or building ids
    text: str = Field(max_length=4096)
    photo: str | None = Field(default=None, max_length=255)  # a photo's file_id; `text` is then its caption
    urgent: bool = False
    state: str = Field(default="sent", max_length=8)  # sent | deleted
    edits: int = 0
    send_at: datetime = _ts()
    created_at: datetime = _ts()
    deleted_at: datetime | None = _ts(nullable=True)


class AnnouncementPost(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("announcement_id", "tg_chat_id", name="uq_announcement_post_chat"),)
    id: int | None = Field(default=None, primary_key=True)
    announcement_id: int = Field(foreign_key="announcement.id", index=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    tg_chat_id: int = Field(sa_type=BigInteger)
    outbox_id: int | None = Field(default=None)
    message_id: int | None = Field(default=None, sa_type=BigInteger)
