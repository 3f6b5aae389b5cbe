"""#11 item 4: any number of processes run the same `linli run`; exactly one holds the scheduler and one the sender
(one rate budget), and a holder that stops or dies is replaced (PostgreSQL: advisory locks; SQLite: lease rows).

Intervals are injected so a takeover takes about a second here; the defaults replace a dead holder within 30 s."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlmodel import col, select

from bot.app import LinliApp
from bot.config import Settings
from bot.election import Elector, Role
from bot.standin.client import StandInClient
from bot.standin.server import StandIn
from flows import outbox
from flows.clock import OffsetClock
from storage.db import Database, is_sqlite
from storage.leases import KEEPALIVES, AdvisoryLocks, holders, role_locks
from storage.models import OutboxMessage, RoleLease
from tests.bot.conftest import RUNTIMES, TOKEN, settings_for
from tests.conftest import PG_URL

ROOT = Path(__file__).resolve().parents[2]
EVERY = 0.1  # seconds between rounds in these tests (default 5)
LEASE = 0.8  # SQLite lease in these tests (default 20)
ROLES = ["scheduler", "sender"]


class Work:
    """What runs where: the roles' work of several electors, as the test sees it."""

    def __init__(self) -> None:
        self.running: dict[str, set[str]] = {role: set() for role in ROLES}
        self.overlaps = 0  # a role's work started while another elector's still ran

    def roles(self, who: str) -> list[Role]:
        def start(role: str):
            async def go() -> None:
                if self.running[role]:
                    self.overlaps += 1
                self.running[role].add(who)
            return go

        def stop(role: str):
            async def go() -> None:
                self.running[role].discard(who)
            return go

        return [Role(role, start(role), stop(role)) for role in ROLES]


def elector(db: Database, work: Work, who: str) -> Elector:
    locks = role_locks(db, f"test/{who}", lease=timedelta(seconds=LEASE), check_timeout=1.0)
    return Elector(locks, work.roles(who), every=EVERY)


async def until(condition, timeout: float) -> float:
    """Wait for `condition()`; return the seconds it took."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError("timed out")
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def die(e: Elector, task: asyncio.Task[None]) -> None:
    """The holder's process dies: its loop stops, its roles are never given back; on PostgreSQL its session ends."""
    async def never(*_a: object) -> None:
        return None

    e.locks.release = never  # type: ignore[method-assign]
    if isinstance(e.locks, AdvisoryLocks) and e.locks.connection is not None:
        await e.locks.connection.invalidate()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_item4_three_electors_one_holder_per_role(db: Database) -> None:
    work = Work()
    electors = [elector(db, work, name) for name in ("a", "b", "c")]
    for e in electors:
        await e.step()
    stop = asyncio.Event()
    tasks = [asyncio.create_task(e.run(stop)) for e in electors]
    try:
        for _ in range(10):  # a second of rounds: never two holders, never none
            assert {role: len(who) for role, who in work.running.items()} == {"scheduler": 1, "sender": 1}
            await asyncio.sleep(EVERY)
        assert work.overlaps == 0
        now = electors[0].now()
        held = await holders(db, now)
        assert {role: (row.holder if row else None, alive) for role, (row, alive) in held.items()} == {
            "poller": (None, False), **{role: (f"test/{next(iter(work.running[role]))}", True) for role in ROLES}}
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    assert work.running == {"scheduler": set(), "sender": set()}  # a clean stop ends the work and gives it back
    assert all(not alive for _row, alive in (await holders(db, electors[0].now())).values())


async def test_item4_a_stopped_holder_is_replaced_at_once(db: Database) -> None:
    work = Work()
    a, b = elector(db, work, "a"), elector(db, work, "b")
    await a.step()
    await b.step()
    assert work.running == {"scheduler": {"a"}, "sender": {"a"}}
    stops = [asyncio.Event(), asyncio.Event()]
    tasks = [asyncio.create_task(a.run(stops[0])), asyncio.create_task(b.run(stops[1]))]
    try:
        stops[0].set()  # a clean stop (SIGTERM): the roles are given back
        await tasks[0]
        took = await until(lambda: work.running == {"scheduler": {"b"}, "sender": {"b"}}, 5)
        assert took < 3 * EVERY + 0.5
        assert work.overlaps == 0
    finally:
        stops[1].set()
        await asyncio.gather(*tasks)


