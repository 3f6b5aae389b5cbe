"""APScheduler 3.11 with its job store in the same database.

Jobs are thin: they open a unit of work, call a flow, commit, and let the outbox deliver.
Stable ids and `replace_existing=True` make starting twice harmless."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.handlers import board as board_notices
from bot.handlers import property_notices
from flows import (
    ballot,
    board,
    checkins,
    conversation,
    digest,
    jobs,
    loans,
    meeting,
    micro,
    needs,
    opendays,
    outbox,
    project_reminders,
    request_work,
    updates,
    visits,
    wishes,
)
from flows.clock import Clock
from flows.property import publish as property_publish
from storage.db import Database, UnitOfWork
from storage.migrate import sync_url

log = logging.getLogger("linli.scheduler")
T = TypeVar("T")


async def housekeeping(db: Database, clock: Clock) -> tuple[int, int]:
    """Forget old processed update ids and expired conversation states."""
    now = clock.now()
    async with db.uow(write=True) as uow:
        ids = await updates.purge(uow, now=now)
        states = await conversation.purge_expired(uow, now=now)
        await uow.commit()
    log.info("housekeeping: %s update ids, %s conversation states removed", ids, states)
    return ids, states


async def outbox_retention(db: Database, clock: Clock, keep: timedelta, batch: int = 500) -> outbox.Purged:
    """Purge the outbox rows sent (or given up) more than `keep` ago: batch by batch, each in a short
    transaction of its own, so no lock is held long; rows with a dedupe key keep only the key."""
    now = clock.now()
    deleted = stripped = 0
    while True:
        async with db.uow(write=True) as uow:
            done = await outbox.purge(uow, now=now, keep=keep, limit=batch)
            await uow.commit()
        deleted, stripped = deleted + done.deleted, stripped + done.stripped
        if done.deleted < batch and done.stripped < batch:
            break
        await asyncio.sleep(0)  # let updates and the sender in between batches
    if deleted or stripped:
        log.info("outbox retention: %s rows deleted, %s stripped to their dedupe key", deleted, stripped)
    return outbox.Purged(deleted=deleted, stripped=stripped)


async def _run(db: Database, clock: Clock, label: str, due: Callable[[UnitOfWork, datetime], Awaitable[T]],
               on_outbox: Callable[[], None] | None, queued: Callable[[T], bool]) -> T:
    """One pass of a flow's `due`: a unit of work, commit, and wake the sender when messages were queued."""
    now = clock.now()
    async with db.uow(write=True) as uow:
        result = await due(uow, now)
        await uow.commit()
    if queued(result):
        log.info("%s: %s", label, result)
        if on_outbox is not None:
            on_outbox()
    return result


def _any(result: object) -> bool:
    if isinstance(result, int):
        return result > 0
    if isinstance(result, dict):
        return any(result.values())
    return any(v for k, v in vars(result).items() if isinstance(v, int) and k != "pictures")


async def micro_due(uow: UnitOfWork, *, now: datetime) -> dict[str, int]:
    """Micro-governance: remind the claimers of wishes due tomorrow, post last month's thank-you list, then send
    the groups' daily digests (each idempotent: compare-and-set and dedupe keys, re-read from the database)."""
    reminders = await wishes.due(uow, now=now)
    thanks = await micro.thanks_due(uow, now=now)
    return {"reminders": reminders, "thanks": thanks, "digests": await digest.due(uow, now=now)}


async def spaces_due(uow: UnitOfWork, now: datetime) -> dict[str, int]:
    """Micro spaces and employment (#16): the loans' reminders (due soon, overdue, the keeper told) and the
    trainings' reminders the day before."""
    done = await loans.due(uow, now=now)
    return {"due_soon": done.due_soon, "overdue": done.overdue, "keepers": done.keepers,
            "trainings": await jobs.due(uow, now=now)}


#: What falls due, by job: each a flow function over (unit of work, now), idempotent (found from the database,
#: every message with a dedupe key), so running one twice or late is harmless.
DUE: dict[str, Callable[[UnitOfWork, datetime], Awaitable[Any]]] = {
    "checkins_tick": lambda uow, now: checkins.tick(uow, now=now),  # prompts, the ladder, incidents
    "checkins_weekly": lambda uow, now: checkins.weekly_thanks(uow, now=now),  # Monday's thank-you notes
    "needs_tick": lambda uow, now: needs.remind(uow, now=now),  # remind groups while needs are collected
    "board_tick": lambda uow, now: board.due(uow, now=now),  # the monthly board, the weekly/monthly digests
    "projects_tick": lambda uow, now: project_reminders.due(uow, now=now),  # owners who did not report last month
    "opendays_tick": lambda uow, now: opendays.due(uow, now=now),  # open-day reminders and feedback prompts
    "requests_tick": lambda uow, now: request_work.due(uow, now=now),  # unanswered resolutions close as 默认满意
    "meeting_tick": lambda uow, now: meeting.due(uow, now=now),  # the weekly meeting's reminder, its assignments
    "visits_tick": lambda uow, now: visits.tick(uow, now=now),  # due visits, unclaimed services (助急 in minutes)
    "micro_tick": lambda uow, now: micro_due(uow, now=now),  # wish reminders, the thank-you list, the groups' digests
    "property_tick": lambda uow, now: property_publish.due(uow, now=now),  # surveys; the monthly ranking, once
    "spaces_tick": lambda uow, now: spaces_due(uow, now),  # tool loans' reminders, trainings' reminders (#16)
}


