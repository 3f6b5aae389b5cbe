"""The outbox sender under Telegram's limits: 3,000 notices to 3,000 private chats.

The stand-in enforces Telegram's limits ×10 (300/s overall, 10/s per chat, 200/min per group)
and the sender is configured with the same numbers. A second run injects faults (5xx, 429 and
dropped connections before any effect, and 1 % of calls that take effect but whose answer is lost) to show
that nothing is lost, that the only duplicates are the calls whose answer was lost (the sender counts them),
and what retrying costs.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from sqlalchemy import func
from sqlmodel import col, select

from benchmarks.common import (
    LINLI_TOKEN,
    LINLI_USERNAME,
    SECRET_KEY,
    Databases,
    Table,
    ms,
    progress,
    rate,
    say,
    timed,
)
from benchmarks.seed import person_name, tg_ids
from bot.config import Settings
from bot.outbox import Limits, OutboxSender, SenderStats
from bot.render import NoticeRenderer
from bot.runtimes.aiogram_rt import AiogramGateway
from bot.standin.limits import Faults, RateLimits
from bot.standin.server import StandIn
from bot.standin.state import BotAccount
from flows import outbox
from flows.clock import SystemClock
from storage.db import Database
from storage.models import OutboxMessage

TELEGRAM_SCALE = 10.0
LIMITS = Limits(overall=30 * TELEGRAM_SCALE, per_chat=1 * TELEGRAM_SCALE, per_group_minute=int(20 * TELEGRAM_SCALE))
CONCURRENCY = int(Settings.model_fields["outbox_concurrency"].default)
FAULTS = Faults(share_5xx=0.05, share_429=0.05, share_drop=0.02, rates={"accepted_reset": 0.01}, seed=20270301)
UNFINISHED = ("pending", "sending")


@dataclass(frozen=True)
class Scale:
    messages: int
    timeout: float  # give up waiting for the sender after this many seconds


FULL = Scale(messages=3_000, timeout=120.0)
QUICK = Scale(messages=600, timeout=60.0)


@dataclass
class OutboxRun:
    label: str
    messages: int
    queued_in: float  # seconds to insert the rows in one transaction
    wall: float  # seconds from the sender's start until no row was pending or sending
    finished: bool
    sender: SenderStats
    standin_429: int
    faults_injected: int
    accepted_then_failed: int  # calls the stand-in took whose answer it then cut off
    rows: Counter[str]  # outbox rows by status
    messages_per_chat: Counter[int]  # bot messages in each private chat's transcript

    @property
    def lost_rows(self) -> int:
        return self.messages - self.rows["sent"]

    @property
    def missing_chats(self) -> int:
        return sum(1 for n in self.messages_per_chat.values() if n == 0)

    @property
    def doubled_chats(self) -> int:
        return sum(1 for n in self.messages_per_chat.values() if n > 1)


def open_private_chats(standin: StandIn, bot: BotAccount, ids: list[int]) -> None:
    """People who have started the bot, so it may write to them."""
    for tg_id in ids:
        user = standin.create_user(person_name(tg_id), id=tg_id)
        standin.world.private_chat(bot, user, create=True)


async def queue_notices(db: Database, ids: list[int]) -> float:
    """One transaction with a "role_granted" notice per person; seconds it took."""
    now = SystemClock().now()
    with timed() as elapsed:
        async with db.uow() as uow:
            for tg_id in ids:
                outbox.notify(uow, tg_chat_id=tg_id, notice="role_granted", lang="zh_CN", now=now,
                              role="volunteer", community="北辰示范社区")
            await uow.commit()
        return elapsed()


async def rows_by_status(db: Database) -> Counter[str]:
    async with db.uow() as uow:
        rows = (await uow.session.exec(
            select(OutboxMessage.status, func.count()).group_by(col(OutboxMessage.status)))).all()
    return Counter(dict(rows))


async def wait_drained(db: Database, timeout: float) -> bool:
    """Until no row is pending or sending (checked every 50 ms); False on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        statuses = await rows_by_status(db)
        if not any(statuses[s] for s in UNFINISHED):
            return True
        await asyncio.sleep(0.05)
    return False


def transcript_counts(standin: StandIn, bot: BotAccount, ids: list[int]) -> Counter[int]:
    counts: Counter[int] = Counter()
    for tg_id in ids:
        chat = standin.world.privates[(bot.id, tg_id)]
        counts[tg_id] = sum(1 for m in chat.messages.values() if m.is_bot and m.kind != "service")
    return counts


