"""The python-telegram-bot runtime against the Bot API stand-in: every Gateway call, the error
mapping, the very same requests as the aiogram runtime, and the polling/webhook transports."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import telegram
from aiogram import Bot as AgBot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiohttp import web
from PIL import Image

from bot.core.convert import UPDATE_TYPES, event_from_update
from bot.core.gateway import ApiError, BotCommand, Gateway
from bot.core.types import Button, CallbackEvent, MessageEvent, OutMessage
from bot.runtimes.aiogram_rt import AiogramGateway
from bot.runtimes.ptb_rt import PtbGateway, PtbRuntime
from bot.standin.client import StandInClient
from bot.standin.limits import RateLimits
from bot.standin.server import StandIn
from bot.standin.spec import UploadedFile

TOKEN = "7000000002:PTB-gateway-test-token"
USERNAME = "linli_ptb_bot"
GROUP = -1001000000777
URL = "https://example.org/a?b=1&c=2"


def png(color: str = "red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
async def server() -> AsyncIterator[StandIn]:
    standin = StandIn(limits=RateLimits(enabled=False))
    await standin.start()
    standin.create_bot(TOKEN, USERNAME, "邻里助手")
    yield standin
    await standin.stop()


@pytest.fixture
async def tg(server: StandIn) -> AsyncIterator[StandInClient]:
    client = StandInClient(server.url)
    yield client
    await client.close()


@pytest.fixture
async def ptb(server: StandIn) -> AsyncIterator[PtbGateway]:
    bot = telegram.Bot(TOKEN, base_url=server.url + "/bot", base_file_url=server.url + "/file/bot")
    async with bot:
        yield PtbGateway(bot)


@pytest.fixture
async def aio(server: StandIn) -> AsyncIterator[AiogramGateway]:
    bot = AgBot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(server.url)))
    yield AiogramGateway(bot)
    await bot.session.close()


@pytest.fixture
async def uid(tg: StandInClient) -> int:
    """A user who has started the bot (a bot cannot write first)."""
    user = await tg.create_user("小周", id=20001, language_code="zh-hans")
    await tg.send(user["id"], "/start")
    return int(user["id"])


@pytest.fixture
async def gid(tg: StandInClient, uid: int) -> int:
    """A supergroup where the bot is an administrator."""
    await tg.create_user("王书记", id=20002)
    await tg.create_chat("5号楼楼门群", member_ids=[uid, 20002], id=GROUP, admin_ids=[20002], owner_id=20002)
    await tg.set_bot_membership(GROUP, "administrator", by_user_id=20002)
    return GROUP


async def stored(tg: StandInClient, chat_id: int, message_id: int) -> dict[str, Any]:
    messages = (await tg.transcript(chat_id))["messages"]
    return next(m for m in messages if m["message_id"] == message_id and m["is_bot"])


async def tap_and_answer(tg: StandInClient, server: StandIn, uid: int, message_id: int,
                         answer: Callable[[str], Awaitable[None]]) -> dict[str, Any] | None:
    """The user taps the message's first button; `answer(callback_id)` answers it; returns the toast."""
    before = set(server.world.callbacks)
    tapping = asyncio.create_task(tg.tap(uid, uid, message_id, text="Yes", wait=5))
    deadline = time.monotonic() + 5
    while not (new := set(server.world.callbacks) - before):
        assert time.monotonic() < deadline, "the tap never arrived"
        await asyncio.sleep(0.01)
    await answer(new.pop())
    return (await tapping)["answer"]


def kb() -> list[list[Button]]:
    return [[Button("Yes", data="y:1"), Button("No", data="n")], [Button("Site", url=URL)]]


MARKUP = {"inline_keyboard": [[{"text": "Yes", "callback_data": "y:1"}, {"text": "No", "callback_data": "n"}],
                              [{"text": "Site", "url": URL}]]}


# ---------------------------------------------------------------------- every call


async def test_me(ptb: PtbGateway) -> None:
    assert await ptb.me() == (7000000002, USERNAME)


