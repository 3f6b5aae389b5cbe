"""The outbox sender under Telegram's limits.

Throughput: 5,000 notices to 5,000 private chats (600 with --quick) against the stand-in enforcing Telegram's
real limits (30/s overall, 1/s per chat, 20/min per group), the sender configured as in production. Printed:
rows sent, seconds from the sender's start until the outbox was drained, the rate, its share of 30/s, and the
stand-in's 429s per thousand calls. The target (issue #11) is ≥ 0.95 × 30/s with ≤ 1 ‰ 429s.

Faults: 3,000 notices (600) with the limits ×10 (to keep the run short) while the stand-in injects faults
(5xx, 429 and dropped connections before any effect, and 1 % of calls that take effect but whose answer is
lost), to show that nothing is lost, that the only duplicates are the calls whose answer was lost (the sender
counts them), and what retrying costs.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
from bot.core.types import OutMessage
from bot.outbox import Limits, OutboxSender, SenderStats
from bot.render import NoticeRenderer
from bot.runtimes.aiogram_rt import AiogramGateway
from bot.standin.limits import Faults, RateLimits
from bot.standin.server import StandIn
from bot.standin.state import BotAccount
from flows import outbox
from flows.clock import SystemClock
from flows.roles import RoleGranted
from storage.db import Database
from storage.models import OutboxMessage

#: The faults run scales Telegram's limits ×10 to stay short; the throughput run uses them as they are.
FAULTS_SCALE = 10.0
TELEGRAM = Limits()
CONCURRENCY = int(Settings.model_fields["outbox_concurrency"].default)
FAULTS = Faults(share_5xx=0.05, share_429=0.05, share_drop=0.02, rates={"accepted_reset": 0.01}, seed=20270301)
UNFINISHED = ("pending", "sending")
#: Issue #11's target for the throughput run.
TARGET_SHARE, TARGET_429_PER_MILLE = 0.95, 1.0


@dataclass(frozen=True)
class Scale:
    messages: int
    timeout: float  # give up waiting for the sender after this many seconds
    scale: float  # Telegram's limits × this, in the stand-in and the sender

    @property
    def limits(self) -> Limits:
        return Limits(overall=TELEGRAM.overall * self.scale, per_chat=TELEGRAM.per_chat * self.scale,
                      per_group_minute=int(TELEGRAM.per_group_minute * self.scale))


THROUGHPUT, THROUGHPUT_QUICK = Scale(5_000, 400.0, 1.0), Scale(600, 90.0, 1.0)
FAULTY, FAULTY_QUICK = Scale(3_000, 120.0, FAULTS_SCALE), Scale(600, 60.0, FAULTS_SCALE)


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
    limits: Limits
    span: float  # seconds from the first message Telegram took to the last

    @property
    def sent_per_second(self) -> float:
        return self.rows["sent"] / self.wall if self.wall > 0 else 0.0

    @property
    def share(self) -> float:
        return self.sent_per_second / self.limits.overall

    @property
    def per_mille_429(self) -> float:
        return 1000 * self.standin_429 / max(1, self.rows["sent"])

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
    """One transaction with a "role granted" notice per person; seconds it took."""
    now = SystemClock().now()
    with timed() as elapsed:
        async with db.uow() as uow:
            for tg_id in ids:
                outbox.notify(uow, tg_chat_id=tg_id, lang="zh_CN", now=now,
                              notice=RoleGranted(role="volunteer", community="北辰示范社区"))
            await uow.commit()
        return elapsed()


class TimedGateway:
    """The runtime's gateway, noting when each send Telegram took came back (first and last)."""

    def __init__(self, inner: AiogramGateway) -> None:
        self.inner = inner
        self.first = self.last = 0.0

    async def send(self, chat_id: int, message: OutMessage, reply_to: int | None = None) -> int:
        message_id = await self.inner.send(chat_id, message, reply_to)
        self.last = time.perf_counter()
        self.first = self.first or self.last
        return message_id

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def rows_by_status(db: Database) -> Counter[str]:
    async with db.uow() as uow:
        rows = (await uow.session.exec(
            select(OutboxMessage.status, func.count()).group_by(col(OutboxMessage.status)))).all()
    return Counter(dict(rows))


