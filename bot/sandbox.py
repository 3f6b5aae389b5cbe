"""The sandbox: the Bot API stand-in, the bot and the web chat page in one process.

A demo community is seeded once (database) and its people and groups are created in the
stand-in at every start (the stand-in keeps nothing on disk), with the same ids.

The sandbox works only on a database of its own: one that is empty, or that an earlier sandbox start
marked (an audit entry `sandbox.database`). A database holding other communities is refused before
anything is migrated, seeded or sent, so demo people and their notices never reach a real community."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import create_engine, delete, func, inspect, update
from sqlalchemy import text as sql
from sqlalchemy.engine import make_url
from sqlmodel import col, select

from bot import heap
from bot.app import LinliApp, wait_for_signal
from bot.config import Settings
from bot.core.dispatch import PRIVATE, Ctx, Router
from bot.core.i18n import N_, tn
from bot.sandbox_micro import seed_micro
from bot.sandbox_requests import report_fresh, seed_requests
from bot.sandbox_spaces import seed_micro as seed_spaces
from bot.sandbox_visits import open_service, seed_visits
from bot.standin.client import StandInClient
from bot.standin.server import StandIn
from flows import care, membership, menus, needs
from flows.checkins import PLAN_TOMORROW_FROM
from flows.clock import Clock, OffsetClock, local
from flows.roles import Org, Purpose, Role
from scheduler.runner import DUE, KEYED, run_due
from storage.crypto import Sealer
from storage.db import Database, UnitOfWork
from storage.migrate import sync_url, upgrade
from storage.models import (
    AuditEntry,
    Ballot,
    CheckinPrompt,
    Community,
    Incident,
    OutboxMessage,
    ProcessedUpdate,
    User,
)

log = logging.getLogger("linli.sandbox")

SANDBOX_TOKEN = "7000000001:SANDBOX-linli-local-stand-in-token"
BOT_USERNAME = "linli_bot"
DEMO_SLUG = "beichen-demo"
DEMO_TIMEZONE = "Asia/Shanghai"  # the demo community's (a community's default)
#: The audit action that marks a database as the sandbox's own (written at the first start)
SANDBOX_MARK = "sandbox.database"
#: Where `linli sandbox` keeps its database and its own secret (never the production ones)
SANDBOX_DATABASE_URL = "sqlite+aiosqlite:///./data/sandbox.db"
SANDBOX_SECRET_FILE = "./data/sandbox-secret.key"


class NotASandbox(RuntimeError):
    """The database holds communities but was never the sandbox's: the sandbox does not touch it."""

    def __init__(self, url: str, slugs: list[str]) -> None:
        shown = make_url(url).render_as_string(hide_password=True)
        super().__init__(
            f"{shown} holds {len(slugs)} communit{'y' if len(slugs) == 1 else 'ies'} and is not a sandbox database: "
            f"the sandbox would seed demo people into it and send their notices. Run the sandbox on a database "
            f"of its own (the default is {SANDBOX_DATABASE_URL}), or set LINLI_BOT_TOKEN to run the bot.")


def check_sandbox_database(url: str) -> None:
    """Raise NotASandbox unless the database is empty, marked as the sandbox's, or holds only the demo community
    (a sandbox database from before the mark). Reads only: nothing is created, migrated or written."""
    u = make_url(sync_url(url))
    if u.get_backend_name() == "sqlite" and (u.database in (None, "", ":memory:")
                                             or not os.path.exists(u.database)):
        return
    engine = create_engine(u)
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            if "community" not in tables:
                return
            if "auditentry" in tables and conn.execute(
                    sql("SELECT 1 FROM auditentry WHERE action = :mark LIMIT 1"), {"mark": SANDBOX_MARK}).first():
                return
            slugs = [str(r[0]) for r in conn.execute(sql("SELECT slug FROM community ORDER BY id"))]
    finally:
        engine.dispose()
    if slugs and slugs != [DEMO_SLUG]:
        raise NotASandbox(url, slugs)


