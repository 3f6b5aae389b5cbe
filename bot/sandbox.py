"""The sandbox: the Bot API stand-in, the bot and the web chat page in one process.

A demo community is seeded once (database) and its people and groups are created in the
stand-in at every start (the stand-in keeps nothing on disk), with the same ids."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import select

from bot.app import LinliApp, wait_for_signal
from bot.config import Settings
from bot.core.dispatch import PRIVATE, Ctx, Router
from bot.core.i18n import N_
from bot.standin.client import StandInClient
from bot.standin.server import StandIn
from flows import care, checkins, membership
from flows.clock import Clock, OffsetClock, local
from flows.roles import Org, Purpose, Role
from storage.crypto import Sealer
from storage.db import Database
from storage.migrate import upgrade
from storage.models import ProcessedUpdate

log = logging.getLogger("linli.sandbox")

SANDBOX_TOKEN = "7000000001:SANDBOX-linli-local-stand-in-token"
BOT_USERNAME = "linli_bot"
DEMO_SLUG = "beichen-demo"


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
]

#: (chat id, title, purpose, building) — the last one has the bot but is not linked yet
GROUPS = [
    (-1001000000001, "北辰示范社区居民群", Purpose.COMMUNITY, None),
    (-1001000000003, "3号楼楼门群", Purpose.BUILDING, "3"),
    (-1001000000010, "多委联合办公群", Purpose.COMMITTEE, None),
    (-1001000000020, "志愿者群", Purpose.VOLUNTEERS, None),
    (-1001000000005, "5号楼楼门群（待绑定）", None, None),
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
    async with db.uow() as uow:
        if any(c.slug == DEMO_SLUG for c in await membership.list_communities(uow)):
            return
        community, _ = await membership.create_community(
            uow, name="北辰示范社区", slug=DEMO_SLUG, now=now, buildings=[str(i) for i in range(1, 7)])
        page = await membership.list_buildings(uow, community_id=community.id or 0, size=50)
        by_label = {b.label: b.id for b in page.items}
        member_ids: dict[int, int] = {}
        for p in PEOPLE:
            if p.role is None:
                continue
            user = await membership.touch_user(uow, tg_id=p.tg_id, first_name=p.name, last_name=None, username=None,
                                               tg_language="zh-hans", now=now)
            done = await membership.register(uow, user=user, community_id=community.id or 0,
                                             building_id=by_label.get(p.building or ""), now=now)
            member_ids[p.tg_id] = done.member.id or 0
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
        await uow.commit()


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
            ctx.reply(ctx.t("Usage: /clock · /clock +30 (minutes) · /clock +2h · /clock 19:30 (the next 19:30)"))
            return
        clock.advance(seconds=step.total_seconds())
        done = await checkins.tick(ctx.uow, now=clock.now())
        shown = local(clock.now(), tz).strftime("%Y-%m-%d %H:%M")
        ctx.reply(ctx.t("🕘 Sandbox time: {time}. Check-ins that fell due were handled: {n} message(s) queued.",
                        time=shown, n=done.messages))

    return router


def _clock_step(arg: str, now: datetime, tz: str) -> timedelta | None:
    if not arg:
        return timedelta(0)
    m = re.fullmatch(r"\+(\d{1,4})(h?)", arg)
    if m:
        amount = int(m.group(1))
        return timedelta(hours=amount) if m.group(2) else timedelta(minutes=amount)
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", arg)
    if m and int(m.group(1)) < 24 and int(m.group(2)) < 60:
        here = local(now, tz)
        target = here.replace(hour=int(m.group(1)), minute=int(m.group(2)), second=0, microsecond=0)
        if target <= here:
            target += timedelta(days=1)
        return target - here
    return None


class Sandbox:
    def __init__(self, settings: Settings, *, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.settings = settings
        self.host = host
        self.port = settings.sandbox_port if port is None else port
        self.standin = StandIn()
        self.clock = OffsetClock()
        self.app: LinliApp | None = None
        self.url = ""

    async def start(self) -> str:
        upgrade(self.settings.database_url)
        self.url = await self.standin.start(self.host, self.port)
        client = StandInClient(self.url)
        try:
            db = Database(self.settings.database_url)
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
            app_settings = self.settings.model_copy(update={"bot_token": SANDBOX_TOKEN, "bot_api_url": self.url,
                                                            "webhook_url": ""})
            self.app = LinliApp(app_settings, clock=self.clock, extra_router=clock_router(self.clock))
            await self.app.start()
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
        print(f"\n  Linli sandbox is running: open {self.url}/ in your browser.\n"
              f"  Pick who you are (王书记 is the admin, 小周 is a newcomer) and a chat. Ctrl-C stops.\n", flush=True)
        try:
            await wait_for_signal()
        finally:
            await self.stop()
