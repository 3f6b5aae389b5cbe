"""Numbers people see (wish #3, space #2, announcement #7): the community's next one, race-free.

`next_number` takes the community's row lock first (`SELECT … FOR UPDATE`), then reads max + 1: two rows numbered
at the same moment in one community wait for each other there (PostgreSQL; SQLite's write lock already orders
writers), so neither meets the other's number at the unique constraint — and communities never wait for each
other. Closed-loop requests keep their own counter rows (flows/requests.py), needs lock their collection period."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from storage.db import UnitOfWork
from storage.models import Community


async def next_number(uow: UnitOfWork, *, community_id: int, number: Any, community_column: Any) -> int:
    """max(`number`) + 1 over the rows whose `community_column` is `community_id`, under the community's lock."""
    await uow.session.exec(select(Community.id).where(col(Community.id) == community_id).with_for_update())
    last = (await uow.session.exec(select(func.max(number)).where(community_column == community_id))).one()
    return int(last or 0) + 1