async def mark_sandbox_database(db: Database, clock: Clock) -> None:
    """Mark the database as the sandbox's own (once)."""
    async with db.uow(write=True) as uow:
        if (await uow.session.exec(select(AuditEntry.id).where(AuditEntry.action == SANDBOX_MARK))).first():
            return
        uow.session.add(AuditEntry(action=SANDBOX_MARK, subject_type="database", at=clock.now()))
        await uow.commit()


@dataclass(frozen=True)
class Person:
    tg_id: int
    name: str
    role: Role | None  # None: not registered yet (the newcomer)
    building: str | None = None
    org: Org | None = None


PEOPLE = [
    Person(10001, "王书记", Role.ADMIN, None),
    Person(10002, "张网格", Role.GRID_WORKER, "3"),
    Person(10003, "刘志愿", Role.VOLUNTEER, "3"),
    Person(10004, "陈代表", Role.REPRESENTATIVE, "5"),
    Person(10005, "李经理", Role.COMMITTEE, None, Org.PROPERTY),
    Person(10006, "赵阿姨", Role.RESIDENT, "3"),
    Person(10007, "小周（新居民）", None),
    Person(10008, "孙大爷", Role.ENTHUSIAST, "3"),
    Person(10009, "周主任", Role.DISTRICT_ADMIN, None),
    Person(10010, "吴代表", Role.REPRESENTATIVE, "1"),
    Person(10011, "郑代表", Role.REPRESENTATIVE, "2"),
]

#: (chat id, title, purpose, building) — the last one has the bot but is not linked yet
GROUPS = [
    (-1001000000001, "北辰示范社区居民群", Purpose.COMMUNITY, None),
    (-1001000000003, "3号楼楼门群", Purpose.BUILDING, "3"),
    (-1001000000010, "多委联合办公群", Purpose.COMMITTEE, None),
    (-1001000000020, "志愿者群", Purpose.VOLUNTEERS, None),
    (-1001000000005, "5号楼楼门群（待绑定）", None, None),
]


#: The demo needs list of this year (author, category, text, candidate title or None): 12 candidates, so a
#: ballot for ten projects can be created at once, and two needs still to review
NEEDS = [
    (10006, "facility", "3号楼楼道灯坏了好几个，晚上上下楼看不清。", "楼道照明改造"),
    (10008, "elderly", "老年人吃饭不方便，希望社区办个老年助餐点。", "老年助餐点"),
    (10004, "traffic", "小区停车位太少，晚上车停到消防通道上。", "停车位挖潜增设"),
    (10003, "green", "中心花园的绿地荒了，希望补种花草。", "中心花园绿化提升"),
    (10006, "facility", "5号楼单元门禁经常坏。", "单元门禁维修"),
    (10010, "env", "垃圾分类投放点太脏，夏天有味。", "垃圾分类站点改造"),
    (10011, "convenience", "希望有电动自行车集中充电桩，别再飞线充电。", "电动车充电桩"),
    (10008, "culture", "想要一个老年活动室，下棋唱歌。", "老年活动室"),
    (10004, "child", "孩子放学后没人管，希望办“四点半课堂”。", "四点半课堂"),
    (10003, "safety", "小区监控有盲区，自行车老丢。", "监控补盲"),
    (10010, "property", "物业维修响应太慢，希望公开报修进度。", "物业报修公开"),
    (10011, "facility", "1号楼外墙皮脱落，怕砸到人。", "外墙隐患整治"),
    (10006, "green", "楼下的树太高挡光，希望修剪。", None),
    (10008, "elderly", "希望有人上门帮老人理发。", None),
]

#: The demo care ledger (building, room, alias, name, groups, risk, services), paired with 刘志愿 and 孙大爷
KEY_PERSONS = [
    ("3", "2-401", "3-2-401 李奶奶", "李秀兰", "solitary,very_old", "red", "medical,emergency"),
    ("3", "1-102", "3-1-102 王大爷", "王建国", "empty_nest", "yellow", "cleaning"),
    ("3", "3-301", "3-3-301 刘阿姨", "刘芳", "disabled", "green", "mobility"),
]


