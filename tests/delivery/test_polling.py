"""#11 items 1 and 9: no update lost to a database outage or a crash, and a quiet stop.

The runtime confirms an update to Telegram (the next getUpdates' offset) only after its transaction committed,
`Core.handle` waits out a database that cannot be reached, a webhook POST that could not be handled fails (so
Telegram posts it again), and a SIGTERM stops either runtime without a traceback."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import create_async_engine

from bot.app import LinliApp
from bot.core.convert import event_from_update
from bot.runtimes.base import Pipeline, Poller
from bot.standin.client import StandInClient
from bot.standin.server import StandIn
from flows import updates
from flows.clock import OffsetClock
from storage import outage
from storage.db import async_url, is_sqlite
from tests.bot.conftest import BOT, RUNTIMES, TOKEN, Harness, settings_for
from tests.delivery.outages import CommitLost, Proxy, SlowPolls, SqliteLock, Unreachable

ROOT = Path(__file__).resolve().parents[2]
USERS = [301, 302, 303, 304, 305, 306]


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def answers(tg: StandInClient, chat_id: int) -> list[dict[str, Any]]:
    """The bot's answers to /help in a private chat."""
    return [m for m in await tg.bot_messages(chat_id) if "/start" in (m.get("text") or "")]


def _update(update_id: int, user_id: int, text: str = "/help") -> dict[str, Any]:
    return {"update_id": update_id, "message": {"message_id": update_id, "date": 0, "text": text,
                                                "chat": {"id": user_id, "type": "private"},
                                                "from": {"id": user_id, "is_bot": False, "first_name": "x"}}}


# ---------------------------------------------------------------------- which errors mean "unreachable"

async def test_item1_unreachable_tells_an_outage_from_a_bug(tmp_path: Path) -> None:
    """Real errors from both drivers: the database away (retry) against a bug or a conflict (do not)."""
    path = tmp_path / "x.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    holder.execute("BEGIN IMMEDIATE")
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}", connect_args={"timeout": 0.05})
    errors: dict[str, BaseException] = {}
    async with engine.connect() as conn:
        for name, sql in (("locked", "INSERT INTO t VALUES (1)"), ("no table", "SELECT * FROM nowhere"),
                          ("syntax", "SELEKT 1")):
            try:
                await conn.exec_driver_sql(sql)
            except Exception as exc:  # noqa: BLE001 - collected to be classified
                errors[name] = exc
            await conn.rollback()
    holder.execute("ROLLBACK")
    async with engine.begin() as conn:
        await conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    async with engine.connect() as conn:
        try:
            await conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        except IntegrityError as exc:
            errors["duplicate"] = exc
    await engine.dispose()
    closed = socket_port()
    refused = create_async_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{closed}/x")
    try:
        async with refused.connect():
            pass
    except Exception as exc:  # noqa: BLE001
        errors["refused"] = exc
    await refused.dispose()

    assert isinstance(errors["locked"], OperationalError) and outage.unreachable(errors["locked"])
    assert outage.unreachable(errors["refused"])
    assert outage.unreachable(ConnectionResetError())
    assert not outage.unreachable(errors["no table"]) and isinstance(errors["no table"], OperationalError)
    assert not outage.unreachable(errors["syntax"])
    assert not outage.unreachable(errors["duplicate"])
    assert not outage.unreachable(ValueError("a bug"))
    assert not outage.unreachable(ProgrammingError("SELECT", None, Exception("bad")))


def socket_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_item1_handle_waits_out_an_outage_with_backoff(db_url: str, standin: StandIn) -> None:
    """Core.handle tries again (0.2 s doubling to 5 s, the sleep injected) while the database is away, and the
    update is handled once it is back; a bug is not retried."""
    app = LinliApp(settings_for(db_url, standin), clock=OffsetClock(), run_scheduler=False)
    fault = Unreachable(app.db)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 8:
            fault.restore()

    app.core.outage_sleep = sleep  # type: ignore[method-assign]
    event = event_from_update(_update(41, 301), BOT)
    assert event is not None
    fault.cut()
    replies = await app.core.handle(event)
    assert waits == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0] and fault.failures == 8
    assert replies and "/start" in str(replies)
    await app.core.sent(41)  # what the pipeline does once the replies went out
    assert await app.core.handle(event) == []  # handled once: the mark was committed with it

    def broken(**_: Any) -> Any:
        raise OperationalError("SELECT", None, sqlite3.OperationalError("no such table: users"))

    app.db.uow = broken  # type: ignore[assignment, method-assign]
    waits.clear()
    again = event_from_update(_update(42, 301), BOT)
    assert again is not None
    with pytest.raises(OperationalError):
        await app.core.handle(again)
    assert waits == []
    await app.db.dispose()


