"""Check-ins (早看窗帘晚看灯): the morning fan-out and the escalation scan.

1. Morning fan-out: 5,000 key persons paired with 2,000 volunteers; one tick plans the day and
   queues 5,000 prompts, the outbox sender delivers them to the stand-in with Telegram's limits
   ×10 (300/s overall). Figures: time until the last prompt is delivered, as a ratio of the
   limit-bound minimum (5,000 / 300 s); 429s; lost; duplicated.
2. Escalations: with 10,000 open prompts, the time to compute (and queue) everything that is due
   at one instant (every morning prompt needs its reminder).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from sqlalchemy import update
from sqlmodel import col, select

from benchmarks.common import (
    LINLI_TOKEN,
    LINLI_USERNAME,
    SECRET_KEY,
    Databases,
    Table,
    ms,
    progress,
    say,
    timed,
)
from benchmarks.outbox import open_private_chats, rows_by_status, wait_drained
from benchmarks.seed import tg_ids
from bot.handlers import build_notices
from bot.outbox import Limits, OutboxSender
from bot.render import NoticeRenderer
from bot.runtimes.aiogram_rt import AiogramGateway
from bot.standin.limits import RateLimits
from bot.standin.server import StandIn
from flows import checkins
from flows.clock import SystemClock
from storage.db import Database
from storage.models import Building, CheckinPrompt, Community, Grid, KeyPerson, Member, RoleGrant, User

TELEGRAM_SCALE = 10.0
LIMITS = Limits(overall=30 * TELEGRAM_SCALE, per_chat=1 * TELEGRAM_SCALE, per_group_minute=int(20 * TELEGRAM_SCALE))
TZ = "Asia/Shanghai"


@dataclass(frozen=True)
class Scale:
    persons: int
    volunteers: int
    timeout: float


FULL = Scale(persons=5_000, volunteers=2_000, timeout=300.0)
QUICK = Scale(persons=500, volunteers=200, timeout=60.0)


async def seed(db: Database, scale: Scale, morning: str) -> list[int]:
    now = datetime.now(UTC)
    before = now - timedelta(days=1)  # on the ledger before this morning's slot (else it is not planned for them)
    ids = tg_ids(scale.volunteers)
    async with db.uow(write=True) as uow:
        c = Community(slug="bench", name="北辰示范社区", timezone=TZ, created_at=now,
                      settings={"checkin": {"morning": morning, "evening": "23:59"}})
        uow.session.add(c)
        await uow.session.flush()
        grid = Grid(community_id=c.id, name="网格")
        uow.session.add(grid)
        await uow.session.flush()
        buildings = [Building(community_id=c.id, grid_id=grid.id, label=str(i + 1), sort_key=i) for i in range(20)]
        uow.session.add_all(buildings)
        users = [User(tg_id=t, first_name=f"志愿者{t % 10000}", language="zh_CN", created_at=now) for t in ids]
        uow.session.add_all(users)
        await uow.session.flush()
        members = [Member(community_id=c.id, user_id=u.id, display_name=u.first_name, consent_at=now, joined_at=now)
                   for u in users]
        uow.session.add_all(members)
        await uow.session.flush()
        uow.session.add_all([RoleGrant(community_id=c.id, member_id=m.id, role="volunteer", granted_at=now)
                             for m in members])
        for i in range(scale.persons):
            b = buildings[i % len(buildings)]
            uow.session.add(KeyPerson(
                community_id=c.id, building_id=b.id, room=f"{101 + i % 600}", alias=f"{b.label}-{i % 6 + 1}-{i} 老人",
                primary_volunteer_id=members[i % len(members)].id,
                backup_volunteer_id=members[(i + 1) % len(members)].id, created_at=before, updated_at=before))
        await uow.commit()
    return ids


async def fanout(databases: Databases, scale: Scale) -> dict[str, str]:
    url = databases.fresh("checkins-fanout")
    standin = StandIn(limits=RateLimits(scale=TELEGRAM_SCALE))
    await standin.start()
    db = Database(url)
    bot = Bot(LINLI_TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(standin.url)))
    try:
        account = standin.create_bot(LINLI_TOKEN, LINLI_USERNAME, "邻里助手")
        local = datetime.now(UTC).astimezone(ZoneInfo(TZ))
        if local.strftime("%H:%M") == "23:59":
            await asyncio.sleep(61)
            local = datetime.now(UTC).astimezone(ZoneInfo(TZ))
        ids = await seed(db, scale, local.strftime("%H:%M"))  # the morning is now
        open_private_chats(standin, account, ids)
        clock = SystemClock()
        render = NoticeRenderer(secret=SECRET_KEY.encode(), clock=clock, bot_username=LINLI_USERNAME,
                                extra=build_notices())
        sender = OutboxSender(db=db, gateway=AiogramGateway(bot), clock=clock, render=render,
                              limits=Limits(LIMITS.overall, LIMITS.per_chat, LIMITS.per_group_minute))
        stop = asyncio.Event()
        task = asyncio.create_task(sender.run(stop), name="outbox-sender")
        with timed() as elapsed:
            async with db.uow(write=True) as uow:
                res = await checkins.tick(uow, now=clock.now())
                await uow.commit()
            tick_s = elapsed()
            sender.wake()
            async with progress("check-in fan-out", lambda: f"{sender.stats.sent}/{scale.persons} sent"):
                finished = await wait_drained(db, scale.timeout)
            wall = elapsed()
        stop.set()
        sender.wake()
        await task
        per_chat: Counter[int] = Counter()
        for tg_id in ids:
            chat = standin.world.privates[(account.id, tg_id)]
            per_chat[tg_id] = sum(1 for m in chat.messages.values() if m.is_bot and m.kind != "service")
        expected: Counter[int] = Counter()
        for i in range(scale.persons):
            expected[ids[i % len(ids)]] += 1
        lost = sum(max(0, expected[t] - per_chat[t]) for t in ids)
        doubled = sum(max(0, per_chat[t] - expected[t]) for t in ids)
        rows = await rows_by_status(db)
        bound = scale.persons / LIMITS.overall
        fig = {
            "prompts queued by one tick": f"{res.sent:,} (planned {res.planned:,}) in {ms(tick_s)}",
            "drained": "yes" if finished else "NO (timed out)",
            "last prompt delivered after": f"{wall:.1f} s",
            f"ratio to {scale.persons:,} / {LIMITS.overall:g} s = {bound:.1f} s": f"{wall / bound:.2f}",
            "429s sent by the stand-in": str(standin.stats.rejected_429),
            "429s seen by the sender": str(sender.stats.retried_429),
            "rows sent / failed / dead": f"{rows['sent']} / {rows['failed']} / {rows['dead']}",
            "lost prompts": str(lost),
            "duplicated prompts": str(doubled),
        }
        fig.update(await escalation_scan(db, scale))
        return fig
    finally:
        await bot.session.close()
        await db.dispose()
        await standin.stop()


async def escalation_scan(db: Database, scale: Scale) -> dict[str, str]:
    """Open every prompt of the day (2 per person) and time the tick at the instant the reminders
    of all morning prompts fall due."""
    now = datetime.now(UTC)
    async with db.uow(write=True) as uow:
        await uow.session.execute(update(CheckinPrompt).values(status="pending", stage=0, sent_at=now,
                                                               next_action_at=now + timedelta(hours=3)))
        await uow.session.execute(update(CheckinPrompt).where(CheckinPrompt.slot == "morning")
                                  .values(next_action_at=now + timedelta(minutes=15)))
        await uow.commit()
    instant = now + timedelta(minutes=15)
    async with db.uow() as uow:
        open_n = len((await uow.session.exec(select(CheckinPrompt.id).where(CheckinPrompt.status == "pending"))).all())
        with timed() as elapsed:
            due = (await uow.session.exec(select(CheckinPrompt.id).where(
                CheckinPrompt.status == "pending", col(CheckinPrompt.stage) < 3,
                col(CheckinPrompt.next_action_at) <= instant))).all()
            find_s = elapsed()
    with timed() as elapsed:
        async with db.uow(write=True) as uow:
            res = await checkins.tick(uow, now=instant)
            await uow.commit()
        tick_s = elapsed()
    with timed() as elapsed:
        async with db.uow(write=True) as uow:
            again = await checkins.tick(uow, now=instant + timedelta(seconds=1))
            await uow.commit()
        idle_s = elapsed()
    return {
        "open prompts": f"{open_n:,}",
        "finding the due escalations (indexed query)": f"{len(due):,} in {ms(find_s)}",
        "tick that climbs them (reminders queued)": f"{res.reminded:,} in {ms(tick_s)}",
        f"the next tick (nothing due, {open_n:,} open)": f"{again.messages} messages in {ms(idle_s)}",
    }


async def run(root: Path, quick: bool) -> None:
    scale = QUICK if quick else FULL
    databases = Databases(root)
    say(f"\n== check-ins: {scale.persons:,} key persons, {scale.volunteers:,} volunteers, Telegram limits "
        f"×{TELEGRAM_SCALE:g}, {databases.backend} ==")
    started = time.monotonic()
    fig = await fanout(databases, scale)
    table = Table(f"check-ins — morning fan-out and escalation scan ({databases.backend})", ["", "value"])
    for k, v in fig.items():
        table.add(k, v)
    table.notes.append(f"total {time.monotonic() - started:.0f} s")
    table.print()
