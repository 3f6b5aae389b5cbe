"""The tables. Every row that belongs to a place carries its community; times are aware UTC.

Uniqueness lives in the schema: one membership per (community, user), one active grant per
(member, role), one conversation state per (chat, user), one processed update per update_id,
one outbox row per dedupe key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


def _ts(nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


class Community(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=40, unique=True)
    name: str = Field(max_length=100)
    timezone: str = Field(default="Asia/Shanghai", max_length=64)
    locale: str = Field(default="zh_CN", max_length=10)
    settings: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _ts()


class Grid(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("community_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    name: str = Field(max_length=60)


class Building(SQLModel, table=True):
    """A building (楼栋/楼门). `label` is what people say: "3" for 3号楼."""

    __table_args__ = (UniqueConstraint("community_id", "label"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    grid_id: int | None = Field(default=None, foreign_key="grid.id")
    label: str = Field(max_length=20)
    sort_key: int = Field(default=0)


class User(SQLModel, table=True):
    """A Telegram account that has talked to the bot."""

    id: int | None = Field(default=None, primary_key=True)
    tg_id: int = Field(sa_type=BigInteger, unique=True)
    first_name: str = Field(default="", max_length=128)
    last_name: str | None = Field(default=None, max_length=128)
    username: str | None = Field(default=None, max_length=64)
    tg_language: str | None = Field(default=None, max_length=16)
    language: str | None = Field(default=None, max_length=10)  # chosen with /lang
    active_community_id: int | None = Field(default=None, foreign_key="community.id")
    unreachable_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()


class Member(SQLModel, table=True):
    """A user's membership of one community (consent recorded at registration)."""

    __table_args__ = (UniqueConstraint("community_id", "user_id"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    building_id: int | None = Field(default=None, foreign_key="building.id")
    display_name: str = Field(default="", max_length=128)
    consent_at: datetime = _ts()
    privacy_version: int = Field(default=1)
    joined_at: datetime = _ts()


class RoleGrant(SQLModel, table=True):
    """A role held by a member; revoking keeps the row (history) and sets revoked_at."""

    __table_args__ = (
        Index(
            "uq_role_grant_active",
            "member_id",
            "role",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    role: str = Field(max_length=32)
    organisation: str | None = Field(default=None, max_length=32)
    granted_by: int | None = Field(default=None, foreign_key="member.id")
    granted_at: datetime = _ts()
    revoked_at: datetime | None = _ts(nullable=True)
    revoked_by: int | None = Field(default=None, foreign_key="member.id")


class Invite(SQLModel, table=True):
    """A one-time, expiring deep link that grants a role (and registers when needed)."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    role: str = Field(max_length=32)
    organisation: str | None = Field(default=None, max_length=32)
    created_by: int | None = Field(default=None, foreign_key="member.id")
    created_at: datetime = _ts()
    expires_at: datetime = _ts()
    used_at: datetime | None = _ts(nullable=True)
    used_by: int | None = Field(default=None, foreign_key="member.id")


class Chat(SQLModel, table=True):
    """A Telegram chat the bot is in, linked to a place and a purpose."""

    id: int | None = Field(default=None, primary_key=True)
    tg_chat_id: int = Field(sa_type=BigInteger, unique=True)
    type: str = Field(max_length=16)
    title: str = Field(default="", max_length=255)
    community_id: int | None = Field(default=None, foreign_key="community.id", index=True)
    purpose: str | None = Field(default=None, max_length=16)
    building_id: int | None = Field(default=None, foreign_key="building.id")
    bot_status: str = Field(default="member", max_length=16)
    linked_by: int | None = Field(default=None, foreign_key="member.id")
    linked_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()


class ConversationState(SQLModel, table=True):
    """Where a person is in a dialog, per (chat, user); survives restarts and workers."""

    __table_args__ = (UniqueConstraint("tg_chat_id", "tg_user_id"),)
    id: int | None = Field(default=None, primary_key=True)
    tg_chat_id: int = Field(sa_type=BigInteger)
    tg_user_id: int = Field(sa_type=BigInteger)
    flow: str = Field(max_length=32)
    step: str = Field(max_length=32)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    expires_at: datetime = _ts(index=True)
    updated_at: datetime = _ts()


class OutboxMessage(SQLModel, table=True):
    """A message the bot sends on its own, written in the same transaction as its cause."""

    __table_args__ = (Index("ix_outbox_due", "status", "not_before"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int | None = Field(default=None, foreign_key="community.id", index=True)
    tg_chat_id: int = Field(sa_type=BigInteger, index=True)
    recipient_user_id: int | None = Field(default=None, foreign_key="user.id")
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    dedupe_key: str | None = Field(default=None, max_length=120, unique=True)
    status: str = Field(default="pending", max_length=12)  # pending|sending|sent|failed|dead
    attempts: int = Field(default=0)
    not_before: datetime = _ts()
    lease_until: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()
    sent_at: datetime | None = _ts(nullable=True)
    tg_message_id: int | None = Field(default=None, sa_type=BigInteger)
    last_error: str | None = Field(default=None, max_length=500)


class ProcessedUpdate(SQLModel, table=True):
    """Every Telegram update_id handled, so a redelivered update is skipped."""

    update_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    received_at: datetime = _ts(index=True)


class AuditEntry(SQLModel, table=True):
    """Who did what, when. `details` never holds key persons' personal data in clear."""

    id: int | None = Field(default=None, primary_key=True)
    community_id: int | None = Field(default=None, foreign_key="community.id", index=True)
    actor_user_id: int | None = Field(default=None, foreign_key="user.id")
    action: str = Field(max_length=48)
    subject_type: str | None = Field(default=None, max_length=32)
    subject_id: int | None = Field(default=None, sa_type=BigInteger)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    at: datetime = _ts(index=True)