async def test_item1_a_commit_hidden_by_the_cut_is_answered(db_url: str, standin: StandIn) -> None:
    """The connection breaks just after COMMIT reached the database: the retry finds the update taken. It went
    through, so its replies are sent (not "seen before, skipped", which left the person without an answer)."""
    app = LinliApp(settings_for(db_url, standin), clock=OffsetClock(), run_scheduler=False)
    fault = CommitLost(app.db)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    app.core.outage_sleep = sleep  # type: ignore[method-assign]
    event = event_from_update(_update(43, 302), BOT)
    assert event is not None
    replies = await app.core.handle(event)
    assert fault.left == 0 and waits == [0.2]
    assert replies and "/start" in str(replies)
    await app.core.sent(43)
    assert await app.core.handle(event) == []  # a redelivery after they went out: skipped
    await app.db.dispose()


async def test_item1_replies_kept_until_sent(db_url: str, standin: StandIn) -> None:
    """A crash after an update's commit and before its replies went out: the update comes again (its offset was
    never confirmed) and its replies, kept sealed with its mark, are sent then; once sent, a redelivery is
    skipped. Before, it was "seen before, skipped" and the person never got an answer."""
    first = LinliApp(settings_for(db_url, standin), clock=OffsetClock(), run_scheduler=False)
    event = event_from_update(_update(44, 303), BOT)
    assert event is not None
    replies = await first.core.handle(event)
    assert replies and "/start" in str(replies)
    await first.db.dispose()  # the process dies here, nothing sent

    again = LinliApp(settings_for(db_url, standin), clock=OffsetClock(), run_scheduler=False)
    assert await again.core.handle(event) == replies
    async with again.db.uow() as uow:  # sealed at rest: no text of the answer readable in the row
        kept = await updates.kept_replies(uow, update_id=44)
    assert kept is not None and "/start" not in kept and "help" not in kept.lower()
    await again.core.sent(44)
    assert await again.core.handle(event) == []
    await again.db.dispose()


class Recorder:
    """A gateway that notes what it sends; `slow` seconds per send."""

    def __init__(self, slow: float = 0.0) -> None:
        self.slow = slow
        self.sent: list[int] = []

    async def send(self, chat_id: int, message: object, reply_to: int | None = None) -> int:
        await asyncio.sleep(self.slow)
        self.sent.append(chat_id)
        return len(self.sent)


@pytest.mark.parametrize("cut_off", ["while marking", "while sending"])
async def test_item1_an_update_cut_off_after_its_commit_is_answered_once(db_url: str, standin: StandIn,
                                                                         monkeypatch: pytest.MonkeyPatch,
                                                                         cut_off: str) -> None:
    """A stop cuts off the updates still at work after its grace (Poller.stop): once the database came back
    from a cut, updates that waited for it finish all at once, and the grace may end in the middle of one's
    answer. Cut off after the call and before the mark, the answer went out again when Telegram delivered the
    update again (the duplicated answer of the 10 s PostgreSQL cut); cut off before the call, the answer was
    marked sent and never went out. Once its transaction committed, an update's answer goes out and is marked
    before the cut-off takes effect."""
    app = LinliApp(settings_for(db_url, standin), clock=OffsetClock(), run_scheduler=False)
    gateway = Recorder(slow=0.3 if cut_off == "while sending" else 0.0)
    pipeline = Pipeline(app.core, gateway)  # type: ignore[arg-type]
    real_sent = updates.mark_sent

    async def slow_mark(uow: Any, *, update_ids: list[int]) -> None:
        await asyncio.sleep(0.3)
        await real_sent(uow, update_ids=update_ids)

    monkeypatch.setattr(updates, "mark_sent", slow_mark)
    work = asyncio.create_task(pipeline.process(_update(45, 304)))
    if cut_off == "while marking":
        await until(lambda: _async(gateway.sent == [304]), what="the answer sent")
    else:
        await until(lambda: _async(45 in app.core._unsent), what="the update committed")
    await asyncio.sleep(0.05)
    work.cancel()  # the stop's grace ran out
    with pytest.raises(asyncio.CancelledError):
        await work
    monkeypatch.setattr(updates, "mark_sent", real_sent)
    await pipeline.process(_update(45, 304))  # never confirmed: Telegram delivers it again
    assert gateway.sent == [304]  # answered, once
    await app.db.dispose()


# ---------------------------------------------------------------------- the polling loop

class FakeTelegram:
    """getUpdates as Telegram does it: `offset` forgets every update below it; the rest is returned."""

    def __init__(self) -> None:
        self.queue: list[dict[str, Any]] = []
        self.offsets: list[int | None] = []

    async def fetch(self, offset: int | None, timeout: int, limit: int) -> list[dict[str, Any]]:
        self.offsets.append(offset)
        if offset is not None:
            self.queue = [u for u in self.queue if u["update_id"] >= offset]
        if not self.queue:
            await asyncio.sleep(0.01 if timeout else 0)
        return self.queue[:limit]


