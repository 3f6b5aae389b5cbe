"""APScheduler 3.11 with its job store in the same database.

Jobs are thin: they open a unit of work, call a flow, commit, and let the outbox deliver.
Stable ids and `replace_existing=True` make starting twice harmless."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from flows import checkins, conversation, updates
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


async def checkins_tick(db: Database, clock: Clock, on_outbox: Callable[[], None] | None = None
                        ) -> checkins.TickResult:
    """Plan, send, climb the ladder and re-escalate whatever fell due (found from the database)."""
    now = clock.now()
    async with db.uow(write=True) as uow:
        result = await checkins.tick(uow, now=now)
        await uow.commit()
    if result.messages or result.welcomed:
        log.info("check-ins: %s", result)
        if on_outbox is not None:
            on_outbox()
    return result


async def checkins_weekly(db: Database, clock: Clock, on_outbox: Callable[[], None] | None = None) -> int:
    """The volunteers' weekly thank-you (Monday morning, local time; once per community and week)."""
    now = clock.now()
    async with db.uow(write=True) as uow:
        sent = await checkins.weekly_thanks(uow, now=now)
        await uow.commit()
    if sent:
        log.info("check-ins: %s weekly thank-you notes queued", sent)
        if on_outbox is not None:
            on_outbox()
    return sent


# APScheduler stores jobs by reference to module-level functions: each resolves its
# dependencies from the running Scheduler, so nothing process-wide is needed at import.
_running: dict[str, Scheduler] = {}


async def _housekeeping_job(name: str) -> None:
    sched = _running[name]
    await housekeeping(sched.db, sched.clock)


async def _checkins_tick_job(name: str) -> None:
    sched = _running[name]
    try:
        await checkins_tick(sched.db, sched.clock, sched.on_outbox)
    except Exception:  # the next minute tries again; never let the job die silently
        log.exception("check-ins tick failed")


async def _checkins_weekly_job(name: str) -> None:
    sched = _running[name]
    await checkins_weekly(sched.db, sched.clock, sched.on_outbox)


class Scheduler:
    def __init__(self, database_url: str, *, db: Database, clock: Clock, name: str = "main",
                 on_outbox: Callable[[], None] | None = None, tick_seconds: float = 60) -> None:
        self.db = db
        self.on_outbox = on_outbox
        self.tick_seconds = tick_seconds
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
        self.aps.add_job(_checkins_tick_job, "interval", seconds=self.tick_seconds, id="checkins_tick",
                         args=[self.name], replace_existing=True, coalesce=True, misfire_grace_time=60,
                         max_instances=1, next_run_time=datetime.now(UTC))
        self.aps.add_job(_checkins_weekly_job, "interval", minutes=30, id="checkins_weekly", args=[self.name],
                         replace_existing=True, coalesce=True, misfire_grace_time=1800, max_instances=1)

    def shutdown(self) -> None:
        if self.aps.running:
            self.aps.shutdown(wait=False)
        _running.pop(self.name, None)