async def wait_drained(db: Database, timeout: float, done: Callable[[], bool] | None = None) -> bool:
    """Until no row is pending or sending (checked every 50 ms); False on timeout. `done`: a cheap check in memory
    (the sender's counts) that must pass before the database is asked, so that the measuring does not take the
    CPU the sender needs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done is None or done():
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


def settled(sender: OutboxSender) -> int:
    """Rows the sender is done with, by its own counts."""
    return sender.stats.sent + sender.stats.failed + sender.stats.dead


async def drain(db: Database, standin: StandIn, scale: Scale, label: str) -> tuple[OutboxSender, float, float, bool]:
    """Run an OutboxSender until the outbox is drained; (sender, wall seconds, send span, finished)."""
    bot = Bot(LINLI_TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(standin.url)))
    render = NoticeRenderer(secret=SECRET_KEY.encode(), clock=SystemClock(), bot_username=LINLI_USERNAME)
    gateway = TimedGateway(AiogramGateway(bot))
    sender = OutboxSender(db=db, gateway=gateway, clock=SystemClock(), render=render,  # type: ignore[arg-type]
                          limits=scale.limits, concurrency=CONCURRENCY)
    stop = asyncio.Event()
    try:
        with timed() as elapsed:
            task = asyncio.create_task(sender.run(stop), name="outbox-sender")
            async with progress(label, lambda: f"{sender.stats.sent}/{scale.messages} sent"):
                finished = await wait_drained(db, scale.timeout, done=lambda: settled(sender) >= scale.messages)
            wall = elapsed()
        stop.set()
        sender.wake()
        await task
    finally:
        await bot.session.close()
    return sender, wall, gateway.last - gateway.first, finished


async def run_once(label: str, databases: Databases, scale: Scale, faults: Faults | None) -> OutboxRun:
    database_url = databases.fresh("outbox-" + label.replace(" ", "-"))
    standin = StandIn(limits=RateLimits(scale=scale.scale), faults=faults)
    await standin.start()
    db = Database(database_url)
    try:
        account = standin.create_bot(LINLI_TOKEN, LINLI_USERNAME, "邻里助手")
        ids = tg_ids(scale.messages)
        open_private_chats(standin, account, ids)
        queued_in = await queue_notices(db, ids)
        sender, wall, span, finished = await drain(db, standin, scale, f"outbox {label}")
        return OutboxRun(
            label=label, messages=scale.messages, queued_in=queued_in, wall=wall, finished=finished,
            sender=sender.stats, standin_429=standin.stats.rejected_429,
            faults_injected=standin.stats.faults_injected,
            accepted_then_failed=standin.stats.accepted_then_failed, rows=await rows_by_status(db),
            messages_per_chat=transcript_counts(standin, account, ids), limits=scale.limits, span=span,
        )
    finally:
        await db.dispose()
        await standin.stop()


async def run(root: Path, quick: bool) -> None:
    databases = Databases(root)
    steady = THROUGHPUT_QUICK if quick else THROUGHPUT
    say(f"\n== outbox: {steady.messages:,} notices to {steady.messages:,} private chats at Telegram's limits "
        f"({TELEGRAM.overall:g}/s overall, {TELEGRAM.per_chat:g}/s per chat, {TELEGRAM.per_group_minute}/min per "
        f"group), {databases.backend} ==")
    report_throughput(await run_once("Telegram's limits", databases, steady, None), databases.backend)
    faulty = FAULTY_QUICK if quick else FAULTY
    say(f"\n== outbox with faults: {faulty.messages:,} notices, Telegram's limits ×{faulty.scale:g}, "
        f"{databases.backend} ==")
    report_faults(await run_once("with faults", databases, faulty, FAULTS), databases.backend)


def report_throughput(r: OutboxRun, backend: str) -> None:
    table = Table(f"outbox throughput — the sender with Limits() (30/s, 1/s per chat, 20/min per group), "
                  f"concurrency {CONCURRENCY}, against the stand-in's Telegram limits, {backend}", ["", "measured"])
    table.add("sent", f"{r.rows['sent']:,} of {r.messages:,}" + ("" if r.finished else " (timed out)"))
    table.add("seconds (sender start → outbox drained)", f"{r.wall:.2f} s")
    table.add("rate", f"{r.sent_per_second:.2f}/s")
    table.add(f"rate / {r.limits.overall:g}", f"{r.share:.3f}")
    table.add("429s per thousand", f"{r.per_mille_429:.2f} ‰ ({r.standin_429})")
    table.add("  first to last message Telegram took", f"{r.span:.2f} s "
              f"({(r.rows['sent'] - 1) / r.span if r.span > 0 else 0:.2f}/s)")
    table.add("  rows queued (one transaction)", ms(r.queued_in))
    table.add("  lost / duplicated chats", f"{r.missing_chats} / {r.doubled_chats}")
    met = r.finished and r.share >= TARGET_SHARE and r.per_mille_429 <= TARGET_429_PER_MILLE
    table.notes.append(f"target (#11): rate / 30 ≥ {TARGET_SHARE} with ≤ {TARGET_429_PER_MILLE:g} ‰ 429s — "
                       + ("met" if met else "NOT met"))
    table.print()


def report_faults(r: OutboxRun, backend: str) -> None:
    table = Table(
        f"outbox with faults — sender with Limits(overall={r.limits.overall:g}, per_chat={r.limits.per_chat:g}, "
        f"per_group_minute={r.limits.per_group_minute}), concurrency {CONCURRENCY}, {backend}", ["", r.label])
    rows: list[tuple[str, str]] = [
        ("rows queued (one transaction)", f"{r.messages:,} in {ms(r.queued_in)}"),
        ("drained", "yes" if r.finished else "NO (timed out)"),
        ("wall time", f"{r.wall:.2f} s"),
        ("achieved rate", rate(r.sent_per_second)),
        (f"share of {r.limits.overall:g}/s", f"{r.share:.0%}"),
        ("faults injected by the stand-in", str(r.faults_injected)),
        ("429s sent by the stand-in", str(r.standin_429)),
        ("429s seen by the sender", str(r.sender.retried_429)),
        ("other retries (5xx, network)", str(r.sender.retried_other)),
        ("rows sent / failed / dead", f"{r.rows['sent']} / {r.rows['failed']} / {r.rows['dead']}"),
        ("lost: rows not sent", str(r.lost_rows)),
        ("lost: chats without the message", str(r.missing_chats)),
        ("duplicated: chats with >1 message", str(r.doubled_chats)),
        ("  taken, answer lost (stand-in)", str(r.accepted_then_failed)),
        ("  re-sent after a lost answer (sender)", str(r.sender.maybe_duplicated)),
    ]
    for name, cell in rows:
        table.add(name, cell)
    table.notes.append("faults: 5% 5xx, 5% 429 (retry after 1 s), 2% dropped connections, before any effect; "
                       "1% reset after the call took effect")
    table.print()