async def test_item4_a_dead_holder_is_replaced_within_the_interval(db: Database, db_url: str) -> None:
    work = Work()
    a, b = elector(db, work, "a"), elector(db, work, "b")
    await a.step()
    await b.step()
    stop = asyncio.Event()
    task_a, task_b = asyncio.create_task(a.run(asyncio.Event())), asyncio.create_task(b.run(stop))
    try:
        await asyncio.sleep(3 * EVERY)
        work.running = {"scheduler": set(), "sender": set()}  # its work died with it
        await die(a, task_a)
        took = await until(lambda: work.running == {"scheduler": {"b"}, "sender": {"b"}}, 10)
        if is_sqlite(db_url):  # not before the dead holder's lease lapsed, soon after
            assert LEASE - 3 * EVERY < took < LEASE + 3 * EVERY + 0.5
        else:  # the session ended: the locks are free at once
            assert took < 3 * EVERY + 0.5
        print(f"takeover after the holder died: {took:.2f} s ({'SQLite' if is_sqlite(db_url) else 'PostgreSQL'})")
        held = await holders(db, b.now())
        assert {role: (row.holder if row else None, alive) for role, (row, alive) in held.items()} == {
            "scheduler": ("test/b", True), "sender": ("test/b", True), "poller": (None, False)}
    finally:
        stop.set()
        await task_b
        await a.locks.close()