async def test_send_text_with_buttons(ptb: PtbGateway, tg: StandInClient, uid: int) -> None:
    mid = await ptb.send(uid, OutMessage("<b>你好</b> &amp; <a href=\"https://example.org\">link</a>", kb()))
    msg = await stored(tg, uid, mid)
    assert msg["text"] == "你好 & link"
    assert [e["type"] for e in msg["entities"]] == ["bold", "text_link"]
    assert msg["html"] == "<b>你好</b> &amp; <a href=\"https://example.org\">link</a>"
    assert msg["reply_markup"] == MARKUP
    plain = await ptb.send(uid, OutMessage("no buttons"))
    assert (await stored(tg, uid, plain))["reply_markup"] is None


async def test_send_photo_upload_file_id_and_url(ptb: PtbGateway, tg: StandInClient, server: StandIn,
                                                 uid: int, tmp_path: Path) -> None:
    path = tmp_path / "notice.png"
    path.write_bytes(png())
    mid = await ptb.send(uid, OutMessage("<i>通知</i>", [[Button("Yes", data="y")]], photo=str(path)))
    msg = await stored(tg, uid, mid)
    assert msg["caption"] == "通知" and msg["caption_entities"][0]["type"] == "italic"
    assert msg["reply_markup"] == {"inline_keyboard": [[{"text": "Yes", "callback_data": "y"}]]}
    file_id = msg["photo"]["file_id"]
    assert Image.open(io.BytesIO(await tg.file_bytes(file_id))).size == (64, 48)

    again = await ptb.send(uid, OutMessage("again", photo=file_id))
    assert (await stored(tg, uid, again))["photo"]["file_id"] == file_id

    file = await ptb.bot.get_file(file_id)  # PTB makes file_path the full download URL
    assert file.file_path is not None and file.file_path.startswith(f"{server.url}/file/bot{TOKEN}/")
    by_url = await ptb.send(uid, OutMessage("from a URL", photo=file.file_path))
    assert (await stored(tg, uid, by_url))["photo"] is not None


async def test_edit(ptb: PtbGateway, tg: StandInClient, uid: int) -> None:
    mid = await ptb.send(uid, OutMessage("before", kb()))
    await ptb.edit(uid, mid, OutMessage("<b>after</b>", [[Button("Yes", data="y:2")]]))
    msg = await stored(tg, uid, mid)
    assert msg["edited"] and msg["text"] == "after" and msg["html"] == "<b>after</b>"
    assert msg["reply_markup"] == {"inline_keyboard": [[{"text": "Yes", "callback_data": "y:2"}]]}
    await ptb.edit(uid, mid, OutMessage("buttons gone"))
    assert (await stored(tg, uid, mid))["reply_markup"] is None


async def test_answer_callback(ptb: PtbGateway, tg: StandInClient, server: StandIn, uid: int) -> None:
    mid = await ptb.send(uid, OutMessage("press", kb()))
    toast = await tap_and_answer(tg, server, uid, mid, lambda cid: ptb.answer(cid, "已处理", True))
    assert toast is not None and toast["text"] == "已处理" and toast["show_alert"] is True
    toast = await tap_and_answer(tg, server, uid, mid, lambda cid: ptb.answer(cid, "", False))
    assert toast is not None and not toast["text"] and toast["show_alert"] is False


async def test_pin(ptb: PtbGateway, tg: StandInClient, gid: int) -> None:
    mid = await ptb.send(gid, OutMessage("📌 停水通知"))
    await ptb.pin(gid, mid)
    assert (await stored(tg, gid, mid))["pinned"]


async def test_set_commands_every_scope(ptb: PtbGateway) -> None:
    scopes = {
        "all_private_chats": telegram.BotCommandScopeAllPrivateChats(),
        "all_group_chats": telegram.BotCommandScopeAllGroupChats(),
        "all_chat_administrators": telegram.BotCommandScopeAllChatAdministrators(),
    }
    for n, scope in enumerate(scopes):
        for lang in (None, "zh", "en"):
            await ptb.set_commands([BotCommand("start", f"开始 {n} {lang}"), BotCommand("help", "帮助")], scope, lang)
    for n, ptb_scope in enumerate(scopes.values()):
        for lang in (None, "zh", "en"):
            got = await ptb.bot.get_my_commands(scope=ptb_scope, language_code=lang)
            assert [(c.command, c.description) for c in got] == [("start", f"开始 {n} {lang}"), ("help", "帮助")]
    assert await ptb.bot.get_my_commands() == ()  # the default scope was never touched


