"""Each Telegram update is handled once, even when Telegram delivers it again."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, null
from sqlmodel import col, delete, select, update

from storage.db import UnitOfWork, insert_ignoring
from storage.models import ProcessedUpdate


async def seen(uow: UnitOfWork, *, update_id: int) -> bool:
    return await uow.session.get(ProcessedUpdate, update_id) is not None


async def take(uow: UnitOfWork, *, update_id: int, now: datetime) -> bool:
    """Mark the update as handled in this unit of work; False when it was handled before.

    One statement (insert unless present). The mark commits with whatever the update changes; a
    second worker taking the same update at the same moment waits for the first one's commit
    (PostgreSQL) or for its turn to write (SQLite) and is then told False; if the first rolls
    back instead, the second takes it."""
    dialect = uow.session.bind.dialect.name
    statement = _TAKE.get(dialect)
    if statement is None:  # built once per database kind: building it cost more than running it
        statement = _TAKE[dialect] = insert_ignoring(uow, ProcessedUpdate, ["update_id"]).values(
            update_id=bindparam("update_id"), received_at=bindparam("received_at"))
    connection = await uow.session.connection()  # a plain statement (the session has nothing to flush yet)
    done = await connection.execute(statement, {"update_id": update_id, "received_at": now})
    return bool(done.rowcount)


_TAKE: dict[str, Any] = {}


async def take_many(uow: UnitOfWork, marks: Sequence[tuple[int, datetime, str | None]]) -> set[int]:
    """Mark several updates as handled, each with its kept replies (sealed, or None), in one statement; the ids
    whose mark went in (the others were handled before). `take` for a group (bot/core/grouped.py)."""
    taken: set[int] = set()
    connection = await uow.session.connection()
    for start in range(0, len(marks), _GROUP_ROWS):
        statement = insert_ignoring(uow, ProcessedUpdate, ["update_id"]).values(
            [{"update_id": i, "received_at": at, "replies": r} for i, at, r in marks[start:start + _GROUP_ROWS]]
        ).returning(col(ProcessedUpdate.update_id))
        taken.update(int(row[0]) for row in await connection.execute(statement))
    return taken


_GROUP_ROWS = 300  # rows per INSERT (three parameters each: far below SQLite's limit)


async def purge(uow: UnitOfWork, *, now: datetime, keep: timedelta = timedelta(days=7)) -> int:
    """Forget update ids older than `keep` (Telegram never redelivers after a day)."""
    result = await uow.session.exec(
        delete(ProcessedUpdate).where(ProcessedUpdate.received_at < now - keep)  # type: ignore[arg-type]
    )
    return int(result.rowcount or 0)


async def keep_replies(uow: UnitOfWork, *, update_id: int, sealed: str | None, sent: Sequence[int] = ()) -> None:
    """Keep the update's replies (sealed by the caller; None: it has none) with its mark, in its transaction, until
    `sent` — and, in the same statement, drop the kept copies of earlier updates whose replies went out since."""
    if sealed is None:
        if sent:
            await mark_sent(uow, update_ids=sent)
        return
    connection = await uow.session.connection()  # plain statements, built once (building cost more than running)
    if not sent:
        await connection.execute(_KEEP, {"id": update_id, "replies": sealed})
        return
    await connection.execute(_KEEP_AND_DROP, {"id": update_id, "replies": sealed, "ids": [update_id, *sent]})


_KEEP = (update(ProcessedUpdate).where(col(ProcessedUpdate.update_id) == bindparam("id"))
         .values(replies=bindparam("replies")))
_KEEP_AND_DROP = (
    update(ProcessedUpdate).where(col(ProcessedUpdate.update_id).in_(bindparam("ids", expanding=True)))
    .values(replies=case((col(ProcessedUpdate.update_id) == bindparam("id"), bindparam("replies")), else_=null())))


async def kept_replies(uow: UnitOfWork, *, update_id: int) -> str | None:
    """The replies of a handled update that were never marked as sent (the process died in between)."""
    return (await uow.session.exec(select(ProcessedUpdate.replies)
                                   .where(col(ProcessedUpdate.update_id) == update_id))).first()


async def mark_sent(uow: UnitOfWork, *, update_ids: Sequence[int]) -> None:
    """These updates' replies went out: their kept copies are dropped."""
    await (await uow.session.connection()).execute(_DROP, {"ids": list(update_ids)})


_DROP = (update(ProcessedUpdate).where(col(ProcessedUpdate.update_id).in_(bindparam("ids", expanding=True)))
         .values(replies=None))