async def test_item4_a_restarted_process_takes_its_dead_predecessors_roles_at_once(db: Database, db_url: str) -> None:
    """SQLite: after a kill -9 the process started again does not wait for its previous life's lease (20 s of
    nobody answering, measured by the faults suite): a lease whose holder is a process of this host that has
    ended is taken at once. A live process's lease, and another host's, are left to run."""
    if not is_sqlite(db_url):
        pytest.skip("lease rows are SQLite's")
    from storage.leases import TableLocks, holder_name

    ended = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                               text=True, check=True).stdout)
    host = socket.gethostname()[:120]
    now = OffsetClock().now()
    lease = timedelta(seconds=20)
    async with db.uow(write=True) as uow:
        for role, holder in (("sender", f"{host}/{ended}/old"), ("scheduler", f"{host}/{os.getppid()}/alive"),
                             ("poller", f"elsewhere/{ended}/old")):
            uow.session.add(RoleLease(role=role, holder=holder, since=now, heartbeat=now, expires_at=now + lease))
        await uow.commit()
    locks = TableLocks(db, holder_name("new"), lease=lease)
    try:
        assert await locks.hold(["sender", "scheduler", "poller"], now) == {"sender"}
    finally:
        await locks.close()


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL: LINLI_TEST_POSTGRES_URL")
async def test_item4_a_role_held_in_another_database_of_the_server_is_not_ours(db: Database, db_url: str) -> None:
    """Advisory locks belong to one database, but pg_locks lists the whole server's: a deployment on another
    database of the same server (another district, or the next test run) holding its poller is not ours
    (found when two test workers ran at once: `linli status` said our poller was held)."""
    if is_sqlite(db_url):
        pytest.skip("advisory locks are PostgreSQL's")
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from storage.leases import advisory_key

    other = create_async_engine(PG_URL)  # the server's own `test` database, not this test's
    try:
        async with other.connect() as conn:
            await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": advisory_key("poller")})
            held = await holders(db, OffsetClock().now())
            assert held["poller"] == (None, False)
            await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": advisory_key("poller")})
    finally:
        await other.dispose()


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL: LINLI_TEST_POSTGRES_URL")
async def test_item4_a_holder_whose_connection_broke_gives_its_roles_up(db: Database, db_url: str) -> None:
    if is_sqlite(db_url):
        pytest.skip("advisory locks are PostgreSQL's")
    work = Work()
    a, b = elector(db, work, "a"), elector(db, work, "b")
    await a.step()
    await b.step()
    stop = asyncio.Event()
    tasks = [asyncio.create_task(a.run(stop)), asyncio.create_task(b.run(stop))]
    try:
        assert isinstance(a.locks, AdvisoryLocks) and a.locks.connection is not None
        await a.locks.connection.invalidate()  # the network cut a's session: the server freed its locks
        await until(lambda: work.running == {"scheduler": {"b"}, "sender": {"b"}}, 5)
        await asyncio.sleep(5 * EVERY)  # a reconnects and stays a standby
        assert work.running == {"scheduler": {"b"}, "sender": {"b"}}
        assert a.held == set()
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def test_item4_a_holder_that_cannot_renew_gives_up_before_it_may_be_replaced(db: Database,
                                                                                  db_url: str) -> None:
    """SQLite: the database stays locked for the holder; it keeps its roles while its lease lasts (nobody else may
    take them before), gives them up when it lapsed, and the standby takes them only then: never two holders."""
    if not is_sqlite(db_url):
        pytest.skip("lease rows are SQLite's")
    from sqlalchemy.exc import OperationalError

    work = Work()
    a, b = elector(db, work, "a"), elector(db, work, "b")
    await a.step()
    await b.step()
    stop = asyncio.Event()
    tasks = [asyncio.create_task(a.run(stop)), asyncio.create_task(b.run(stop))]
    try:
        async def locked(*_a: object) -> bool:
            raise OperationalError("UPDATE rolelease", {}, Exception("database is locked"))

        a.locks._take = locked  # type: ignore[attr-defined,method-assign]
        seen: list[tuple[float, dict[str, set[str]]]] = []
        started = time.monotonic()
        # watch until the standby holds the role (a loaded machine may be slow to get there: the bound on how
        # late is generous; the order and "never two holders" are what must hold exactly)
        while time.monotonic() - started < LEASE + 10.0:
            seen.append((time.monotonic() - started, {k: set(v) for k, v in work.running.items()}))
            assert all(len(who) <= 1 for who in work.running.values())  # never two holders
            if "b" in work.running["sender"]:
                break
            await asyncio.sleep(0.02)
        assert work.overlaps == 0
        a_gone = next(t for t, running in seen if "a" not in running["sender"])
        b_took = next(t for t, running in seen if "b" in running["sender"])
        # a kept its roles while most of its lease lasted, gave them up a margin before it lapsed; b only after
        assert LEASE * 2 / 3 - 2 * EVERY < a_gone <= b_took
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL: LINLI_TEST_POSTGRES_URL")
async def test_item4_the_poller_whose_connection_broke_stops_polling(db_url: str, standin: StandIn) -> None:
    if is_sqlite(db_url):
        pytest.skip("advisory locks are PostgreSQL's")
    tg = StandInClient(standin.url)
    await tg.set_limits(enabled=False)
    fast = {"role_check_seconds": EVERY}
    apps = [LinliApp(settings_for(db_url, standin, "ptb", **fast), clock=OffsetClock(), run_scheduler=False)
            for _ in range(2)]
    try:
        for app in apps:
            await app.start()
        first, second = apps
        assert first.elector is not None and second.elector is not None
        assert first.elector.held == {"poller", "sender"} and second.elector.held == set()
        locks = first.elector.locks
        assert isinstance(locks, AdvisoryLocks) and locks.connection is not None
        await locks.connection.invalidate()  # the network cut the holder's session: the server freed its locks
        await until(lambda: second.elector.held == {"poller", "sender"}, 5)
        await until(lambda: first.elector.held == set(), 5)
        assert first.runtime is not None and not first.runtime.polling
        assert second.runtime is not None and second.runtime.polling
    finally:
        for app in apps:
            await app.stop()
        await tg.close()


def test_item4_the_defaults_replace_a_dead_holder_within_30_seconds() -> None:
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    # SQLite: the lease lapses, then a standby's next round takes it
    assert s.role_lease_seconds + s.role_check_seconds <= 30
    # PostgreSQL: a killed process frees its locks at once; a vanished host is dropped by the keepalives
    dead_peer = int(KEEPALIVES["tcp_keepalives_idle"]) + int(KEEPALIVES["tcp_keepalives_interval"]) * int(
        KEEPALIVES["tcp_keepalives_count"])
    assert dead_peer + s.role_check_seconds <= 30
    assert s.run_sender and s.run_scheduler  # "may take the role", still on by default


# ------------------------------------------------------------------ the bot itself, twice on one database

USERS = list(range(700, 720))


@pytest.fixture
async def standin() -> AsyncIterator[StandIn]:
    server = StandIn()
    await server.start()
    server.create_bot(TOKEN, "linli_bot", "邻里助手")
    yield server
    await server.stop()


