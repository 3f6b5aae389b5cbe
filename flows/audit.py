"""The audit trail: who did what, when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

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


@dataclass(frozen=True)
class AuditPage:
    lines: list[AuditLine]
    page: int
    pages: int
    total: int


async def list_entries(uow: UnitOfWork, *, community_id: int, page: int, page_size: int = 10) -> AuditPage:
    total = (
        await uow.session.exec(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.community_id == community_id)
        )
    ).one()
    pages = max(1, -(-total // page_size))
    page = min(max(1, page), pages)
    rows = (
        await uow.session.exec(
            select(AuditEntry, User)
            .join(User, col(User.id) == col(AuditEntry.actor_user_id), isouter=True)
            .where(AuditEntry.community_id == community_id)
            .order_by(col(AuditEntry.id).desc())
            .offset((page - 1) * page_size)
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
    return AuditPage(lines=lines, page=page, pages=pages, total=total)
