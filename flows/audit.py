"""The audit trail: who did what, when.

An entry keeps its actor as they were at the time: the member number in the entry's community and the
name they had then, both taken by the INSERT itself (a subquery, so every `record` call gets them without a
query of its own). A key person is never named here: details hold ids only."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, func, insert, inspect
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ClauseElement, ColumnElement
from sqlmodel import col, select

from flows.paging import Page, clamp
from storage.db import UnitOfWork
from storage.models import AuditEntry, Member, User

if TYPE_CHECKING:
    from flows.actors import Actor


#: Set while a unit of work may only read (bot/core/grouped.py's reading attempt): `record` calls it before it keeps
#: anything, and it refuses the entry (raises), so the attempt stops at an audited read rather than after all the
#: handler does next (an export's file rendered for nothing: the attempt's answer is dropped for the usual way's).
refusing: ContextVar[Callable[[str], None] | None] = ContextVar("linli_audit_refusing", default=None)


def record(
    uow: UnitOfWork,
    *,
    action: str,
    now: datetime,
    community_id: int | None = None,
    actor_user_id: int | None = None,
    subject_type: str | None = None,
    subject_id: int | None = None,
    actor: Actor | None = None,
    **details: Any,
) -> None:
    """Add an audit entry to the current transaction (committed with the change it describes). `actor`: the acting
    person as this transaction read them, when at hand: their name and member number are then taken from it
    rather than by the INSERT's subqueries (the same values, cheaper to write).

    The entry waits in the session (`pending`) and goes in with the COMMIT, after everything else the transaction
    changed (what its subqueries read: a member registered in the same transaction), in one plain INSERT with the
    transaction's other entries — the ORM's bookkeeping of a row cost more than the rest of a language press."""
    refuse = refusing.get()
    if refuse is not None:
        refuse(action)
    row: dict[str, Any] = {
        "community_id": community_id, "actor_user_id": actor_user_id, "actor_member_id": None, "actor_name": None,
        "action": action, "subject_type": subject_type, "subject_id": subject_id, "details": details, "at": now,
    }
    if actor_user_id is not None:
        known = _known(actor, actor_user_id, community_id)
        if known is not None:
            row["actor_name"], row["actor_member_id"] = known
        else:
            row["actor_name"] = _name_then(actor_user_id)
            if community_id is not None:
                row["actor_member_id"] = _member_then(actor_user_id, community_id)
    uow.session.info.setdefault(_PENDING, []).append(row)


def pending(uow: UnitOfWork) -> bool:
    """Whether this transaction recorded entries not written yet (a unit of work that only reads must not drop
    them: an audited read is a write)."""
    return bool(uow.session.info.get(_PENDING))


_PENDING = "linli.audit.pending"  # the session's `info` key
_TABLE = AuditEntry.__table__  # type: ignore[attr-defined]
_INSERT = insert(_TABLE)


@event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    """The transaction's entries, in the order recorded: runs of plain values in one statement each, an entry whose
    name or number a subquery takes in a statement of its own."""
    rows = session.info.pop(_PENDING, None)
    if not rows:
        return
    session.flush()
    connection = session.connection()
    plain: list[dict[str, Any]] = []
    for row in rows:
        if isinstance(row["actor_name"], ClauseElement) or isinstance(row["actor_member_id"], ClauseElement):
            if plain:
                connection.execute(_INSERT, plain)
                plain = []
            connection.execute(insert(_TABLE).values(**row))
        else:
            plain.append(row)
    if plain:
        connection.execute(_INSERT, plain)


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, _previous: Any) -> None:
    """Rolled back (or closed without a commit): the entries go with the rest of the transaction."""
    session.info.pop(_PENDING, None)


def _known(actor: Actor | None, user_id: int, community_id: int | None) -> tuple[str, int | None] | None:
    """What `_name_then` and `_member_then` would find, from the actor at hand; None when it cannot tell (another
    person, another community, no membership there now, or their name not loaded)."""
    if actor is None or actor.user.id != user_id:
        return None
    loaded = inspect(actor.user).dict
    if "first_name" not in loaded or "last_name" not in loaded:
        return None
    member_id = None
    if community_id is not None:
        member = actor.member
        if member is None or member.community_id != community_id or member.id is None:
            return None  # a membership that ended is still theirs: the subquery finds it
        member_id = member.id
    first, last = loaded["first_name"], loaded["last_name"]
    full = first if last is None else f"{first} {last}"
    return full[:128], member_id


def _name_then(user_id: int) -> ColumnElement[str]:
    """The user's name as Telegram gives it at this moment (first name, and last name if any)."""
    full = func.coalesce(col(User.first_name) + " " + col(User.last_name), col(User.first_name))
    return select(func.substr(full, 1, 128)).where(col(User.id) == user_id).scalar_subquery()


def _member_then(user_id: int, community_id: int) -> ColumnElement[int]:
    return select(col(Member.id)).where(col(Member.user_id) == user_id,
                                        col(Member.community_id) == community_id).scalar_subquery()


@dataclass(frozen=True)
class AuditLine:
    id: int
    at: datetime
    actor: str  # the name at the time ("" for the system)
    member_no: int | None  # the actor's member number in this community then
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
            select(AuditEntry)
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
            actor=e.actor_name or "",
            member_no=e.actor_member_id,
            action=e.action,
            subject_type=e.subject_type,
            subject_id=e.subject_id,
            details=e.details,
        )
        for e in rows
    ]
    return Page(items=lines, page=page, pages=pages, total=total)
