"""Visits and services for key persons (F-5.3 五常五送, F-5.4 助医/助洁/助行/助急).

The modules: `access` (who looks after whom, the visit intervals), `plans` (plans, the visits' ladder, recording a
visit, what is due this week), `services` (asking, offering, the atomic claim, done, confirmed, the ladder in days or
minutes), `stats` (/visits week and the public board), `notices`. The scheduler calls `tick`."""

from __future__ import annotations

from datetime import datetime

from flows.visits import plans, services
from storage.db import UnitOfWork


async def tick(uow: UnitOfWork, *, now: datetime) -> dict[str, int]:
    """Due visits and unclaimed services climb their ladders (idempotent, safe with several processes)."""
    return {"visits": await plans.tick(uow, now=now), "services": await services.tick(uow, now=now)}