async def seed_database(db: Database, clock: Clock, sealer: Sealer | None = None) -> None:
    """Create the demo community and its people once; later starts leave it as it is."""
    now = clock.now()
    async with db.uow(write=True) as uow:
        if any(c.slug == DEMO_SLUG for c in await membership.list_communities(uow)):
            return
        community, _ = await membership.create_community(
            uow, name="北辰示范社区", slug=DEMO_SLUG, now=now, timezone=DEMO_TIMEZONE,
            buildings=[str(i) for i in range(1, 7)])
        page = await membership.list_buildings(uow, community_id=community.id or 0, size=50)
        by_label = {b.label: b.id for b in page.items}
        member_ids: dict[int, int] = {}
        users: dict[int, User] = {}
        for p in PEOPLE:
            if p.role is None:
                continue
            user = await membership.touch_user(uow, tg_id=p.tg_id, first_name=p.name, last_name=None, username=None,
                                               tg_language="zh-hans", now=now)
            done = await membership.register(uow, user=user, community_id=community.id or 0,
                                             building_id=by_label.get(p.building or ""), now=now)
            member_ids[p.tg_id] = done.member.id or 0
            users[p.tg_id] = user
            if p.role is not Role.RESIDENT:
                await membership.assign_role(uow, member=done.member, role=p.role, org=p.org, now=now)
            if p.tg_id == 10008:  # 孙大爷 is also a volunteer: the backup of the demo's key persons
                await membership.assign_role(uow, member=done.member, role=Role.VOLUNTEER, org=None, now=now)
        admin = next(p for p in PEOPLE if p.role is Role.ADMIN)
        admin_user = await membership.touch_user(uow, tg_id=admin.tg_id, first_name=admin.name, last_name=None,
                                                 username=None, tg_language="zh-hans", now=now)
        actor = await membership.load_actor(uow, admin_user)
        for chat_id, title, purpose, building in GROUPS:
            if purpose is not None:
                await membership.link_chat(uow, actor=actor, tg_chat_id=chat_id, chat_type="supergroup", title=title,
                                           purpose=purpose, building_label=building, now=now)
        await care.set_grid(uow, actor=actor, name="一网格", buildings="1-6", now=now)
        await care.set_grid_worker(uow, actor=actor, name="一网格", member_id=member_ids[10002], now=now)
        if sealer is not None:
            for building, room, alias, name, groups, risk, services in KEY_PERSONS:
                row = {"building": building, "room": room, "alias": alias, "name": name, "groups": groups,
                       "risk": risk, "services": services, "primary": str(member_ids[10003]),
                       "backup": str(member_ids[10008])}
                await care.import_row(uow, community=community, sealer=sealer, row=row, now=now, notify=False)
        await _seed_needs(uow, users=users, member_ids=member_ids, now=now)
        await seed_requests(uow, users=users, buildings=by_label, now=now)
        if sealer is not None:  # one visit due (the tick tells the volunteer), two done
            await seed_visits(uow, users=users, sealer=sealer, now=now)
        await seed_micro(uow, users=users, member_ids=member_ids, buildings=by_label, community_id=community.id or 0,
                         now=now)
        await seed_spaces(uow, users=users, member_ids=member_ids, now=now)
        await _forget_notices(uow, community.id or 0)
        await report_fresh(uow, users=users, buildings=by_label, now=now)
        if sealer is not None:  # one service open: its post in the volunteers' group, sent as the sandbox starts
            await open_service(uow, users=users, now=now)
        for user in users.values():  # each demo person's own command menu (their roles were given by the system)
            await menus.refresh(uow, user=user, now=now)
        await uow.commit()


async def _seed_needs(uow: UnitOfWork, *, users: dict[int, User], member_ids: dict[int, int], now: datetime) -> None:
    """This year's collection, open, with the demo residents' needs (some supported, most promoted)."""
    async def actor_of(tg_id: int) -> membership.Actor:
        return await membership.load_actor(uow, users[tg_id])

    admin = await actor_of(10001)
    await needs.open_period(uow, actor=admin, now=now)
    supporters = [tg for tg in member_ids if tg not in (10001, 10009)]
    for i, (author, category, text, title) in enumerate(NEEDS):
        need = await needs.submit(uow, actor=await actor_of(author), category=category, text=text, now=now)
        for tg_id in supporters[: (len(NEEDS) - i) % 7]:
            if member_ids[tg_id] != need.author_member_id:
                await needs.support(uow, actor=await actor_of(tg_id), need_id=need.id or 0, now=now)
        if title is not None:
            await needs.promote(uow, actor=admin, need_id=need.id or 0, title=title, now=now)


