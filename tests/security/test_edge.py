"""Issue #10, items 1, 7 and 14: the webhook's secret, forged private-chat updates, rate limits on what people
send, and the API description switched off — over real HTTP against the Bot API stand-in, both runtimes."""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlmodel import col, select

from bot.app import LinliApp
from bot.config import ConfigError, Settings
from bot.core.dispatch import PRIVATE, Core, Ctx, Router
from bot.core.i18n import N_
from bot.core.types import CallbackEvent, ChatRef, MessageEvent, UserRef
from bot.handlers import FALLBACKS, report_error
from bot.standin.client import StandInClient
from bot.standin.server import StandIn
from flows import care, membership
from flows.clock import FixedClock, OffsetClock
from flows.throttle import Limits, Rate, Throttle, Verdict
from storage.db import Database
from storage.models import OutboxMessage, ProcessedUpdate, User
from tests.bot import conftest as transcripts
from tests.bot.conftest import RUNTIMES, TOKEN, Harness, buttons, settings_for
from web.app import WebServer

standin, tg, runtime = transcripts.standin, transcripts.tg, transcripts.runtime  # the transcript fixtures
ADMIN, ATTACKER = 101, 66666
NOW = datetime(2027, 3, 1, 1, 30, tzinfo=UTC)
SECRET = "s3cret_Token-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def forged(update_id: int, text: str = "/person show 1") -> dict[str, object]:
    """The attack as it was made: the admin's user id as `from`, the attacker's private chat as `chat`."""
    return {"update_id": update_id, "message": {"message_id": 1, "date": 0, "text": text,
                                                "entities": [{"type": "bot_command", "offset": 0, "length": 7}],
                                                "chat": {"id": ATTACKER, "type": "private"},
                                                "from": {"id": ADMIN, "is_bot": False, "first_name": "x"}}}


# ---------------------------------------------------------------- item 1: the webhook's secret


def test_item1_webhook_mode_needs_a_secret_in_telegrams_format() -> None:
    def check(**kw: str) -> None:
        Settings(_env_file=None, **kw).check_webhook()  # type: ignore[call-arg]

    check()  # long polling needs none
    check(webhook_url="https://linli.example/telegram/webhook", webhook_secret="A-z_09")
    check(webhook_url="https://linli.example/telegram/webhook", webhook_secret="x" * 256)
    with pytest.raises(ConfigError, match="LINLI_WEBHOOK_SECRET must be set"):
        check(webhook_url="https://linli.example/telegram/webhook")
    for bad in ("with space", "x" * 257, "ümlaut", "semi;colon"):
        with pytest.raises(ConfigError, match="LINLI_WEBHOOK_SECRET must be 1-256 characters"):
            check(webhook_url="https://linli.example/telegram/webhook", webhook_secret=bad)


async def test_item1_linli_run_refuses_webhook_mode_without_a_secret(db_url: str, standin: StandIn) -> None:
    app = LinliApp(settings_for(db_url, standin, webhook_url="http://127.0.0.1:9/telegram/webhook"),
                   clock=OffsetClock(), run_scheduler=False)
    with pytest.raises(ConfigError, match="LINLI_WEBHOOK_SECRET"):
        await app.start()
    assert app.runtime is None and app.web is None  # nothing started, Telegram never told of the webhook
    await app.db.dispose()
    env = dict(os.environ, LINLI_DATABASE_URL=db_url, LINLI_BOT_TOKEN=TOKEN, LINLI_BOT_API_URL=standin.url,
               LINLI_SECRET_KEY="x" * 32, LINLI_WEBHOOK_URL="https://linli.example/telegram/webhook",
               LINLI_WEBHOOK_SECRET="")
    done = subprocess.run([sys.executable, "-m", "linli_cli", "run"], capture_output=True, text=True, env=env,
                          cwd=Path(__file__).resolve().parents[2], timeout=60)
    assert done.returncode == 2, done.stderr
    said = [line for line in done.stderr.splitlines() if line.startswith("linli:")]  # (other lines: INFO logs)
    assert len(said) == 1 and said[0].startswith("linli: LINLI_WEBHOOK_SECRET must be set"), done.stderr
    assert "Traceback" not in done.stderr


