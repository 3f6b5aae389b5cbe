"""The projects board for a district (100 communities × 10 projects).

1. Colours: every project's colour at once (flows.board.district_colours: a fixed number of queries),
   against the naive way (one community's board after another, and one project after another).
2. Pictures: drawing one board picture (PNG, 1080 px wide, ten rows), and one before/after comparison
   (bot/pictures/compare.py) from two 1600×1200 photos.
3. The monthly post: the board (text, pinned the first time, and picture) queued for 400 groups in one
   transaction and delivered by the outbox sender to the stand-in with Telegram's limits ×10 (300/s
   overall, 200/min per group). Figures: completion time as a ratio of the limit-bound minimum (the
   messages / 300 per second), 429s, lost, duplicated; then the second month, which edits the pinned
   messages in place.
"""

from __future__ import annotations

import asyncio
import io
import socket
import statistics
import sys
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from PIL import Image
from sqlalchemy import event
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
from benchmarks.outbox import rows_by_status, wait_drained
from bot.handlers import build_notices
from bot.handlers.board import picture_file, picture_labels
from bot.outbox import Limits, OutboxSender
from bot.pictures import board as board_picture
from bot.render import NoticeRenderer
from bot.runtimes.aiogram_rt import AiogramGateway
from bot.standin.client import StandInClient
from flows import board
from flows.clock import SystemClock
from storage.db import Database
from storage.models import (
    Chat,
    Community,
    Member,
    OutboxMessage,
    Project,
    ProjectMilestone,
    ProjectPhoto,
    ProjectReport,
    User,
)

TELEGRAM_SCALE = 10.0
LIMITS = Limits(overall=30 * TELEGRAM_SCALE, per_chat=1 * TELEGRAM_SCALE, per_group_minute=int(20 * TELEGRAM_SCALE))
YEAR = 2027
TITLES = ("楼道灯改造", "口袋公园", "老年食堂", "停车位划线", "加装电梯", "雨污分流", "健身器材", "充电桩",
          "垃圾分类亭", "外墙保温")


@dataclass(frozen=True)
class Scale:
    communities: int
    projects: int
    groups: int
    rounds: int  # repetitions of each timing (the median is shown)
    timeout: float


FULL = Scale(communities=100, projects=10, groups=400, rounds=5, timeout=120.0)
QUICK = Scale(communities=20, projects=10, groups=80, rounds=3, timeout=60.0)