async def _forget_notices(uow: UnitOfWork, community_id: int) -> None:
    """The demo's past: nobody is told about it now (its notices — needs opened and promoted, requests'
    steps — are not sent)."""
    await uow.session.flush()
    await uow.session.execute(delete(OutboxMessage).where(col(OutboxMessage.community_id) == community_id))


async def last_update_id(db: Database) -> int:
    async with db.uow() as uow:
        return int((await uow.session.exec(select(func.max(ProcessedUpdate.update_id)))).one() or 0)


async def seed_standin(client: StandInClient) -> None:
    for p in PEOPLE:
        await client.create_user(p.name, id=p.tg_id, language_code="zh-hans")
    everyone = [p.tg_id for p in PEOPLE]
    for chat_id, title, purpose, _ in GROUPS:
        if purpose is None:
            continue
        members = everyone if purpose in (Purpose.COMMUNITY, Purpose.BUILDING) else [10001, 10002, 10003, 10005]
        await client.create_chat(title, member_ids=members, id=chat_id, admin_ids=[10001], owner_id=10001)
        await client.set_bot_membership(chat_id, "administrator", by_user_id=10001)


async def add_bot_to_new_group(client: StandInClient) -> None:
    """After the bot runs: the admin adds it to a new group, so the bot asks to be linked."""
    chat_id, title, _, _ = GROUPS[-1]
    await client.create_chat(title, member_ids=[p.tg_id for p in PEOPLE], id=chat_id, admin_ids=[10001],
                             owner_id=10001)
    await client.set_bot_membership(chat_id, "administrator", by_user_id=10001)


def clock_router(clock: OffsetClock) -> Router:
    """`/clock` — only in the sandbox: show the bot's time, move it forward, and run what fell due."""
    router = Router()

    @router.command("clock", where=PRIVATE, description=N_("Sandbox: show or move the clock"), menu=False)
    async def clock_command(ctx: Ctx) -> None:
        arg = ctx.message.args.strip()[:10]
        tz = ctx.actor.community.timezone if ctx.actor.community else "Asia/Shanghai"
        step = _clock_step(arg, clock.now(), tz)
        if step is None:
            ctx.reply(ctx.t("Usage: /clock · /clock +30 (minutes) · /clock +2h · /clock +3d · /clock 19:30 (the next "
                            "19:30)"))
            return
        queued = select(func.count()).select_from(OutboxMessage)
        before = (await ctx.uow.session.exec(queued)).one()
        # what the scheduler would have done meanwhile, as if the time had passed: check-ins (prompts, the
        # ladder), ballots (with the key for the voters' envelopes), reminders, board — step by step (pass_time),
        # so each day's jobs fire in order and nothing looks missed ("while the system was down")
        await pass_time(ctx.uow, clock.now(), step, ballot_key=ctx.core.ballot_key)
        clock.advance(seconds=step.total_seconds())
        await run_due(ctx.uow, clock.now(), ballot_key=ctx.core.ballot_key)  # the seconds the steps took
        await ctx.uow.session.flush()
        n = (await ctx.uow.session.exec(queued)).one() - before
        shown = local(clock.now(), tz).strftime("%Y-%m-%d %H:%M")
        ctx.reply(tn(ctx.lang, "🕘 Sandbox time: {time}. Everything that fell due was handled: {n} message queued.",
                     "🕘 Sandbox time: {time}. Everything that fell due was handled: {n} messages queued.", n,
                     time=shown))

    return router