async def test_item1_offset_confirmed_after_commit() -> None:
    """The next getUpdates' offset is the lowest update not finished: a slow update holds back the confirmation of
    those after it (they were handled meanwhile, concurrently, each once), and one cut off by a stop is never
    confirmed, so Telegram delivers it again."""
    telegram = FakeTelegram()
    telegram.queue = [_update(i, 301) for i in (1, 2, 3)]
    slow, handled = asyncio.Event(), []

    async def process(update: dict[str, Any]) -> None:
        if update["update_id"] in (1, 4):
            await slow.wait()
        handled.append(update["update_id"])

    poller = Poller(telegram.fetch, process, grace=0.1)
    poller.start()
    await until(lambda: _async(sorted(handled) == [2, 3]), what="2 and 3 handled")
    await asyncio.sleep(0.05)
    assert set(telegram.offsets) <= {None, 1} and [u["update_id"] for u in telegram.queue] == [1, 2, 3]
    slow.set()
    await until(lambda: _async(not telegram.queue), what="all confirmed")
    assert sorted(handled) == [1, 2, 3] and telegram.offsets[-1] == 4
    slow.clear()
    telegram.queue.append(_update(4, 301))
    await until(lambda: _async(4 in poller.working), what="4 at work")
    await poller.stop()  # 4 is cut off after the grace
    assert 4 not in handled and [u["update_id"] for u in telegram.queue] == [4]
    assert all(o is None or o <= 4 for o in telegram.offsets)


# ---------------------------------------------------------------------- a database outage, in process