async def drain(db: Database, standin: StandIn, scale: Scale, label: str) -> tuple[OutboxSender, float, bool]:
    """Run an OutboxSender until the outbox is drained; (sender, wall seconds, finished)."""
    bot = Bot(LINLI_TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(standin.url)))
    render = NoticeRenderer(secret=SECRET_KEY.encode(), clock=SystemClock(), bot_username=LINLI_USERNAME)
    sender = OutboxSender(db=db, gateway=AiogramGateway(bot), clock=SystemClock(), render=render,
                          limits=Limits(LIMITS.overall, LIMITS.per_chat, LIMITS.per_group_minute),
                          concurrency=CONCURRENCY)
    stop = asyncio.Event()
    try:
        with timed() as elapsed:
            task = asyncio.create_task(sender.run(stop), name="outbox-sender")
            async with progress(label, lambda: f"{sender.stats.sent}/{scale.messages} sent"):
                finished = await wait_drained(db, scale.timeout)
            wall = elapsed()
        stop.set()
        sender.wake()
        await task
    finally:
        await bot.session.close()
    return sender, wall, finished


async def run_once(label: str, databases: Databases, scale: Scale, faults: Faults | None) -> OutboxRun:
    database_url = databases.fresh("outbox-" + label.replace(" ", "-"))
    standin = StandIn(limits=RateLimits(scale=TELEGRAM_SCALE), faults=faults)
    await standin.start()
    db = Database(database_url)
    try:
        account = standin.create_bot(LINLI_TOKEN, LINLI_USERNAME, "邻里助手")
        ids = tg_ids(scale.messages)
        open_private_chats(standin, account, ids)
        queued_in = await queue_notices(db, ids)
        sender, wall, finished = await drain(db, standin, scale, f"outbox {label}")
        return OutboxRun(
            label=label, messages=scale.messages, queued_in=queued_in, wall=wall, finished=finished,
            sender=sender.stats, standin_429=standin.stats.rejected_429,
            faults_injected=standin.stats.faults_injected,
            accepted_then_failed=standin.stats.accepted_then_failed, rows=await rows_by_status(db),
            messages_per_chat=transcript_counts(standin, account, ids),
        )
    finally:
        await db.dispose()
        await standin.stop()


async def run(root: Path, quick: bool) -> None:
    scale = QUICK if quick else FULL
    databases = Databases(root)
    say(f"\n== outbox: {scale.messages:,} notices to {scale.messages:,} private chats, Telegram limits "
        f"×{TELEGRAM_SCALE:g} ({LIMITS.overall:g}/s overall), {databases.backend} ==")
    clean = await run_once("no faults", databases, scale, None)
    faulty = await run_once("with faults", databases, scale, FAULTS)
    report([clean, faulty], databases.backend)


def report(runs: list[OutboxRun], backend: str) -> None:
    table = Table(
        f"outbox — sender with Limits(overall={LIMITS.overall:g}, per_chat={LIMITS.per_chat:g}, "
        f"per_group_minute={LIMITS.per_group_minute}), concurrency {CONCURRENCY}, {backend}",
        ["", *(r.label for r in runs)],
    )
    rows: list[tuple[str, list[str]]] = [
        ("rows queued (one transaction)", [f"{r.messages:,} in {ms(r.queued_in)}" for r in runs]),
        ("drained", ["yes" if r.finished else "NO (timed out)" for r in runs]),
        ("wall time", [f"{r.wall:.2f} s" for r in runs]),
        ("achieved rate", [rate(r.rows['sent'] / r.wall) for r in runs]),
        (f"share of {LIMITS.overall:g}/s", [f"{r.rows['sent'] / r.wall / LIMITS.overall:.0%}" for r in runs]),
        ("faults injected by the stand-in", [str(r.faults_injected) for r in runs]),
        ("429s sent by the stand-in", [str(r.standin_429) for r in runs]),
        ("429s seen by the sender", [str(r.sender.retried_429) for r in runs]),
        ("other retries (5xx, network)", [str(r.sender.retried_other) for r in runs]),
        ("rows sent / failed / dead", [f"{r.rows['sent']} / {r.rows['failed']} / {r.rows['dead']}" for r in runs]),
        ("lost: rows not sent", [str(r.lost_rows) for r in runs]),
        ("lost: chats without the message", [str(r.missing_chats) for r in runs]),
        ("duplicated: chats with >1 message", [str(r.doubled_chats) for r in runs]),
        ("  taken, answer lost (stand-in)", [str(r.accepted_then_failed) for r in runs]),
        ("  re-sent after a lost answer (sender)", [str(r.sender.maybe_duplicated) for r in runs]),
    ]
    for name, cells in rows:
        table.add(name, *cells)
    table.notes.append("faults: 5% 5xx, 5% 429 (retry after 1 s), 2% dropped connections, before any effect; "
                       "1% reset after the call took effect")
    table.print()