#: A sandbox clock jump runs what the scheduler would have done had the time passed, step by step: at every moment a
#: check falls due or climbs a rung of its ladder, at every local midnight and 23:00 (a day's checks are planned),
#: at a ballot's opening and closing, and at least every MAX_STEP. The check-ins and the ballots run at every step,
#: the other jobs (reminders, board, projects, open days) at most every OTHERS_EVERY, as the scheduler runs them.
MAX_STEP = timedelta(hours=6)
OTHERS_EVERY = timedelta(hours=1)
EVERY_STEP = ("checkins_tick", "ballot_tick")


async def pass_time(uow: UnitOfWork, start: datetime, span: timedelta, *, ballot_key: bytes | None) -> int:
    """Run everything that falls due from `start` to `start + span`, in order, in this unit of work: each day is
    planned, its checks are sent at their time and climb their ladder, nothing is taken for missed "while the
    system was down". An incident left open is not alerted again every half hour of the jump but once, at its
    end, and each chat gets one prompt and one alert per key person, the latest (see _coalesce_per_person). Returns
    the number of steps."""
    steps = 0
    at, end, others_at = start, start + span, start
    zones = list((await uow.session.exec(select(Community.timezone).distinct())).all())
    while at < end:
        at = await _next_step(uow, at, end, zones)
        if at < end:  # an open incident is alerted again once, at the end of the jump
            await uow.session.execute(update(Incident).where(
                Incident.status == "open", col(Incident.next_escalation_at) <= at).values(next_escalation_at=end)
                .execution_options(synchronize_session=False))
        others = at == end or at - others_at >= OTHERS_EVERY
        others_at = at if others else others_at
        for name, due in DUE.items():
            if others or name in EVERY_STEP:
                await due(uow, at)
        for name, keyed in KEYED.items():
            if others or name in EVERY_STEP:
                await keyed(uow, at, ballot_key)
        steps += 1
    await uow.session.flush()
    await _coalesce_per_person(uow, since=start)
    return steps


async def _next_step(uow: UnitOfWork, at: datetime, end: datetime, zones: list[str]) -> datetime:
    s = uow.session
    moments: list[datetime | None] = [at + MAX_STEP, end]
    moments.append((await s.exec(select(func.min(CheckinPrompt.due_at)).where(
        CheckinPrompt.status == "scheduled", col(CheckinPrompt.due_at) > at))).one())
    moments.append((await s.exec(select(func.min(CheckinPrompt.next_action_at)).where(
        CheckinPrompt.status == "pending", col(CheckinPrompt.next_action_at) > at))).one())
    moments.append((await s.exec(select(func.min(Ballot.opens_at)).where(
        col(Ballot.opened_at).is_(None), col(Ballot.opens_at) > at))).one())
    moments.append((await s.exec(select(func.min(Ballot.closes_at)).where(
        col(Ballot.closed_at).is_(None), col(Ballot.closes_at) > at))).one())
    for tz in zones:
        here = local(at, tz)
        midnight = datetime.combine(here.date() + timedelta(days=1), datetime.min.time(), here.tzinfo)
        late = datetime.combine(here.date(), PLAN_TOMORROW_FROM, here.tzinfo)
        moments += [midnight, late if late > here else late + timedelta(days=1)]
    return min(m for m in moments if m is not None and m > at)


#: The notices about a key person's check that a jump coalesces (the ladder's, flows/checkins.py): the prompt, its
#: reminder and hand-over to a volunteer, the alerts to the grid worker and admins, the volunteers' group's call
PER_PERSON = ("ck_prompt", "ci_alert", "ck_group_alert")


async def _coalesce_per_person(uow: UnitOfWork, *, since: datetime) -> int:
    """Of the check prompts and alerts about one key person queued to one chat since `since` and not sent yet,
    keep the latest of each kind: after days passed in a moment, the last word about each person, not every
    check of every day at once (an earlier day's prompt could no longer be answered anyway)."""
    rows = (await uow.session.exec(select(OutboxMessage).where(
        OutboxMessage.status == "pending", col(OutboxMessage.created_at) >= since)
        .order_by(col(OutboxMessage.created_at), col(OutboxMessage.id)))).all()
    latest: dict[tuple[int, str, str], int] = {}
    superseded: list[int] = []
    for row in rows:
        kind, alias = str(row.payload.get("notice")), (row.payload.get("params") or {}).get("alias")
        if kind not in PER_PERSON or alias is None:
            continue
        key = (row.tg_chat_id, kind, str(alias))
        if key in latest:
            superseded.append(latest[key])
        latest[key] = row.id or 0
    if superseded:
        await uow.session.execute(delete(OutboxMessage).where(col(OutboxMessage.id).in_(superseded)))
    return len(superseded)


