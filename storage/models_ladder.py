"""The deadline ladder's own table (flows/ladder.py): who was alerted about which item, at which rung."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


def _ts() -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=False)


class LadderAlert(SQLModel, table=True):
    """One chat told about one due item at one rung (a person in private, or a group). Written in the same
    transaction as the notice it records, so it exists exactly when the notice was queued; read back to tell
    everyone alerted how the item ended. Independent of the outbox: its retention never changes who is told."""

    __table_args__ = (
        UniqueConstraint("kind", "item_id", "stage", "rung", "tg_chat_id", name="uq_ladder_alert_item_rung_chat"),
        Index("ix_ladder_alert_item", "kind", "item_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    kind: str = Field(max_length=24)  # the kind of item: "incident", "request", …
    item_id: int
    stage: str = Field(default="", max_length=32)  # which run of a ladder ("assess", "resolve#2"); "" when one
    rung: int
    tg_chat_id: int = Field(sa_type=BigInteger)
    recipient_user_id: int | None = Field(default=None, foreign_key="user.id")  # None: a group chat
    member_id: int | None = Field(default=None, foreign_key="member.id")
    lang: str = Field(max_length=10)
    created_at: datetime = _ts()