# ---------------------------------------------------------------------- errors


async def test_too_long_text_is_bad_request(ptb: PtbGateway, uid: int) -> None:
    with pytest.raises(ApiError) as caught:
        await ptb.send(uid, OutMessage("x" * 4097))
    assert caught.value.kind == ApiError.BAD_REQUEST and caught.value.description


async def test_stale_edit_is_bad_request(ptb: PtbGateway, uid: int) -> None:
    with pytest.raises(ApiError) as caught:
        await ptb.edit(uid, 999_999, OutMessage("x"))
    assert caught.value.kind == ApiError.BAD_REQUEST


async def test_blocked_user_is_forbidden(ptb: PtbGateway, tg: StandInClient, uid: int) -> None:
    await tg.block(uid)
    with pytest.raises(ApiError) as caught:
        await ptb.send(uid, OutMessage("hello?"))
    assert caught.value.kind == ApiError.FORBIDDEN


async def test_user_who_never_started_is_forbidden(ptb: PtbGateway, tg: StandInClient) -> None:
    user = await tg.create_user("陌生人")
    with pytest.raises(ApiError) as caught:
        await ptb.send(user["id"], OutMessage("hello?"))
    assert caught.value.kind == ApiError.FORBIDDEN


async def test_429_is_retry_after(ptb: PtbGateway, tg: StandInClient, uid: int) -> None:
    await tg.set_faults(share_429=1.0)
    with pytest.raises(ApiError) as caught:
        await ptb.send(uid, OutMessage("flood"))
    assert caught.value.kind == ApiError.RETRY_AFTER
    assert isinstance(caught.value.retry_after, float) and caught.value.retry_after >= 1