#: The ballot's jobs also take the ballot key (they open the voters' sealed envelopes, flows.ballot_sheets).
KEYED: dict[str, Callable[[UnitOfWork, datetime, bytes | None], Awaitable[Any]]] = {
    # open, remind once, close and tally ballots (closing applies every submission still waiting)
    "ballot_tick": lambda uow, now, key: ballot.due(uow, now=now, secret=key),
    # apply waiting submissions to the sheets, several voters' at once (never in the voter's transaction)
    "ballot_apply": lambda uow, now, key: ballot.apply_pending(uow, now=now, secret=key),
}


async def run_due(uow: UnitOfWork, now: datetime, *, ballot_key: bytes | None = None) -> dict[str, Any]:
    """Everything that fell due, in one unit of work (the sandbox's /clock)."""
    done: dict[str, Any] = {name: await due(uow, now) for name, due in DUE.items()}
    for name, keyed in KEYED.items():
        done[name] = await keyed(uow, now, ballot_key)
    return done


async def checkins_tick(db: Database, clock: Clock, on_outbox: Callable[[], None] | None = None
                        ) -> checkins.TickResult:
    """Plan, send, climb the ladder and re-escalate whatever fell due (found from the database)."""
    result: checkins.TickResult = await _run(db, clock, "check-ins", DUE["checkins_tick"], on_outbox,
                                             lambda r: bool(r.messages or r.welcomed))
    return result


async def checkins_weekly(db: Database, clock: Clock, on_outbox: Callable[[], None] | None = None) -> int:
    """The volunteers' weekly thank-you (Monday morning, local time; once per community and week)."""
    return int(await _run(db, clock, "weekly thanks", DUE["checkins_weekly"], on_outbox, _any))


async def ballot_tick(db: Database, clock: Clock, on_outbox: Callable[[], None] | None = None, *,
                      ballot_key: bytes | None = None) -> dict[str, int]:
    """Open the representatives' ballots whose time has come, remind the late voters once, close and tally."""
    counts: dict[str, int] = await _run(db, clock, "ballot", lambda uow, now: KEYED["ballot_tick"](
        uow, now, ballot_key), on_outbox, _any)
    return counts


async def ballot_apply(db: Database, clock: Clock, on_outbox: Callable[[], None] | None = None, *,
                       ballot_key: bytes | None = None) -> int:
    """Apply the submissions waiting in sealed envelopes to the ballot sheets, in batches (nothing is sent)."""
    return int(await _run(db, clock, "ballot papers", lambda uow, now: KEYED["ballot_apply"](uow, now, ballot_key),
                          None, _any))


async def needs_tick(db: Database, clock: Clock, on_outbox: Callable[[], None] | None = None) -> int:
    """Remind the groups while a needs collection is open (idempotent: once per chat and week)."""
    return int(await _run(db, clock, "needs reminders", DUE["needs_tick"], on_outbox, _any))


async def board_tick(db: Database, clock: Clock, on_outbox: Callable[[], None] | None = None) -> board.Tick:
    """The monthly board post to the groups, the committee's weekly and monthly digests (idempotent: once
    per chat and month, or week). The board pictures are drawn here, in a thread, before the sender needs them."""
    result: board.Tick = await _run(db, clock, "board", DUE["board_tick"], None, _any)
    for lang, params in result.pictures:
        await asyncio.to_thread(board_notices.picture_file, lang, params)
    if _any(result) and on_outbox is not None:
        on_outbox()
    return result


async def projects_tick(db: Database, clock: Clock, on_outbox: Callable[[], None] | None = None) -> int:
    """Remind owners who did not report last month, and tell the admins (once per month, on the report day)."""
    return int(await _run(db, clock, "project reminders", DUE["projects_tick"], on_outbox, _any))


async def requests_tick(db: Database, clock: Clock, on_outbox: Callable[[], None] | None = None) -> int:
    """Requests: close resolutions the reporters did not answer in 3 days as 默认满意 (once each)."""
    return int(await _run(db, clock, "requests", DUE["requests_tick"], on_outbox, _any))


async def meeting_tick(db: Database, clock: Clock, on_outbox: Callable[[], None] | None = None) -> int:
    """The weekly meeting: its reminder with the agenda (once per meeting), its assignments' deadline ladder."""
    return int(await _run(db, clock, "meeting", DUE["meeting_tick"], on_outbox, _any))


async def micro_tick(db: Database, clock: Clock, on_outbox: Callable[[], None] | None = None) -> dict[str, int]:
    """Micro-governance (F-9): wish reminders, the monthly thank-you list, the groups' daily digests."""
    result: dict[str, int] = await _run(db, clock, "micro", DUE["micro_tick"], on_outbox, _any)
    return result