async def _open_chats(tg: StandInClient) -> None:
    for uid in USERS:
        await tg.create_user(f"居民{uid}", id=uid)
        await tg.send(uid, "hi")  # the person started the bot: private messages are allowed


async def _queue(db: Database, clock: OffsetClock, tag: str = "号通知") -> None:
    async with db.uow() as uow:
        for uid in USERS:
            outbox.notify(uow, tg_chat_id=uid, notice="role_granted", lang="zh_CN", now=clock.now(),
                          role="volunteer", community=f"第{uid}{tag}")
        await uow.commit()


def _notices(standin: StandIn, tag: str = "号通知") -> list[tuple[int, float]]:
    return [(m.chat.id, t) for t, m in _seen(standin) if m.text and tag in m.text]


_SEEN: dict[int, float] = {}


def _seen(standin: StandIn) -> list[tuple[float, object]]:
    out = []
    for seq, message in standin.world.change_log:
        out.append((_SEEN.setdefault(seq, time.monotonic()), message))
    return out


async def test_item4_two_apps_on_one_database_one_sender_one_scheduler(db_url: str, standin: StandIn) -> None:
    tg = StandInClient(standin.url)
    await tg.set_limits(enabled=False)
    await _open_chats(tg)
    clock = OffsetClock()
    # a lease long enough for the second app's start, which holds this test's event loop shared with the first (its
    # schema check): the first keeps its roles meanwhile; a stop gives them back at once, whatever the lease
    fast = {"role_check_seconds": EVERY, "role_lease_seconds": 5.0, "outbox_per_chat": 50.0}
    ports = [_free_port(), _free_port()]  # webhook mode, as behind a proxy (two pollers would fight: 409)
    apps = [LinliApp(settings_for(db_url, standin, **fast, webhook_url=f"http://127.0.0.1:{port}/telegram/webhook",
                                  webhook_secret="s3cret", web_port=port), clock=clock) for port in ports]
    try:
        for app in apps:
            await app.start()
        running = [app.scheduler is not None and app.scheduler.aps.running for app in apps]
        assert running == [True, False]  # the first to start holds the scheduler; the second is a standby
        await _queue(apps[1].db, clock)
        for app in apps:
            assert app.sender is not None
            app.sender.wake()
        await until_sent(apps[1].db)
        sent = [app.sender.stats.sent for app in apps if app.sender]
        assert sent == [len(USERS), 0]  # one sender, one budget
        assert sorted(chat for chat, _t in _notices(standin)) == USERS  # each delivered once

        await apps[0].stop()  # the holder stops: the standby takes both roles
        started = time.monotonic()
        while not (apps[1].scheduler is not None and apps[1].elector and apps[1].elector.held == {"sender",
                                                                                                  "scheduler"}):
            assert time.monotonic() - started < 5
            await asyncio.sleep(0.02)
        async with apps[1].db.uow() as uow:
            rows = {r.role: r.holder for r in (await uow.session.exec(select(RoleLease))).all()}
        assert len(set(rows.values())) == 1 and rows.keys() == {"sender", "scheduler"}
    finally:
        _SEEN.clear()
        for app in apps:
            if app.elector is not None and not app._stop.is_set():
                await app.stop()
        await tg.close()


