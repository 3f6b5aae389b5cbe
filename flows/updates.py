"""Each Telegram update is handled once, even when Telegram delivers it again."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import delete

from storage.db import UnitOfWork
from storage.models import ProcessedUpdate


async def claim(uow: UnitOfWork, *, update_id: int, now: datetime) -> bool:
    """Record the update as taken; False when it was taken before. Commits on success."""
    seen = await uow.session.get(ProcessedUpdate, update_id)
    if seen is not None:
        return False
    uow.session.add(ProcessedUpdate(update_id=update_id, received_at=now))
    try:
        await uow.commit()
    except IntegrityError:  # another worker claimed it between our read and our write
        await uow.session.rollback()
        return False
    return True


async def purge(uow: UnitOfWork, *, now: datetime, keep: timedelta = timedelta(days=7)) -> int:
    """Forget update ids older than `keep` (Telegram never redelivers after a day)."""
    result = await uow.session.exec(
        delete(ProcessedUpdate).where(ProcessedUpdate.received_at < now - keep)  # type: ignore[arg-type]
    )
    return int(result.rowcount or 0)

