"""Queueing messages the bot sends on its own.

A flow never writes display text: it queues a *notice* (a key and its parameters) in the
recipient's language, and bot/ renders it when the sender delivers it. The row is added to the
caller's transaction, so it exists exactly when the change that caused it does."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from storage.db import UnitOfWork
from storage.models import OutboxMessage


def notify(
    uow: UnitOfWork,
    *,
    tg_chat_id: int,
    notice: str,
    lang: str,
    now: datetime,
    community_id: int | None = None,
    recipient_user_id: int | None = None,
    dedupe_key: str | None = None,
    **params: Any,
) -> OutboxMessage:
    row = OutboxMessage(
        community_id=community_id,
        tg_chat_id=tg_chat_id,
        recipient_user_id=recipient_user_id,
        payload={"notice": notice, "lang": lang, "params": params},
        dedupe_key=dedupe_key,
        status="pending",
        not_before=now,
        created_at=now,
    )
    uow.session.add(row)
    return row