async def until_sent(db: Database, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        async with db.uow() as uow:
            left = (await uow.session.exec(select(OutboxMessage.id).where(col(OutboxMessage.status) != "sent"))).all()
        if not left:
            return
        assert time.monotonic() < deadline, f"{len(left)} outbox rows not sent"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_item4_only_one_process_polls(db_url: str, standin: StandIn, runtime: str) -> None:
    """Long polling is a role too: two pollers of getUpdates would end each other's calls (409 Conflict)."""
    tg = StandInClient(standin.url)
    await tg.set_limits(enabled=False)
    fast = {"role_check_seconds": EVERY, "role_lease_seconds": 5.0}  # see the test above: the loop is shared
    apps = [LinliApp(settings_for(db_url, standin, runtime, **fast), clock=OffsetClock(), run_scheduler=False)
            for _ in range(2)]
    await tg.create_user("赵阿姨", id=801)

    async def answered(text: str) -> None:
        before = await tg.cursor()
        await tg.send(801, text)
        deadline = time.monotonic() + 10
        while not [m for m in await tg.bot_messages(801, before) if m["kind"] == "message"]:
            assert time.monotonic() < deadline, "nobody answered"
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        assert len([m for m in await tg.bot_messages(801, before) if m["kind"] == "message"]) == 1

    def polls(app: LinliApp) -> bool:
        return app.elector is not None and "poller" in app.elector.held

    try:
        for app in apps:
            await app.start()
        # both apps share this test's event loop: the second one's start (its schema check, on the loop) held it
        # past the first one's lease once (0.8 s then), and the second took the role; wait for the round that
        # settles it. Processes of their own have a loop each, with 20 s leases renewed every 5 s.
        await until(lambda: [polls(app) for app in apps].count(True) == 1, 5)
        poller, standby = (apps[0], apps[1]) if polls(apps[0]) else (apps[1], apps[0])
        await answered("/help")
        assert [polls(app) for app in (poller, standby)] == [True, False]
        await poller.stop()
        took = await until(lambda: polls(standby), 5)
        print(f"{runtime}: the standby polls {took:.2f} s after the poller stopped")
        await answered("/help")
    finally:
        for app in apps:
            if not app._stop.is_set():
                await app.stop()
        await tg.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _linli(db_url: str, standin: StandIn, *args: str, port: int = 0, **env: str) -> subprocess.Popen[str]:
    full = dict(os.environ, LINLI_DATABASE_URL=db_url, LINLI_BOT_TOKEN=TOKEN, LINLI_BOT_API_URL=standin.url,
                LINLI_SECRET_KEY="test-secret-key-0123456789abcdef", LINLI_ROLE_CHECK_SECONDS="0.3",
                LINLI_OUTBOX_RATE="10", LINLI_THROTTLE="false", **env)
    if port:
        full.update(LINLI_WEBHOOK_URL=f"http://127.0.0.1:{port}/telegram/webhook", LINLI_WEBHOOK_SECRET="s3cret",
                    LINLI_WEB_PORT=str(port))
    return subprocess.Popen([sys.executable, "-m", "linli_cli", *args], env=full, cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


async def _holder(db: Database, role: str) -> str | None:
    from storage.leases import holders as who

    row, alive = (await who(db, time_now()))[role]
    return row.holder if row is not None and alive else None


def time_now():
    from datetime import UTC, datetime

    return datetime.now(UTC)


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL: LINLI_TEST_POSTGRES_URL")
async def test_item4_two_linli_run_processes_on_postgres(db_url: str, db: Database, standin: StandIn) -> None:
    """Two real `linli run` (webhook mode, as behind a proxy) on one PostgreSQL: one sends, within one budget
    (10 messages a second here, the stand-in refuses more with 429); SIGKILL it and the other takes over."""
    if is_sqlite(db_url):
        pytest.skip("several processes: PostgreSQL")
    tg = StandInClient(standin.url)
    await tg.set_limits(enabled=False)  # the bot's answers to "hi" are not what is measured
    await _open_chats(tg)
    # one after the other: started together, each may win one of the two roles (each role has one holder, not
    # necessarily the same); the second here is a standby for both
    ports = [_free_port(), _free_port()]
    procs = [_linli(db_url, standin, "run", port=ports[0])]
    try:
        started = time.monotonic()
        while await _holder(db, "sender") is None or await _holder(db, "scheduler") is None:
            assert time.monotonic() - started < 30, [p.poll() for p in procs]
            await asyncio.sleep(0.1)
        holder = await _holder(db, "sender")
        assert holder == await _holder(db, "scheduler")
        procs.append(_linli(db_url, standin, "run", port=ports[1]))
        async with httpx.AsyncClient() as web:  # the standby is up: it serves its webhook's port
            while True:
                assert time.monotonic() - started < 60, [p.poll() for p in procs]
                try:
                    if (await web.get(f"http://127.0.0.1:{ports[1]}/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        assert await _holder(db, "sender") == holder == await _holder(db, "scheduler")
        pids = {int(holder.split("/")[1]) for holder in [holder] if holder}
        first = next(p for p in procs if p.pid in pids)
        while (await tg.stats())["pending_updates"]["linli_bot"] or not await tg.settle(quiet_ms=300):
            await asyncio.sleep(0.1)
        await tg.set_limits(enabled=True, overall=10.0, per_chat=1.0)
        await _queue(db, OffsetClock())
        deadline = time.monotonic() + 30
        while len(_notices(standin)) < len(USERS) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        notices = _notices(standin)
        assert sorted(chat for chat, _t in notices) == USERS  # each delivered once
        times = sorted(t for _c, t in notices)
        rate = (len(times) - 1) / (times[-1] - times[0])
        print(f"{len(times)} notices at {rate:.1f}/s by one sender (budget 10/s)")
        assert rate <= 12 and (await tg.stats())["rejected_429"] == 0
        await until_sent(db)

        first.send_signal(signal.SIGKILL)
        first.wait(10)
        killed = time.monotonic()
        while (await _holder(db, "sender")) in (None, holder) or (await _holder(db, "scheduler")) in (None, holder):
            assert time.monotonic() - killed < 30
            await asyncio.sleep(0.05)
        took = time.monotonic() - killed
        print(f"takeover after SIGKILL: {took:.2f} s")
        assert took < 5
        await _queue(db, OffsetClock(), tag="号提醒")  # the survivor sends now
        await until_sent(db)
        assert sorted(chat for chat, _t in _notices(standin, "号提醒")) == USERS
        assert (await tg.stats())["rejected_429"] == 0
        status = subprocess.run([sys.executable, "-m", "linli_cli", "status"], capture_output=True, text=True,
                                cwd=ROOT, timeout=60, env=dict(os.environ, LINLI_DATABASE_URL=db_url,
                                                               LINLI_SECRET_KEY="x" * 32))
        assert status.returncode == 0, status.stderr
        survivor = next(p for p in procs if p is not first)
        assert f"/{survivor.pid}" in status.stdout
    finally:
        _SEEN.clear()
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        await tg.close()


# ------------------------------------------------------------------ linli status

async def test_item4_linli_status_shows_who_holds_each_role(db: Database, db_url: str) -> None:
    from datetime import UTC, datetime

    from bot.status import gather, render
    from flows import updates
    from storage.migrate import head_revision

    now = datetime.now(UTC)
    work = Work()
    a = elector(db, work, "a")
    a.roles.pop("scheduler")  # this one may only send
    await a.step()
    async with db.uow() as uow:
        outbox.notify(uow, tg_chat_id=701, notice="role_granted", lang="zh_CN", now=now - timedelta(minutes=5),
                      role="volunteer", community="x")
        outbox.notify(uow, tg_chat_id=702, notice="role_granted", lang="zh_CN", now=now, role="volunteer",
                      community="y")
        await uow.commit()
    async with db.uow(write=True) as uow:
        assert await updates.take(uow, update_id=42, now=now - timedelta(seconds=30))
        await uow.commit()
    try:
        status = await gather(db, current=head_revision(), head=head_revision(), now=now)
        text = "\n".join(render(status, now))
        print(text)
        assert f"schema    {head_revision()} (newest)" in text
        assert "  sender     test/a  since " in text and "heartbeat 0 s ago" in text
        assert "  scheduler  nobody (never held)" in text
        assert "pending 2 · sending 0 · sent 0 · failed 0 · dead 0; oldest pending queued 5 min ago" in text
        assert "updates   last handled 30 s ago" in text
        assert "redis     not set: each process keeps its own rate limits" in text
        down = await gather(db, current=head_revision(), head=head_revision(), now=now,
                            redis_url="redis://:secret@127.0.0.1:9/0")  # nothing answers on the discard port
        assert render(down, now)[-1] == ("redis     redis://127.0.0.1:9/0 does not answer (ConnectionError): each "
                                         "process keeps its own rate limits until it does")
        if os.environ.get("LINLI_TEST_REDIS_URL"):
            up = await gather(db, current=head_revision(), head=head_revision(), now=now,
                              redis_url=os.environ["LINLI_TEST_REDIS_URL"])
            assert render(up, now)[-1].endswith("ms): rate limits shared by every process")
    finally:
        await a.resign()
    status = await gather(db, current=head_revision(), head=head_revision(), now=a.now())
    assert "  sender     nobody (last test/a, heartbeat 0 s ago)" in render(status, a.now())


def test_item4_linli_status_on_a_database_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    import linli_cli

    monkeypatch.setenv("LINLI_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/empty.db")
    assert linli_cli.main(["status"]) == 2
    out = capsys.readouterr().out
    assert "schema    empty, the code needs" in out and "run `linli db upgrade`" in out