async def opendays_tick(db: Database, clock: Clock, on_outbox: Callable[[], None] | None = None) -> opendays.Due:
    """Open days: remind the experience officers the day before, ask for their feedback after (once each)."""
    result: opendays.Due = await _run(db, clock, "open days", DUE["opendays_tick"], on_outbox, _any)
    return result


async def visits_tick(db: Database, clock: Clock, on_outbox: Callable[[], None] | None = None) -> dict[str, int]:
    """Visits and services: due and missed visits climb their ladder, unclaimed services theirs (助急 in minutes)."""
    result: dict[str, int] = await _run(db, clock, "visits", DUE["visits_tick"], on_outbox,
                                        lambda r: any(r.values()))
    return result


async def property_tick(db: Database, clock: Clock, on_outbox: Callable[[], None] | None = None
                        ) -> property_publish.Tick:
    """The property evaluation: survey invitations from the survey day; the month's ranking computed and published
    once (text and picture to the groups, drawn here ahead in a thread)."""
    result: property_publish.Tick = await _run(db, clock, "property", DUE["property_tick"], None, _any)
    for lang, params in result.pictures:
        await asyncio.to_thread(property_notices.picture_file, lang, params)
    if (result.invited or result.posts or result.alerts) and on_outbox is not None:
        on_outbox()
    return result


async def spaces_tick(db: Database, clock: Clock, on_outbox: Callable[[], None] | None = None) -> dict[str, int]:
    """Tool loans and trainings: their reminders (each once, found from the database: a restart loses none)."""
    result: dict[str, int] = await _run(db, clock, "micro spaces and jobs", DUE["spaces_tick"], on_outbox, _any)
    return result


#: The jobs: (id, the tick, interval in seconds or None for the scheduler's tick, grace in seconds)
TICKS: dict[str, tuple[Callable[..., Awaitable[Any]], float | None, float]] = {
    "checkins_tick": (checkins_tick, None, 60),
    "ballot_tick": (ballot_tick, None, 60),
    "ballot_apply": (ballot_apply, 300, 300),
    "checkins_weekly": (checkins_weekly, 1800, 1800),
    "needs_tick": (needs_tick, 600, 600),
    "board_tick": (board_tick, 600, 600),
    "projects_tick": (projects_tick, 600, 600),
    "opendays_tick": (opendays_tick, 600, 600),
    "requests_tick": (requests_tick, None, 60),  # the clocks climb within a minute of falling due
    "meeting_tick": (meeting_tick, 300, 300),
    "visits_tick": (visits_tick, None, 60),  # 助急 climbs within a minute of falling due
    "micro_tick": (micro_tick, 300, 300),
    "property_tick": (property_tick, 600, 600),
    "spaces_tick": (spaces_tick, 600, 600),
}

# APScheduler stores jobs by reference to module-level functions: each resolves its
# dependencies from the running Scheduler, so nothing process-wide is needed at import.
_running: dict[str, Scheduler] = {}


async def _housekeeping_job(name: str) -> None:
    sched = _running[name]
    await housekeeping(sched.db, sched.clock)


async def _retention_job(name: str) -> None:
    sched = _running[name]
    try:
        await outbox_retention(sched.db, sched.clock, sched.outbox_retention)
    except Exception:  # the next run tries again
        log.exception("outbox retention failed")


async def _tick_job(name: str, job_id: str) -> None:
    sched = _running[name]
    tick = TICKS[job_id][0]
    keys = {"ballot_key": sched.ballot_key} if job_id in KEYED else {}
    try:
        await tick(sched.db, sched.clock, sched.on_outbox, **keys)
    except Exception:  # the next run tries again; say so loudly, never let the job die silently
        log.exception("%s failed", job_id)


class Scheduler:
    def __init__(self, database_url: str, *, db: Database, clock: Clock, name: str = "main",
                 on_outbox: Callable[[], None] | None = None, tick_seconds: float = 60,
                 outbox_retention: timedelta = timedelta(days=7), ballot_key: bytes | None = None) -> None:
        self.db = db
        self.outbox_retention = outbox_retention
        self.ballot_key = ballot_key  # the ballot jobs open the voters' sealed envelopes with it
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
        self.aps.add_job(_retention_job, "interval", hours=1, id="outbox_retention", args=[self.name],
                         replace_existing=True, coalesce=True, misfire_grace_time=3600, max_instances=1)
        for job_id, (_tick, every, grace) in TICKS.items():
            # check-ins run at once on start (what fell due while the bot was down); passing
            # next_run_time=None would pause a job, so the others leave it out
            first = {"next_run_time": datetime.now(UTC)} if job_id == "checkins_tick" else {}
            self.aps.add_job(_tick_job, "interval", seconds=every or self.tick_seconds, id=job_id,
                             args=[self.name, job_id], replace_existing=True, coalesce=True,
                             misfire_grace_time=int(grace), max_instances=1, **first)

    def shutdown(self) -> None:
        if self.aps.running:
            self.aps.shutdown(wait=False)
        if _running.get(self.name) is self:  # a scheduler that took over under the same name stays
            del _running[self.name]
