"""Check-ins: the scheduler's tick — plan, send what fell due, climb the ladder, re-alert open incidents,
welcome volunteers back. Safe to run twice, or in two processes at once."""

from __future__ import annotations

from datetime import datetime, timedelta

from flows.checkins.absences import welcome_back
from flows.checkins.climbing import TickResult, climb, reescalate, send_due
from flows.checkins.people import communities
from flows.checkins.planning import plan
from flows.checkins.settings import PLAN_TOMORROW_FROM, local_now, local_today
from storage.db import UnitOfWork


async def tick(uow: UnitOfWork, *, now: datetime) -> TickResult:
    """Do everything that fell due at `now`; safe to run twice, or in two processes at once."""
    res = TickResult()
    comms = await communities(uow)
    for c in comms.values():
        today = local_today(now, c.timezone)
        res.planned += await plan(uow, community=c, local_date=today, now=now)
        if local_now(now, c.timezone).time() >= PLAN_TOMORROW_FROM:
            res.planned += await plan(uow, community=c, local_date=today + timedelta(days=1), now=now)
    await uow.session.flush()
    await send_due(uow, now, comms, res)
    await climb(uow, now, comms, res)
    await reescalate(uow, now, comms, res)
    await welcome_back(uow, now, comms, res)
    return res