async def _key_person(app: LinliApp) -> None:
    async with app.db.uow(write=True) as uow:
        community = (await membership.list_communities(uow))[0]
        await care.import_row(uow, community=community, sealer=app.core.sealer, now=app.clock.now(),
                              row={"building": "3", "room": "2-401", "alias": "3-2-401 李奶奶", "name": "李秀兰",
                                   "contact": "女儿 13812345678", "groups": "solitary", "risk": "red"})
        await uow.commit()


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_item1_a_forged_webhook_update_reaches_no_one(db_url: str, standin: StandIn, tg: StandInClient,
                                                           runtime: str) -> None:
    port, bare_port = free_port(), free_port()
    url = f"http://127.0.0.1:{port}/telegram/webhook"
    app = LinliApp(settings_for(db_url, standin, runtime, webhook_url=url, webhook_secret=SECRET, web_port=port),
                   clock=OffsetClock(), run_scheduler=False)
    await app.start()
    assert app.runtime is not None
    # the same endpoint built without a secret (the app refuses to start so; the endpoint refuses too)
    bare = WebServer(app.settings.model_copy(update={"webhook_secret": "", "web_port": bare_port}), app.runtime)
    await bare.start()
    try:
        h = Harness(app=app, tg=tg, standin=standin, clock=app.clock)  # type: ignore[arg-type]
        await h.register(ADMIN, "王书记", invite=await h.create_community())
        await _key_person(app)
        assert "李秀兰" in (await h.say(ADMIN, "/person show 1"))[-1]["text"]  # the command works for the admin
        await h.user(ATTACKER, "attacker")
        await h.say(ATTACKER, "/start")  # the attacker's own chat with the bot: messages could reach it
        before = await tg.cursor()
        async with httpx.AsyncClient() as client:
            statuses = [
                (await client.post(f"http://127.0.0.1:{bare_port}/telegram/webhook", json=forged(900001))).status_code,
                (await client.post(f"http://127.0.0.1:{bare_port}/telegram/webhook", json=forged(900002),
                                   headers={"X-Telegram-Bot-Api-Secret-Token": ""})).status_code,
                (await client.post(url, json=forged(900003))).status_code,
                (await client.post(url, json=forged(900004),
                                   headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"})).status_code,
                (await client.post(url, json=forged(900005),  # the secret leaked: the dispatcher still drops it
                                   headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})).status_code,
            ]
        await h.settle()
        assert statuses == [403, 403, 401, 401, 200]
        assert await tg.bot_messages(ATTACKER, before) == []
        assert await tg.bot_messages(ADMIN, before) == []
        async with app.db.uow() as uow:
            seen = (await uow.session.exec(select(ProcessedUpdate.update_id)
                                           .where(col(ProcessedUpdate.update_id) >= 900001))).all()
        assert list(seen) == [900005]  # recorded as seen (not retried), nothing else ran
    finally:
        await bare.stop()
        await app.stop()


def _core(db: Database, calls: list[str]) -> Core:
    router = Router()

    @router.command("whoami", where=PRIVATE, description=N_("Help"), menu=False)
    async def whoami(ctx: Ctx) -> None:
        calls.append("whoami")
        ctx.reply("you")

    @router.callback("zz")
    async def press(ctx: Ctx) -> None:
        calls.append("press")

    return Core(db=db, clock=FixedClock(NOW), secret=b"s" * 32, router=router, errors=report_error,
                fallbacks=FALLBACKS)


async def test_item1_a_private_update_from_someone_else_is_dropped(db: Database,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    calls: list[str] = []
    core = _core(db, calls)
    admin = UserRef(id=ADMIN, first_name="王书记", username="wang")
    message = MessageEvent(update_id=41, chat=ChatRef(id=ATTACKER, type="private"), user=admin, message_id=1,
                           text="/whoami secret-word", command="whoami", args="secret-word")
    press = CallbackEvent(update_id=42, chat=ChatRef(id=ATTACKER, type="private"), user=admin, callback_id="c1",
                          message_id=3, data="zz")
    with caplog.at_level("DEBUG"):
        assert await core.handle(message) == []
        assert await core.handle(press) == []
        assert await core.handle(message) == []  # seen: not even logged as forged again … but never run
    assert calls == []
    logged = caplog.text
    assert "41" in logged and "MessageEvent" in logged and "CallbackEvent" in logged
    assert "secret-word" not in logged and "王书记" not in logged and "wang" not in logged and str(ATTACKER) not in logged
    async with db.uow() as uow:
        assert set((await uow.session.exec(select(ProcessedUpdate.update_id))).all()) == {41, 42}
        assert (await uow.session.exec(select(User))).all() == []  # not even the user row was touched
    own = MessageEvent(update_id=43, chat=ChatRef(id=ADMIN, type="private"), user=admin, message_id=2,
                       text="/whoami", command="whoami", args="")
    assert len(await core.handle(own)) == 1 and calls == ["whoami"]  # the sender's own chat works as ever


# ---------------------------------------------------------------- item 7: rate limits


def test_item7_throttle_burst_then_one_refusal_then_silence_until_the_window_passes() -> None:
    throttle = Throttle(Limits(person=Rate(3, 6)))
    at = iter(NOW + timedelta(milliseconds=10 * i) for i in itertools.count())
    verdicts = [throttle.check(now=next(at), user_id=1, chat_id=1) for _ in range(10)]
    assert verdicts == [Verdict.ANSWER] * 3 + [Verdict.REFUSE] + [Verdict.DROP] * 6
    assert throttle.check(now=NOW, user_id=2, chat_id=2) is Verdict.ANSWER  # others are not held back
    assert throttle.check(now=NOW + timedelta(seconds=59), user_id=1, chat_id=1) is Verdict.DROP  # still quiet
    later = NOW + timedelta(seconds=61)
    assert [throttle.check(now=later, user_id=1, chat_id=1) for _ in range(4)] == \
        [Verdict.ANSWER] * 3 + [Verdict.REFUSE]  # the window passed: a full burst again, one refusal
    assert throttle.check(now=later - timedelta(hours=1), user_id=1, chat_id=1) is Verdict.DROP  # clock going back


def test_item7_group_limits_and_a_repeated_command_answered_once() -> None:
    throttle = Throttle(Limits(group=Rate(4, 4), group_person=Rate(2, 2)))
    g = -100

    def cmd(user: int, text: str, seconds: float = 0) -> Verdict:
        return throttle.check(now=NOW + timedelta(seconds=seconds), user_id=user, chat_id=g, group_command=text)

    assert cmd(1, "help") is Verdict.ANSWER
    assert [cmd(1, "help", s) for s in (1, 30, 59)] == [Verdict.DROP] * 3  # answered once within a minute
    assert cmd(1, "help 2") is Verdict.ANSWER
    assert cmd(1, "help 3") is Verdict.REFUSE  # one person's share of the group
    assert cmd(2, "help") is Verdict.ANSWER and cmd(3, "help") is Verdict.ANSWER  # the others still get answers
    assert cmd(4, "help") is Verdict.REFUSE  # the group's budget
    assert cmd(5, "help") is Verdict.DROP
    assert throttle.check(now=NOW, user_id=6, chat_id=6) is Verdict.ANSWER  # private chats are another matter
    assert cmd(1, "help", 61) is Verdict.ANSWER  # a minute on


def test_item7_throttle_memory_is_bounded() -> None:
    throttle = Throttle(Limits(keys=100))
    for user in range(1000):
        throttle.check(now=NOW, user_id=user, chat_id=-5, group_command=f"help {user}")
    assert len(throttle._buckets) <= 100 and len(throttle._said) <= 100


async def _queued(app: LinliApp, chat_id: int) -> list[int]:
    async with app.db.uow() as uow:
        return list((await uow.session.exec(select(OutboxMessage.id).where(OutboxMessage.tg_chat_id == chat_id)))
                    .all())


async def test_item7_a_help_flood_in_a_group_gets_a_burst_and_one_refusal(db_url: str, standin: StandIn,
                                                                           tg: StandInClient, runtime: str) -> None:
    clock = OffsetClock()
    app = LinliApp(settings_for(db_url, standin, runtime, throttle=True), clock=clock, run_scheduler=False)
    await app.start()
    try:
        h = Harness(app=app, tg=tg, standin=standin, clock=clock)
        await h.register(ADMIN, "王书记", invite=await h.create_community())
        await h.user(301, "捣乱的人")  # in the group, never registered
        await h.user(302, "邻居")
        group = await h.group(-1001000000077, "3号楼楼门群", [ADMIN, 301, 302], admin=ADMIN)
        queued_before = await _queued(app, group)  # the bot's greeting when it joined
        before = await tg.cursor()
        for _ in range(40):
            await tg.send(301, "/help", chat_id=group)
        await h.settle()
        assert len(await tg.bot_messages(group, before)) == 1  # the same command within a minute: answered once
        before = await tg.cursor()
        for i in range(40):
            await tg.send(301, f"/help {i}", chat_id=group)
        await h.settle()
        said = [m["text"] for m in await tg.bot_messages(group, before)]
        burst = Limits().group_person.burst
        assert len(said) <= burst + 1 and len(said) == burst  # the rest of the burst, then one refusal
        assert "请慢一点" in said[-1] and all("请慢一点" not in s for s in said[:-1])
        assert await _queued(app, group) == queued_before  # nothing deferred for it
        out = await h.say(302, "/help", chat_id=group)
        assert len(out) == 1 and "/start" in out[0]["text"]  # a neighbour is still answered
        assert await h.say(301, "/help 0", chat_id=group) == []  # silence until the window passes
        clock.advance(seconds=61)
        assert len(await h.say(301, "/help 0", chat_id=group)) == 1
    finally:
        await app.stop()


async def test_item7_the_needs_cap_is_told_before_the_dialog(db_url: str, standin: StandIn, tg: StandInClient,
                                                             runtime: str) -> None:
    clock = OffsetClock()
    app = LinliApp(settings_for(db_url, standin, runtime, needs_per_member=2), clock=clock, run_scheduler=False)
    await app.start()
    try:
        h = Harness(app=app, tg=tg, standin=standin, clock=clock)
        await h.register(ADMIN, "王书记", invite=await h.create_community())
        await h.register(302, "邻居")
        assert "征集已开始" in (await h.say(ADMIN, "/needs open"))[-1]["text"]
        for n in (1, 2):
            out = await h.say(302, "/need")
            _, out = await h.press(302, out[-1], "设施维护")
            out = await h.say(302, f"楼道灯坏了 {n}")
            _, out = await h.press(302, out[-1], "跳过 ▶")
            _, out = await h.press(302, out[-1], "✅ 提交")
            assert f"需求 #{n}" in out[-1]["text"]
        out = await h.say(302, "/need")
        assert len(out) == 1 and "2 条需求" in out[0]["text"] and "+1" in out[0]["text"] and not buttons(out[0])
        with_en = await h.say(302, "/lang en")
        assert with_en
        assert "submitted 2 needs" in (await h.say(302, "/need"))[-1]["text"]
    finally:
        await app.stop()


# ---------------------------------------------------------------- item 14: the API description


async def test_item14_api_docs_are_off_unless_enabled() -> None:
    for enabled, expected in ((False, 404), (True, 200)):
        port = free_port()
        server = WebServer(Settings(_env_file=None, web_port=port, web_docs=enabled))  # type: ignore[call-arg]
        await server.start()
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                codes = [(await client.get(p)).status_code for p in ("/docs", "/redoc", "/openapi.json")]
                assert (await client.get("/healthz")).status_code == 200
        finally:
            await server.stop()
        assert codes == [expected] * 3, (enabled, codes)
    assert Settings(_env_file=None).web_docs is False  # type: ignore[call-arg]