def _clock_step(arg: str, now: datetime, tz: str) -> timedelta | None:
    if not arg:
        return timedelta(0)
    m = re.fullmatch(r"\+(\d{1,4})([hd]?)", arg)
    if m:
        amount = int(m.group(1))
        if m.group(2) == "d":
            return timedelta(days=amount) if amount <= 400 else None
        return timedelta(hours=amount) if m.group(2) == "h" else timedelta(minutes=amount)
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", arg)
    if m and int(m.group(1)) < 24 and int(m.group(2)) < 60:
        here = local(now, tz)
        target = here.replace(hour=int(m.group(1)), minute=int(m.group(2)), second=0, microsecond=0)
        if target <= here:
            target += timedelta(days=1)
        return target - here
    return None


class Sandbox:
    def __init__(self, settings: Settings, *, host: str = "127.0.0.1", port: int | None = None,
                 board_port: int | None = None) -> None:
        self.settings = settings
        self.host = host
        self.port = settings.sandbox_port if port is None else port
        self.board_port = board_port  # the public board's port (0: any free one); None: no board
        self.board_url = ""
        self.clock = OffsetClock()
        # the page stamps messages and shows the time by the bot's clock, in the demo community's zone
        self.standin = StandIn(clock=lambda: self.clock.now().timestamp(), timezone=DEMO_TIMEZONE)
        self.app: LinliApp | None = None
        self.url = ""

    async def start(self) -> str:
        check_sandbox_database(self.settings.database_url)  # before anything is written
        upgrade(self.settings.database_url)
        self.url = await self.standin.start(self.host, self.port)
        client = StandInClient(self.url)
        try:
            db = Database(self.settings.database_url)
            await mark_sandbox_database(db, self.clock)
            await seed_database(db, self.clock, Sealer(self.settings.secret()))
            # Telegram's update ids only grow; the stand-in starts afresh while the database keeps
            # the ids it has handled, so carry on after them or the new updates look like repeats
            account = self.standin.create_bot(SANDBOX_TOKEN, BOT_USERNAME, "邻里助手")
            account.next_update_id = await last_update_id(db) + 1
            await db.dispose()
            await seed_standin(client)
            for p in PEOPLE:  # the registered demo people have talked to the bot before: it may write to them
                if p.role is not None:
                    self.standin.world.private_chat(account, self.standin.world.users[p.tg_id], create=True)
            # no rate limits: one person plays every role here, repeating commands as the README's steps do
            update: dict[str, object] = {"bot_token": SANDBOX_TOKEN, "bot_api_url": self.url, "webhook_url": "",
                                         "throttle": False, "web_board": self.board_port is not None}
            if self.board_port is not None:
                update.update(web_host=self.host, web_port=self.board_port)
            app_settings = self.settings.model_copy(update=update)
            self.app = LinliApp(app_settings, clock=self.clock, extra_router=clock_router(self.clock),
                                serve_board=self.board_port is not None)
            await self.app.start()
            if self.app.web is not None:
                self.board_url = f"http://{self.host}:{self.app.web.port}"
            await add_bot_to_new_group(client)
        finally:
            await client.close()
        return self.url

    async def stop(self) -> None:
        if self.app is not None:
            await self.app.stop()
        await self.standin.stop()

    async def serve_forever(self) -> None:
        await self.start()
        heap.settle()  # as `linli run` does (bot/heap.py)
        print(f"\n  Linli sandbox is running: open {self.url}/ in your browser.\n"
              f"  Pick who you are (王书记 is the admin, 小周 is a newcomer) and a chat. Ctrl-C stops.\n"
              + (f"  The public board: {self.board_url}/\n" if self.board_url else ""), flush=True)
        try:
            await wait_for_signal()
        finally:
            await self.stop()