def median_time(fn: Callable[[], Any], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        with timed() as elapsed:
            fn()
        times.append(elapsed())
    return statistics.median(times)


async def amedian_time(fn: Callable[[], Awaitable[Any]], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        with timed() as elapsed:
            await fn()
        times.append(elapsed())
    return statistics.median(times)


# ---------------------------------------------------------------------- seeding


async def seed(db: Database, scale: Scale, now: datetime, groups_per_community: int = 0, year: int = YEAR
               ) -> list[int]:
    """Communities with their projects (milestones, reports, photos; every fifth red, every seventh done),
    an owner each, and `groups_per_community` linked groups (the bot an administrator). Community ids."""
    made = now - timedelta(days=60)
    ids = []
    async with db.uow() as uow:
        for c in range(scale.communities):
            community = Community(slug=f"bench-{c}", name=f"北辰第{c + 1}社区", created_at=made)
            uow.session.add(community)
            await uow.session.flush()
            cid = community.id or 0
            ids.append(cid)
            user = User(tg_id=9_000_000 + c, first_name=f"负责人{c}", created_at=made)
            uow.session.add(user)
            await uow.session.flush()
            owner = Member(community_id=cid, user_id=user.id or 0, display_name=f"王{c}", consent_at=made,
                           joined_at=made)
            uow.session.add(owner)
            await uow.session.flush()
            for g in range(groups_per_community):
                tg = -1_009_000_000_000 - c * 100 - g
                uow.session.add(Chat(tg_chat_id=tg, type="supergroup", title=f"{c}-{g}", community_id=cid,
                                     purpose="community" if g == 0 else "building", bot_status="administrator",
                                     created_at=made))
            for n in range(1, scale.projects + 1):
                p = Project(community_id=cid, year=year, number=n, title=TITLES[(n - 1) % len(TITLES)],
                            category="facility", created_at=made, owner_member_id=owner.id, percent=n * 9,
                            last_report_at=now - timedelta(days=n * 4), deadline=date(year, 12, 31),
                            completed_at=now - timedelta(days=1) if n % 7 == 0 else None)
                uow.session.add(p)
                await uow.session.flush()
                pid = p.id or 0
                for k in range(3):
                    due = (now + timedelta(days=30 * k - (20 if n % 5 == 0 else -5))).date()
                    uow.session.add(ProjectMilestone(project_id=pid, position=k + 1, title=f"节点{k + 1}", due_on=due,
                                                     done_on=due if k == 0 and n % 5 else None))
                for k in range(4):
                    uow.session.add(ProjectReport(project_id=pid, member_id=owner.id or 0, percent=n * 2 * k,
                                                  note="进展", created_at=now - timedelta(days=n * 4 + 10 * k)))
                if n % 7 == 0:
                    uow.session.add(ProjectPhoto(project_id=pid, kind="after", file_id=f"a{pid}",
                                                 file_unique_id=f"a{pid}", member_id=owner.id or 0, created_at=now))
        await uow.commit()
    return ids


# ---------------------------------------------------------------------- 1. colours


@dataclass
class Colours:
    projects: int
    queries: int
    batched: float
    per_community: float
    per_project: float
    counts: Counter[str]


async def colours(databases: Databases, scale: Scale) -> Colours:
    url = databases.fresh("board-colours")
    db = Database(url)
    now = SystemClock().now().replace(year=YEAR, month=6, day=15)
    try:
        await seed(db, scale, now)
        statements: list[str] = []

        def count(*args: Any) -> None:
            statements.append(args[2])

        async def batched() -> dict[int, Any]:
            async with db.uow() as uow:
                return await board.district_colours(uow, year=YEAR, now=now)

        event.listen(db.engine.sync_engine, "before_cursor_execute", count)
        result = await batched()
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
        t_batched = await amedian_time(batched, scale.rounds)

        async def per_community() -> None:
            async with db.uow() as uow:
                for c in (await uow.session.exec(select(Community))).all():
                    await board.board(uow, community=c, now=now, year=YEAR)

        async def per_project() -> None:
            async with db.uow() as uow:
                (await uow.session.exec(select(Community))).all()  # in the session, as on a board
                for p in (await uow.session.exec(select(Project).where(Project.year == YEAR))).all():
                    await board.verdicts(uow, [p], now=now)

        t_community = await amedian_time(per_community, max(1, scale.rounds // 2))
        t_project = await amedian_time(per_project, 1)
        return Colours(projects=len(result), queries=len(statements), batched=t_batched, per_community=t_community,
                       per_project=t_project, counts=Counter(v.colour.value for v in result.values()))
    finally:
        await db.dispose()


# ---------------------------------------------------------------------- 2. pictures


def _photo(colour: tuple[int, int, int]) -> bytes:
    img = Image.new("RGB", (1600, 1200), colour)
    for x in range(0, 1600, 40):  # some detail, so the JPEG is not trivially small
        img.paste((x % 255, 90, 200 - x % 200), (x, 0, x + 20, 1200))
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=85)
    return out.getvalue()


@dataclass
class Pictures:
    board_time: float
    board_bytes: int
    board_size: tuple[int, int]
    compare_time: float | None
    compare_bytes: int | None


def pictures(rounds: int) -> Pictures:
    rows = [{"id": n, "number": n, "title": TITLES[n - 1], "colour": ("yellow", "red", "green")[n % 3],
             "reasons": [], "percent": n * 9, "owner": "王书记", "next_title": "施工", "next_due": "2027-07-01",
             "completed": n % 3 == 2, "likes": 12, "rating": 4.6, "raters": 9, "override_reason": None,
             "overdue": 0} for n in range(1, 11)]
    labels = picture_labels("zh_CN", {"community": "北辰示范社区", "year": YEAR, "month": "2027-06", "rows": rows})
    data = board_picture.png(rows, labels)  # warm the font cache
    t_board = median_time(lambda: board_picture.png(rows, labels), rounds)
    size = Image.open(io.BytesIO(data)).size
    try:
        from bot.pictures import compare
    except ImportError:
        return Pictures(t_board, len(data), size, None, None)
    before, after = compare.Panel(_photo((120, 110, 100)), "整改前", "2027-03-02"), compare.Panel(
        _photo((90, 160, 90)), "整改后", "2027-06-10")
    composed = compare.compose(before, after, title="3. 口袋公园", subtitle="北辰示范社区")
    t_compare = median_time(lambda: compare.compose(before, after, title="3. 口袋公园", subtitle="北辰示范社区"),
                            rounds)
    return Pictures(t_board, len(data), size, t_compare, len(composed))


# ---------------------------------------------------------------------- 3. the monthly post


@dataclass
class PostRun:
    label: str
    groups: int
    messages: int
    queued_in: float
    drawn_in: float
    pictures: int
    wall: float
    finished: bool
    retried_429: int
    standin_429: int
    rows: Counter[str]
    per_chat: Counter[int]  # live bot messages per group (text + picture)
    edited: int  # groups whose board message was edited in place (second month)
    pinned: int

    @property
    def minimum(self) -> float:
        return self.messages / LIMITS.overall


async def _drain(db: Database, api_url: str, timeout: float, label: str, total: int
                 ) -> tuple[OutboxSender, float, bool]:
    bot = Bot(LINLI_TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(api_url)))
    render = NoticeRenderer(secret=SECRET_KEY.encode(), clock=SystemClock(), bot_username=LINLI_USERNAME,
                            extra=build_notices())
    sender = OutboxSender(db=db, gateway=AiogramGateway(bot), clock=SystemClock(), render=render,
                          limits=Limits(LIMITS.overall, LIMITS.per_chat, LIMITS.per_group_minute))
    stop = asyncio.Event()
    try:
        with timed() as elapsed:
            task = asyncio.create_task(sender.run(stop), name="outbox-sender")
            async with progress(label, lambda: f"{sender.stats.sent}/{total} sent"):
                finished = await wait_drained(db, timeout)
            wall = elapsed()
        stop.set()
        sender.wake()
        await task
    finally:
        await bot.session.close()
    return sender, wall, finished


@asynccontextmanager
async def standin_process() -> AsyncIterator[str]:
    """The stand-in in its own process (limits ×10): it decodes and thumbnails every uploaded picture, work
    Telegram does on its own machines — here it must not take the sender's CPU. Yields its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.standin", "--port", str(port), "--token", LINLI_TOKEN, "--username",
        LINLI_USERNAME, "--scale", f"{TELEGRAM_SCALE:g}", stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        if "listening on" not in line:
            raise RuntimeError(f"the stand-in did not start: {line!r}")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        await proc.wait()


async def monthly_post(databases: Databases, scale: Scale) -> list[PostRun]:
    url = databases.fresh("board-post")
    db = Database(url)
    per_community = max(1, scale.groups // scale.communities)
    runs = []
    try:
        async with standin_process() as api_url, StandInClient(api_url) as client:
            now = SystemClock().now()
            ids = await seed(db, scale, now, groups_per_community=per_community,
                             year=board.local(now, "Asia/Shanghai").year)
            async with db.uow() as uow:
                chats = [c.tg_chat_id for c in (await uow.session.exec(select(Chat))).all()]
            admin = 8_000_001
            await client.create_user("管理员", id=admin)
            for tg in chats:
                await client.create_chat(f"群{tg}", member_ids=[admin], id=tg, admin_ids=[admin], owner_id=admin)
                await client.set_bot_membership(tg, "administrator", by_user_id=admin)
            for label in ("first month", "second month"):
                before = await client.cursor()
                drawings: list[tuple[str, dict[str, Any]]] = []
                with timed() as elapsed:
                    async with db.uow() as uow:
                        queued = 0
                        for c in (await uow.session.exec(select(Community).where(col(Community.id).in_(ids)))).all():
                            queued += await board.post_board(uow, community=c, now=SystemClock().now(),
                                                             pictures=drawings)
                        await uow.commit()
                    queued_in = elapsed()
                with timed() as elapsed:  # what the scheduler's job does next: draw the pictures in threads
                    await asyncio.gather(*(asyncio.to_thread(picture_file, lang, params) for lang, params in drawings))
                    drawn_in = elapsed()
                sender, wall, finished = await _drain(db, api_url, scale.timeout, f"board {label}", queued)
                changed = [m for m in (await client.transcript(None, before))["messages"]
                           if m["is_bot"] and m["chat_id"] in set(chats)]
                per_chat: Counter[int] = Counter()
                for m in (await client.transcript(None, 0))["messages"]:
                    if m["is_bot"] and m["kind"] != "service" and not m["deleted"] and m["chat_id"] < 0:
                        per_chat[m["chat_id"]] += 1
                runs.append(PostRun(
                    label=label, groups=len(chats), messages=queued, queued_in=queued_in, drawn_in=drawn_in,
                    pictures=len(drawings), wall=wall, finished=finished, retried_429=sender.stats.retried_429,
                    standin_429=int((await client.stats()).get("rejected_429", 0)), rows=await rows_by_status(db),
                    per_chat=per_chat, edited=sum(1 for m in changed if m["kind"] == "edit"),
                    pinned=len({m["chat_id"] for m in changed if m["kind"] == "service"})))
                await _next_month(db)
    finally:
        await db.dispose()
    return runs


async def _next_month(db: Database) -> None:
    """A month passes: every project reports 5 % more, and this month's outbox rows lose their dedupe keys,
    so the board can be posted again without moving the system clock the sender runs on."""
    async with db.uow() as uow:
        for p in (await uow.session.exec(select(Project))).all():
            p.percent = min(100, p.percent + 5)
            uow.session.add(p)
        for row in (await uow.session.exec(select(OutboxMessage))).all():
            if row.dedupe_key and not row.dedupe_key.endswith(":old"):
                row.dedupe_key = f"{row.dedupe_key}:{row.id}:old"[:120]
                uow.session.add(row)
        await uow.commit()


# ---------------------------------------------------------------------- report


async def run(root: Path, quick: bool) -> None:
    scale = QUICK if quick else FULL
    databases = Databases(root)
    n = scale.communities * scale.projects
    say(f"\n== board: {scale.communities} communities × {scale.projects} projects ({n:,}), {databases.backend} ==")
    col_result = await colours(databases, scale)
    table = Table(f"board — colours of {n:,} projects, {databases.backend}", ["", "time", "per project"])
    table.add(f"all at once ({col_result.queries} queries)", ms(col_result.batched),
              f"{col_result.batched / n * 1e6:.0f} µs")
    table.add(f"board by board ({scale.communities} × 5 queries)", ms(col_result.per_community),
              f"{col_result.per_community / n * 1e6:.0f} µs")
    table.add(f"project by project ({n:,} × 2 queries)", ms(col_result.per_project),
              f"{col_result.per_project / n * 1e6:.0f} µs")
    table.notes.append("colours: " + ", ".join(f"{k} {v}" for k, v in sorted(col_result.counts.items())))
    table.print()

    pics = pictures(scale.rounds)
    table = Table(f"board — pictures (median of {scale.rounds})", ["", "time", "size"])
    table.add(f"board picture {pics.board_size[0]}×{pics.board_size[1]} PNG, 10 rows", ms(pics.board_time),
              f"{pics.board_bytes / 1024:.0f} KiB")
    if pics.compare_time is not None and pics.compare_bytes is not None:
        table.add("before/after picture, two 1600×1200 photos", ms(pics.compare_time),
                  f"{pics.compare_bytes / 1024:.0f} KiB")
    else:
        table.add("before/after picture", "n/a", "(bot/pictures/compare.py missing)")
    table.print()

    runs = await monthly_post(databases, scale)
    table = Table(f"board — the monthly post to {runs[0].groups} groups through the outbox, Telegram limits "
                  f"×{TELEGRAM_SCALE:g} ({LIMITS.overall:g}/s overall, {LIMITS.per_group_minute}/min per group)",
                  ["", *(r.label for r in runs)])
    table.add("messages queued (text + picture per group)", *(f"{r.messages} in {ms(r.queued_in)}" for r in runs))
    table.add("pictures drawn ahead (threads, one per community)",
              *(f"{r.pictures} in {ms(r.drawn_in)}" for r in runs))
    table.add("drained", *("yes" if r.finished else "NO (timed out)" for r in runs))
    table.add("wall time", *(f"{r.wall:.2f} s" for r in runs))
    table.add("limit-bound minimum (messages / overall rate)", *(f"{r.minimum:.2f} s" for r in runs))
    table.add("ratio to the minimum", *(f"{r.wall / r.minimum:.2f}×" if r.minimum else "n/a" for r in runs))
    table.add("429s sent by the stand-in (cumulative)", *(str(r.standin_429) for r in runs))
    table.add("429s seen by the sender", *(str(r.retried_429) for r in runs))
    table.add("rows sent / failed", *(f"{r.rows['sent']} / {r.rows['failed']}" for r in runs))
    table.add("groups where the board was pinned", *(str(r.pinned) for r in runs))
    table.add("board messages edited in place", *(str(r.edited) for r in runs))
    table.add("live bot messages per group (text + pictures)",
              *(", ".join(f"{k}: {v} groups" for k, v in sorted(Counter(r.per_chat.values()).items())) for r in runs))
    table.notes += [
        "the text message's pin is one more API call per group in the first month (paced by the sender, not in "
        "the minimum)",
        "pictures: one upload per community, the other groups reuse Telegram's file id (bot.core.gateway.Uploads);",
        "  the stand-in, in its own process, decodes and thumbnails each upload one at a time",
        "second month: the pinned text is edited in place, the picture is posted anew",
    ]
    table.print()


