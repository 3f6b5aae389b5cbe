"""F-11.4 (#14): "a day's bot messages per building group are counted; the demo year's ordinary day stays ≤ 3" — the
sandbox's demo community (bot/sandbox.py), an ordinary weekday passed with every scheduled job (the check-ins and
their ladder, reminders, the board), counted per building group from the outbox (flows/announce.day_counts)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlmodel import select

from bot.sandbox import DEMO_SLUG, pass_time, seed_database
from flows import announce, membership
from flows.announce import ALL, Draft
from flows.clock import FixedClock
from storage.crypto import Sealer
from storage.db import Database
from storage.models import Community, User

ADMIN = 10001  # 王书记, the demo's admin

FIRST = date(2027, 3, 1)  # a week from the 1st: the monthly board post, the weekly digest, ordinary days
DAYS = 7


async def test_item5_an_ordinary_demo_day_stays_within_three_posts_per_building_group(db: Database) -> None:
    start = datetime(2027, 2, 28, 16, 0, tzinfo=UTC)  # 00:00 on FIRST in Tianjin
    await seed_database(db, FixedClock(start), Sealer(b"test-secret-key-0123456789abcdef"))
    async with db.uow(write=True) as uow:
        await pass_time(uow, start, timedelta(days=DAYS), ballot_key=None)
        await uow.commit()
    async with db.uow() as uow:
        community = (await uow.session.exec(select(Community).where(Community.slug == DEMO_SLUG))).one()
        days = {FIRST + timedelta(days=i): await announce.day_counts(uow, community=community,
                                                                     day=FIRST + timedelta(days=i))
                for i in range(DAYS)}
    for day, counts in days.items():
        print("bot messages per building group on", day, counts)
    assert all(days.values()), "the demo has building groups"
    assert max(n for counts in days.values() for n in counts.values()) <= announce.PER_DAY, days
    # the count sees what the bot posts in a building group: the admin's announcement of that day adds one
    last = FIRST + timedelta(days=DAYS - 1)
    async with db.uow(write=True) as uow:
        admin = (await uow.session.exec(select(User).where(User.tg_id == ADMIN))).one()
        actor = await membership.load_actor(uow, admin)
        at = start + timedelta(days=DAYS - 1, hours=3)  # 11:00 on the last day
        await announce.publish(uow, actor=actor, draft=Draft(ALL, text="停水通知"), send_at=at, now=at)
        await uow.commit()
    async with db.uow() as uow:
        after = await announce.day_counts(uow, community=community, day=last)
    assert after == {k: n + 1 for k, n in days[last].items()}
