"""APScheduler 3.11 with its job store in the same database.

Jobs are thin: they open a unit of work, call a flow, commit, and let the outbox deliver.
Stable ids and `replace_existing=True` make starting twice harmless."""

from __future__ import annotations

import logging

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from flows import conversation, updates
from flows.clock import Clock
from storage.db import Database
from storage.migrate import sync_url

log = logging.getLogger("linli.scheduler")


async def housekeeping(db: Database, clock: Clock) -> tuple[int, int]:
    """Forget old processed update ids and expired conversation states."""
    now = clock.now()
    async with db.uow(write=True) as uow:
        ids = await updates.purge(uow, now=now)
        states = await conversation.purge_expired(uow, now=now)
        await uow.commit()
    log.info("housekeeping: %s update ids, %s conversation states removed", ids, states)
    return ids, states


# APScheduler stores jobs by reference to module-level functions: each resolves its
# dependencies from the running Scheduler, so nothing process-wide is needed at import.
_running: dict[str, Scheduler] = {}


async def _housekeeping_job(name: str) -> None:
    sched = _running[name]
    await housekeeping(sched.db, sched.clock)


class Scheduler:
    def __init__(self, database_url: str, *, db: Database, clock: Clock, name: str = "main") -> None:
        self.db = db
        self.clock = clock
        self.name = name
        self.aps = AsyncIOScheduler(
            jobstores={"default": SQLAlchemyJobStore(url=sync_url(database_url), tablename="apscheduler_jobs")},
            job_defaults={"coalesce": True, "misfire_grace_time": 600, "max_instances": 1},
            timezone="UTC",
        )

    def start(self) -> None:
        _running[self.name] = self
        self.aps.start()
        self.aps.add_job(_housekeeping_job, "interval", hours=6, id="housekeeping", args=[self.name],
                         replace_existing=True)

    def shutdown(self) -> None:
        if self.aps.running:
            self.aps.shutdown(wait=False)
        _running.pop(self.name, None)
