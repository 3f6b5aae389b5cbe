"""The audit trail: who did what, when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from flows.paging import Page, clamp
from storage.db import UnitOfWork
from storage.models import AuditEntry, User


def record(
    uow: UnitOfWork,
    *,
    action: str,
    now: datetime,
    community_id: int | None = None,
    actor_user_id: int | None = None,
    subject_type: str | None = None,
    subject_id: int | None = None,
    **details: Any,
) -> AuditEntry:
    """Add an audit entry to the current transaction (committed with the change it describes)."""
    entry = AuditEntry(
        community_id=community_id,
        actor_user_id=actor_user_id,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        details=details,
        at=now,
    )
    uow.session.add(entry)
    return entry


@dataclass(frozen=True)
class AuditLine:
    id: int
    at: datetime
    actor: str
    action: str
    subject_type: str | None
    subject_id: int | None
    details: dict[str, Any]


async def list_entries(uow: UnitOfWork, *, community_id: int, page: int, page_size: int = 10) -> Page[AuditLine]:
    total = (
        await uow.session.exec(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.community_id == community_id)
        )
    ).one()
    page, pages, offset = clamp(page, total, page_size)
    rows = (
        await uow.session.exec(
            select(AuditEntry, User)
            .join(User, col(User.id) == col(AuditEntry.actor_user_id), isouter=True)
            .where(AuditEntry.community_id == community_id)
            .order_by(col(AuditEntry.id).desc())
            .offset(offset)
            .limit(page_size)
        )
    ).all()
    lines = [
        AuditLine(
            id=e.id or 0,
            at=e.at,
            actor=(u.first_name if u else ""),
            action=e.action,
            subject_type=e.subject_type,
            subject_id=e.subject_id,
            details=e.details,
        )
        for e, u in rows
    ]
    return Page(items=lines, page=page, pages=pages, total=total)