async def test_429_with_timedelta_retry_after(ptb: PtbGateway, tg: StandInClient, uid: int,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")  # PTB 22's opt-in: retry_after becomes a timedelta
    await tg.set_faults(share_429=1.0)
    with pytest.raises(ApiError) as caught:
        await ptb.send(uid, OutMessage("flood"))
    assert caught.value.kind == ApiError.RETRY_AFTER and caught.value.retry_after == 1.0


async def test_real_rate_limit_is_retry_after(ptb: PtbGateway, tg: StandInClient, uid: int) -> None:
    await tg.set_limits(enabled=True)
    with pytest.raises(ApiError) as caught:
        for i in range(10):
            await ptb.send(uid, OutMessage(f"m{i}"))
    assert caught.value.kind == ApiError.RETRY_AFTER and caught.value.retry_after >= 1


@pytest.mark.parametrize("fault", ["share_5xx", "share_drop"])
async def test_server_error_and_dropped_connection_are_transient(ptb: PtbGateway, tg: StandInClient, uid: int,
                                                                 fault: str) -> None:
    await tg.set_faults(**{fault: 1.0})
    with pytest.raises(ApiError) as caught:
        await ptb.send(uid, OutMessage("hello"))
    assert caught.value.kind == ApiError.TRANSIENT
    with pytest.raises(ApiError) as caught:
        await ptb.edit(uid, 1, OutMessage("hello"))
    assert caught.value.kind == ApiError.TRANSIENT


async def test_unreachable_server_is_transient() -> None:
    bot = telegram.Bot(TOKEN, base_url="http://127.0.0.1:9/bot")  # nothing listens on port 9
    try:
        with pytest.raises(ApiError) as caught:
            await PtbGateway(bot).send(1, OutMessage("x"))
        assert caught.value.kind == ApiError.TRANSIENT
    finally:
        await bot.request.shutdown()


async def test_invalid_token_propagates(server: StandIn) -> None:
    bot = telegram.Bot("1:wrong", base_url=server.url + "/bot")
    try:
        with pytest.raises(telegram.error.InvalidToken):
            await PtbGateway(bot).me()
    finally:
        await bot.request.shutdown()


# ---------------------------------------------------------------------- parity with aiogram


def _plain(value: Any) -> Any:
    if isinstance(value, UploadedFile):
        return ("upload", value.data)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@pytest.fixture
def requests(server: StandIn) -> list[tuple[str, dict[str, Any]]]:
    """Every Bot API call the stand-in runs, with its validated parameters."""
    seen: list[tuple[str, dict[str, Any]]] = []
    for method, handler in list(server.api.handlers.items()):
        if method == "getUpdates":
            continue

        async def recording(bot: Any, params: dict[str, Any], uploads: dict[str, UploadedFile], _m: str = method,
                            _h: Any = handler) -> Any:
            # aiogram uploads as attach://<part>, PTB as a part named like the parameter: both are the file
            resolved = {k: uploads.get(v[len("attach://"):], v) if isinstance(v, str) and v.startswith("attach://")
                        else v for k, v in params.items()}
            seen.append((_m, _plain(resolved)))
            return await _h(bot, params, uploads)

        server.api.handlers[method] = recording
    return seen


def _comparable(value: Any) -> Any:
    """Ids that necessarily differ between two runs (message and callback ids) blanked out."""
    if isinstance(value, dict):
        return {k: "<id>" if k in ("message_id", "callback_query_id") else _comparable(v) for k, v in value.items()}
    return value


async def _every_call(gateway: Gateway, tg: StandInClient, server: StandIn, uid: int, gid: int,
                      photo: str) -> list[dict[str, Any]]:
    """Run every Gateway call once; return the bot messages it left in the transcripts."""
    messages = [
        (uid, await gateway.send(uid, OutMessage("<b>粗体</b> <i>斜体</i> <code>x &lt; y</code>\n" + URL, kb()))),
        (uid, await gateway.send(uid, OutMessage("preview allowed " + URL, disable_preview=False))),
        (uid, await gateway.send(uid, OutMessage("<u>photo</u>", kb(), photo=photo))),
        (gid, await gateway.send(gid, OutMessage("<s>group</s> <tg-spoiler>s</tg-spoiler>"))),
    ]
    edited = messages[0][1]
    await gateway.edit(uid, edited, OutMessage("<b>edited</b> " + URL, [[Button("Yes", data="y:2")]]))
    await gateway.pin(gid, messages[3][1])
    await tap_and_answer(tg, server, uid, edited, lambda cid: gateway.answer(cid, "好的", True))
    await tap_and_answer(tg, server, uid, edited, lambda cid: gateway.answer(cid, "", False))
    for scope in ("all_private_chats", "all_group_chats", "all_chat_administrators"):
        await gateway.set_commands([BotCommand("help", "帮助")], scope, "zh")
    await gateway.set_commands([BotCommand("start", "Start")], "all_private_chats", None)
    await gateway.me()
    keep = ("text", "entities", "caption", "caption_entities", "html", "reply_markup", "edited", "pinned")
    out = []
    for chat_id, mid in messages:
        msg = await stored(tg, chat_id, mid)
        out.append({k: msg[k] for k in keep} | {"photo": msg["photo"] and msg["photo"]["file_id"]})
    return out


async def test_same_requests_and_messages_as_aiogram(aio: AiogramGateway, ptb: PtbGateway, tg: StandInClient,
                                                     server: StandIn, uid: int, gid: int, tmp_path: Path,
                                                     requests: list[tuple[str, dict[str, Any]]]) -> None:
    path = tmp_path / "notice.png"
    path.write_bytes(png("blue"))
    file_id = (await stored(tg, uid, await aio.send(uid, OutMessage("src", photo=str(path)))))["photo"]["file_id"]
    aio.uploads = type(aio.uploads)()  # forget that upload: both gateways start alike (see gateway.Uploads)
    for photo in (str(path), file_id):
        results = []
        for gateway in (aio, ptb):
            requests.clear()
            results.append((await _every_call(gateway, tg, server, uid, gid, photo), list(requests)))
        (ag_msgs, ag_calls), (ptb_msgs, ptb_calls) = results
        if photo == str(path):  # every upload makes a new file_id
            for msgs in (ag_msgs, ptb_msgs):
                msgs[2]["photo"] = bool(msgs[2]["photo"])
        assert ptb_msgs == ag_msgs
        assert [m for m, _ in ptb_calls] == [m for m, _ in ag_calls]
        for (method, ag_params), (_, ptb_params) in zip(ag_calls, ptb_calls, strict=True):
            assert _comparable(ptb_params) == _comparable(ag_params), method
        uploaded = dict(ptb_calls)["sendPhoto"]["photo"]
        assert uploaded == (("upload", path.read_bytes()) if photo == str(path) else file_id)


async def test_same_stored_message_for_one_out_message(aio: AiogramGateway, ptb: PtbGateway, tg: StandInClient,
                                                       uid: int) -> None:
    message = OutMessage("<b>停水通知</b>\n3号楼 <i>明天</i> 9:00–12:00 &lt;维修&gt; <a href=\"https://example.org\">详情</a>",
                         kb())
    a = await stored(tg, uid, await aio.send(uid, message))
    p = await stored(tg, uid, await ptb.send(uid, message))
    for key in ("text", "entities", "html", "rendered_html", "reply_markup"):
        assert p[key] == a[key], key


# ---------------------------------------------------------------------- the runtime


class Recorder:
    """A stand-in for the Pipeline: keeps the update dicts the runtime hands over."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.updates: list[dict[str, Any]] = []
        self.fail_on = fail_on
        self.arrived = asyncio.Event()

    async def process(self, update: dict[str, Any]) -> None:
        self.updates.append(update)
        self.arrived.set()
        event = event_from_update(update, USERNAME)
        if self.fail_on and isinstance(event, MessageEvent) and event.text == self.fail_on:
            raise RuntimeError("boom")

    async def wait_for(self, kind: str, count: int = 1, timeout: float = 10) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(got := [u for u in self.updates if kind in u]) < count:
            assert time.monotonic() < deadline, f"no {kind} update arrived: {self.updates}"
            self.arrived.clear()
            try:
                await asyncio.wait_for(self.arrived.wait(), 0.2)
            except TimeoutError:
                pass
        return got


@pytest.fixture
async def runtime(server: StandIn) -> AsyncIterator[PtbRuntime]:
    rt = PtbRuntime(TOKEN, server.url)
    yield rt
    await rt.stop()


async def test_polling_hands_over_bot_api_dicts(runtime: PtbRuntime, tg: StandInClient, server: StandIn,
                                                uid: int, gid: int) -> None:
    rec = Recorder()
    await runtime.start(rec, webhook_url="", webhook_secret="")  # type: ignore[arg-type]
    await rec.wait_for("message")
    first = next(u for u in rec.updates if (u.get("message") or {}).get("text") == "/start")  # sent before start
    assert server.world.bots_by_token[TOKEN].allowed_updates == UPDATE_TYPES
    event = event_from_update(first, USERNAME)
    assert isinstance(event, MessageEvent) and event.command == "start" and event.user is not None
    assert event.user.id == uid and event.user.first_name == "小周" and event.chat is not None
    assert "from" in first["message"] and "from_user" not in json.dumps(first)
    json.dumps(first)  # plain JSON, nothing PTB-specific left inside

    mid = await runtime.gateway.send(uid, OutMessage("press", kb()))
    tapping = asyncio.create_task(tg.tap(uid, uid, mid, text="Yes", wait=5))
    (cq,) = await rec.wait_for("callback_query")
    event = event_from_update(cq, USERNAME)
    assert isinstance(event, CallbackEvent) and event.data == "y:1" and event.message_id == mid
    assert event.user is not None and event.user.id == uid
    await runtime.gateway.answer(event.callback_id, "ok", False)
    assert (await tapping)["answer"]["text"] == "ok"

    bot_status = await rec.wait_for("my_chat_member")
    assert bot_status[-1]["my_chat_member"]["new_chat_member"]["status"] == "administrator"
    assert bot_status[-1]["my_chat_member"]["from"]["id"] == 20002

    group_msg = await runtime.gateway.send(gid, OutMessage("react to me"))
    await tg.react(uid, gid, group_msg, "👍")
    (reaction,) = await rec.wait_for("message_reaction")
    assert event_from_update(reaction, USERNAME).emoji == ("👍",)  # type: ignore[union-attr]

    count = len(await rec.wait_for("message"))
    await tg.send(uid, "/help@" + USERNAME, chat_id=gid)
    in_group = (await rec.wait_for("message", count + 1))[-1]
    event = event_from_update(in_group, USERNAME)
    assert isinstance(event, MessageEvent) and event.command == "help" and event.chat is not None
    assert event.chat.is_group and not event.addressed_to_other_bot


async def test_poll_answers_arrive(runtime: PtbRuntime, tg: StandInClient, uid: int, gid: int) -> None:
    rec = Recorder()
    await runtime.start(rec, webhook_url="", webhook_secret="")  # type: ignore[arg-type]
    poll = await runtime.app.bot.send_poll(gid, "几点开会？", ["9:00", "10:00"], is_anonymous=False)
    await tg.answer_poll(uid, poll.poll.id, [1])
    (answer,) = await rec.wait_for("poll_answer")
    event = event_from_update(answer, USERNAME)
    assert event.user is not None and event.user.id == uid and event.option_ids == (1,)  # type: ignore[union-attr]


async def test_handler_failure_does_not_stop_polling(runtime: PtbRuntime, tg: StandInClient, uid: int,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    rec = Recorder(fail_on="秘密 secret text")
    await runtime.start(rec, webhook_url="", webhook_secret="")  # type: ignore[arg-type]
    await rec.wait_for("message")
    with caplog.at_level(logging.ERROR, logger="linli.runtime"):
        await tg.send(uid, "秘密 secret text")
        await rec.wait_for("message", 2)
        await tg.send(uid, "still there?")
        later = await rec.wait_for("message", 3)
    assert later[-1]["message"]["text"] == "still there?"
    failures = [r for r in caplog.records if r.name == "linli.runtime"]  # the polling loop (runtimes/base.py)
    assert failures and "RuntimeError" in failures[0].getMessage()
    assert all("秘密" not in r.getMessage() and "小周" not in r.getMessage() for r in caplog.records)


async def test_stop_is_prompt_while_long_polling(server: StandIn, uid: int) -> None:
    rt = PtbRuntime(TOKEN, server.url)
    rec = Recorder()
    await rt.start(rec, webhook_url="", webhook_secret="")  # type: ignore[arg-type]
    await rec.wait_for("message")
    await asyncio.sleep(0.5)  # now inside a 10 s getUpdates
    started = time.monotonic()
    await asyncio.wait_for(rt.stop(), 8)
    assert time.monotonic() - started < 5
    assert not rt.app.running


async def test_stop_without_start(server: StandIn) -> None:
    rt = PtbRuntime(TOKEN, server.url)
    assert await rt.gateway.me() == (7000000002, USERNAME)
    await asyncio.wait_for(rt.stop(), 5)


async def test_webhook_mode(runtime: PtbRuntime, server: StandIn, tg: StandInClient, uid: int) -> None:
    """The stand-in posts to a small web endpoint that does what web/app.py does: feed_webhook."""
    rec = Recorder()
    seen_secret: list[str | None] = []

    async def hook(request: web.Request) -> web.Response:
        seen_secret.append(request.headers.get("X-Telegram-Bot-Api-Secret-Token"))
        await runtime.feed_webhook(await request.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/tg", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        await runtime.start(rec, webhook_url=f"http://127.0.0.1:{port}/tg",  # type: ignore[arg-type]
                            webhook_secret="s3cret_token")
        info = await runtime.app.bot.get_webhook_info()
        assert info.url == f"http://127.0.0.1:{port}/tg" and list(info.allowed_updates or []) == UPDATE_TYPES
        assert runtime.app.updater is None or not runtime.app.updater.running
        (first,) = await rec.wait_for("message")
        assert event_from_update(first, USERNAME).command == "start"  # type: ignore[union-attr]
        await tg.send(uid, "/me")
        second = (await rec.wait_for("message", 2))[-1]
        assert second["message"]["from"]["id"] == uid and second["message"]["text"] == "/me"
        assert seen_secret and set(seen_secret) == {"s3cret_token"}
    finally:
        await runtime.stop()
        await runner.cleanup()