@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_item1_updates_sent_during_a_database_outage_are_answered(db_url: str, standin: StandIn,
                                                                        tg: StandInClient, runtime: str) -> None:
    """The database goes away (PostgreSQL: the connections are cut by a proxy; SQLite: every transaction fails
    as if locked past the busy timeout); people write meanwhile; once it is back each is answered, once."""
    proxy, url = (None, db_url) if is_sqlite(db_url) else await Proxy.before(db_url)
    app = LinliApp(settings_for(url, standin, runtime), clock=OffsetClock(), run_scheduler=False)
    app.core.outage_backoff = (0.05, 0.2)
    cut: Unreachable | Proxy = proxy if proxy is not None else Unreachable(app.db)
    await app.start()
    try:
        harness = Harness(app=app, tg=tg, standin=standin, clock=app.clock)  # type: ignore[arg-type]
        for uid in USERS:
            await harness.user(uid, "邻居")
        await harness.say(USERS[0], "/help")  # the pool holds live connections when the cut comes
        cut.cut()
        for uid in USERS:
            await tg.send(uid, "/help")
        await asyncio.sleep(1.0)
        assert app.pipeline is not None and app.pipeline.in_flight == len(USERS)  # fetched, at work, waiting
        assert standin.world.bots_by_token[TOKEN].pending() == len(USERS)  # and not confirmed to Telegram
        cut.restore()
        await harness.settle(timeout=20)
        for uid in USERS:
            assert len(await answers(tg, uid)) == (2 if uid == USERS[0] else 1), uid
    finally:
        await app.stop()
        if proxy is not None:
            await proxy.stop()


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_item1_webhook_post_fails_while_not_handled(db_url: str, standin: StandIn, tg: StandInClient,
                                                          runtime: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """In webhook mode an update that could not be handled is answered 503: Telegram (the stand-in) posts it
    again, and it is answered once the database is back."""
    import web.app
    from tests.bot.test_runtime import free_port

    monkeypatch.setattr(web.app, "WEBHOOK_PATIENCE", 0.3)
    port = free_port()
    app = LinliApp(settings_for(db_url, standin, runtime, webhook_url=f"http://127.0.0.1:{port}/telegram/webhook",
                                webhook_secret="s3cret", web_port=port), clock=OffsetClock(), run_scheduler=False)
    app.core.outage_backoff = (0.05, 0.2)
    fault = Unreachable(app.db)
    await app.start()
    try:
        harness = Harness(app=app, tg=tg, standin=standin, clock=app.clock)  # type: ignore[arg-type]
        await harness.user(USERS[0], "邻居")
        fault.cut()
        await tg.send(USERS[0], "/help")
        bot = standin.world.bots_by_token[TOKEN]
        await until(lambda: _async(bot.webhook_error is not None), what="a failed webhook POST")
        assert "503" in bot.webhook_error[1]  # type: ignore[index]
        assert bot.pending() == 1
        fault.restore()
        await harness.settle(timeout=20)
        assert len(await answers(tg, USERS[0])) == 1
    finally:
        await app.stop()


async def _async(value: bool) -> bool:
    return value


# ---------------------------------------------------------------------- kill -9 and SIGTERM, real processes

def _env(db_url: str, standin: StandIn, runtime: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
    env.update(LINLI_DATABASE_URL=db_url, LINLI_BOT_TOKEN=TOKEN, LINLI_BOT_API_URL=standin.url,
               LINLI_SECRET_KEY="test-secret-key-0123456789abcdef", LINLI_RUNTIME=runtime, LINLI_THROTTLE="false",
               LINLI_RUN_SCHEDULER="false", LINLI_OUTBOX_PER_CHAT="50",
               LINLI_WEB_BOARD="false")  # tests run side by side: the board's default port is taken by the first
    return env


class Bot:
    """`linli run` in a subprocess; its stderr in a file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("ab") as err:
            self.proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "linli_cli", "run", cwd=ROOT,
                                                             env=self.env, stdout=asyncio.subprocess.DEVNULL,
                                                             stderr=err)
        await until(lambda: _async("Linli is running" in self.log.read_text() or self.proc.returncode is not None),
                    timeout=60, what="the bot to start")
        assert self.proc.returncode is None, self.log.read_text()

    async def stop(self, sig: int) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        return await asyncio.wait_for(self.proc.wait(), 30)


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_item1_kill_9_with_updates_in_flight_loses_none(db_url: str, standin: StandIn, tg: StandInClient,
                                                               runtime: str, tmp_path: Path) -> None:
    """`linli run` takes updates while the database keeps it from finishing them (SQLite: another connection holds
    the write lock; PostgreSQL: the proxy cut), is killed with SIGKILL, and started again with the database back:
    every update is answered exactly once."""
    proxy, url = (None, db_url) if is_sqlite(db_url) else await Proxy.before(db_url)
    cut: SqliteLock | Proxy = proxy if proxy is not None else SqliteLock(make_url(db_url).database or "")
    bot = Bot(_env(url, standin, runtime), tmp_path / "bot.log")
    try:
        await bot.start()
        for uid in USERS:
            await tg.create_user("邻居", id=uid, language_code="zh-hans")
        await tg.send(USERS[0], "/help")
        await until(lambda: _has_answer(tg, USERS[0]), what="the first answer")
        # … and its sent mark written: cut before it, the answer is rightly sent again after the restart (kept until
        # marked sent); waiting for the answer alone raced the mark and failed about every other run under load
        await until(lambda: _nothing_kept(url), what="the first answer's sent mark")
        cut.cut()
        for uid in USERS:
            await tg.send(uid, "/help")
        await asyncio.sleep(1.5)  # fetched by now (before the fix: and confirmed)
        assert await bot.stop(signal.SIGKILL) == -signal.SIGKILL
        cut.restore()
        await bot.start()
        assert await standin.settle(quiet_ms=300, timeout=30)
        for uid in USERS:
            assert len(await answers(tg, uid)) == (2 if uid == USERS[0] else 1), uid
        assert await bot.stop(signal.SIGTERM) == 0
    finally:
        if bot.proc is not None and bot.proc.returncode is None:
            bot.proc.kill()
            await bot.proc.wait()
        cut.restore()
        if proxy is not None:
            await proxy.stop()


async def _nothing_kept(db_url: str) -> bool:
    """No handled update's replies wait to be marked as sent."""
    engine = create_async_engine(async_url(db_url))
    try:
        async with engine.connect() as conn:
            return not (await conn.exec_driver_sql("SELECT count(*) FROM processedupdate WHERE replies IS NOT NULL")
                        ).scalar()
    finally:
        await engine.dispose()


async def _has_answer(tg: StandInClient, uid: int) -> bool:
    return bool(await answers(tg, uid))


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_item9_sigterm_stops_quietly(db_url: str, standin: StandIn, tg: StandInClient, runtime: str,
                                           tmp_path: Path) -> None:
    """A service manager's stop (SIGTERM) while Telegram is slow to answer getUpdates (PTB's own loop then logged
    a ReadTimeout traceback from its last getUpdates): exit 0, no traceback, no error in the log."""
    slow = SlowPolls(standin.url)
    await slow.start()
    env = _env(db_url, standin, runtime)
    env["LINLI_BOT_API_URL"] = slow.url
    bot = Bot(env, tmp_path / "bot.log")
    try:
        await bot.start()
        await tg.create_user("邻居", id=USERS[0], language_code="zh-hans")
        await tg.send(USERS[0], "/help")
        await until(lambda: _has_answer(tg, USERS[0]), what="the answer")
        await asyncio.sleep(0.5)  # in a long poll now
        slow.slow = True
        assert await bot.stop(signal.SIGTERM) == 0
        log = bot.log.read_text()
        assert "Traceback" not in log and " ERROR " not in log, log
    finally:
        if bot.proc is not None and bot.proc.returncode is None:
            bot.proc.kill()
            await bot.proc.wait()
        await slow.stop()
