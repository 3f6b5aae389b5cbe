"""The needs list's reminders to the groups while a collection is open (F-1.5): weekly, and a last call
before the closing day, in the community's local time (`remind`, called by the scheduler through
flows.needs.remind)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import func
from sqlmodel import col, select

from flows import outbox
from flows.clock import local
from flows.needs import is_open, local_year
from flows.notices import Notice
from storage.db import UnitOfWork
from storage.models import Chat, Community, Need, NeedPeriod, OutboxMessage

#: Reminders to the groups while the collection is open (F-1.5), in the community's local time.
REMIND_AT = time(10, 0)
REMIND_UNTIL = time(20, 0)
FIRST_REMINDER = timedelta(days=7)  # the "needs_open" notice has just gone out before that
LAST_CALL = timedelta(days=2)  # before the closing day
LAST_CALL_NOT_BEFORE = timedelta(days=3)  # after opening


@dataclass(frozen=True)
class NeedsReminder(Notice, kind="needs_remind"):
    """To every linked group: the collection is still open (`count` needs so far); `last`: the last call."""

    year: int
    community: str
    count: int
    last: bool
    closes_on: str | None


def _reminder_due(period: NeedPeriod, community: Community, now: datetime) -> str | None:
    """Which reminder the groups are due now: "last" (the last call, from 2 days before the closing
    day), "week" (7 days after opening, then each week on the weekday of opening or, if missed, later
    that week), or none. Only between REMIND_AT and REMIND_UNTIL, local time."""
    here = local(now, community.timezone)
    if not (REMIND_AT <= here.time() < REMIND_UNTIL):
        return None
    opened = local(period.opened_at, community.timezone).date()
    if period.closes_at is not None:
        closing = local(period.closes_at, community.timezone).date()
        if here.date() >= closing - LAST_CALL:
            return "last" if here.date() >= opened + LAST_CALL_NOT_BEFORE else None
    if here.date() >= opened + FIRST_REMINDER and here.weekday() >= opened.weekday():
        return "week"
    return None


async def remind(uow: UnitOfWork, *, now: datetime) -> int:
    """Queue the "needs_remind" notice to every linked group of each community whose collection is
    open — weekly, and a last call before the closing day; at most once per chat and ISO week (the
    last call once per closing date). Idempotent: the scheduler calls it often. Returns the count."""
    rows = (await uow.session.exec(select(NeedPeriod, Community)
                                   .join(Community, col(Community.id) == col(NeedPeriod.community_id))
                                   .where(col(NeedPeriod.closed_at).is_(None)))).all()
    queued = 0
    for period, community in rows:
        if not is_open(period, now) or period.year != local_year(community, now):
            continue
        kind = _reminder_due(period, community, now)
        if kind is None:
            continue
        closes_on = local(period.closes_at, community.timezone).date() if period.closes_at else None
        if kind == "last":
            tag = f"last{closes_on}"
        else:
            iso = local(now, community.timezone).isocalendar()
            tag = f"{iso.year}W{iso.week:02d}"
        chats = (await uow.session.exec(select(Chat.tg_chat_id).where(
            Chat.community_id == community.id, col(Chat.purpose).is_not(None),
            col(Chat.bot_status).in_(("member", "administrator"))))).all()
        keys = {chat: f"needs_remind:{period.id}:{tag}:{chat}" for chat in chats}
        if not keys:
            continue
        seen = set((await uow.session.exec(select(OutboxMessage.dedupe_key).where(
            col(OutboxMessage.dedupe_key).in_(list(keys.values()))))).all())
        if len(seen) == len(keys):
            continue
        count = (await uow.session.exec(select(func.count()).select_from(Need).where(
            Need.community_id == community.id, Need.year == period.year))).one()
        for chat, key in keys.items():
            if key in seen:
                continue
            outbox.notify(uow, tg_chat_id=chat, lang=community.locale, now=now, community_id=community.id,
                          dedupe_key=key, notice=NeedsReminder(
                              year=period.year, community=community.name, count=int(count), last=kind == "last",
                              closes_on=closes_on.isoformat() if closes_on else None))
            queued += 1
    return queued
