"""Conversation state: one row per (chat, user), in the database, with an expiry."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import delete, select

from storage.db import UnitOfWork
from storage.models import ConversationState

DEFAULT_TTL = timedelta(hours=2)


@dataclass
class State:
    flow: str
    step: str
    data: dict[str, Any] = field(default_factory=dict)


async def get(uow: UnitOfWork, *, chat_id: int, user_id: int, now: datetime) -> State | None:
    row = (
        await uow.session.exec(
            select(ConversationState).where(
                ConversationState.tg_chat_id == chat_id, ConversationState.tg_user_id == user_id
            )
        )
    ).first()
    if row is None or row.expires_at <= now:
        return None
    return State(flow=row.flow, step=row.step, data=dict(row.data))


async def put(
    uow: UnitOfWork, *, chat_id: int, user_id: int, state: State, now: datetime, ttl: timedelta = DEFAULT_TTL
) -> None:
    row = (
        await uow.session.exec(
            select(ConversationState).where(
                ConversationState.tg_chat_id == chat_id, ConversationState.tg_user_id == user_id
            )
        )
    ).first()
    if row is None:
        row = ConversationState(tg_chat_id=chat_id, tg_user_id=user_id, flow=state.flow, step=state.step)
    row.flow, row.step, row.data = state.flow, state.step, dict(state.data)
    row.expires_at, row.updated_at = now + ttl, now
    uow.session.add(row)


async def clear(uow: UnitOfWork, *, chat_id: int, user_id: int) -> None:
    await uow.session.exec(
        delete(ConversationState).where(
            ConversationState.tg_chat_id == chat_id,  # type: ignore[arg-type]
            ConversationState.tg_user_id == user_id,  # type: ignore[arg-type]
        )
    )


async def purge_expired(uow: UnitOfWork, *, now: datetime) -> int:
    result = await uow.session.exec(
        delete(ConversationState).where(ConversationState.expires_at <= now)  # type: ignore[arg-type]
    )
    return int(result.rowcount or 0)
