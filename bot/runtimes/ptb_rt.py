"""The python-telegram-bot 22 runtime: polling or webhook transport, and the Gateway over PTB's Bot."""

from __future__ import annotations

import json
import logging
import warnings
from datetime import timedelta
from typing import Any

from telegram import (
    Bot,
    BotCommandScope,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    InputPollOption,
    LinkPreviewOptions,
    ReplyParameters,
    Update,
)
from telegram import BotCommand as PtbBotCommand
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import Application

from bot.core.convert import UPDATE_TYPES
from bot.core.gateway import ApiError, BotCommand, Uploads
from bot.core.types import Keyboard, OutMessage, SentPoll
from bot.runtimes.base import Pipeline, PollingRuntime
from bot.runtimes.ptb_request import AiohttpRequest

log = logging.getLogger("linli.ptb")

SCOPES = {
    "all_private_chats": BotCommandScopeAllPrivateChats,
    "all_group_chats": BotCommandScopeAllGroupChats,
    "all_chat_administrators": BotCommandScopeAllChatAdministrators,
}


def _scope(scope: str, chat_id: int | None) -> BotCommandScope:
    """A menu scope by name; "chat" is one chat's own menu (a person's private chat: their menu)."""
    if scope == "chat":
        if chat_id is None:
            raise ValueError("the chat scope needs a chat id")
        return BotCommandScopeChat(chat_id=chat_id)
    return SCOPES[scope]()


def _reply(message_id: int | None) -> ReplyParameters | None:
    return ReplyParameters(message_id=message_id, allow_sending_without_reply=True) if message_id else None


def _markup(message: OutMessage) -> InlineKeyboardMarkup | None:
    if not message.buttons:
        return None
    return InlineKeyboardMarkup([
        [InlineKeyboardButton(b.text, callback_data=b.data, url=b.url) for b in row] for row in message.buttons
    ])


def _is_upload(ref: str) -> bool:
    """The same rule as the aiogram runtime: URLs and file_ids go as strings, paths are uploaded."""
    return not ref.startswith(("http://", "https://")) and "/" in ref


def _seconds(err: RetryAfter) -> float:
    # PTB 22 gives an int (deprecated, with a warning) or a timedelta (PTB_TIMEDELTA=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = err.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _maybe_sent(err: NetworkError) -> bool:
    """Whether the request may have reached Telegram before it failed: a read/write timeout or a connection
    lost mid-call (not a pool timeout, not a connection that could not be opened, not an HTTP error status)."""
    if isinstance(err, TimedOut):
        return "pool" not in err.message.lower()
    cause = err.__cause__
    return cause is not None and type(cause).__module__.startswith(("aiohttp", "httpx")) \
        and "Connect" not in type(cause).__name__


class PtbGateway:
    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self.uploads = Uploads()

    async def _call(self, coro: Any) -> Any:
        try:
            return await coro
        except RetryAfter as e:
            raise ApiError(ApiError.RETRY_AFTER, e.message, _seconds(e)) from e
        except Forbidden as e:
            raise ApiError(ApiError.FORBIDDEN, e.message) from e
        except (BadRequest, ChatMigrated) as e:  # BadRequest first: it is a NetworkError subclass
            raise ApiError(ApiError.BAD_REQUEST, e.message) from e
        except NetworkError as e:  # TimedOut, 5xx, connection failures
            raise ApiError(ApiError.TRANSIENT, e.message, maybe_sent=_maybe_sent(e)) from e
        except TelegramError as e:
            if e.message != "Invalid server response":  # InvalidToken and the like: not ours to hide
                raise
            raise ApiError(ApiError.TRANSIENT, e.message) from e  # an answer that is not JSON

    async def send(self, chat_id: int, message: OutMessage, reply_to: int | None = None) -> int:
        if message.voice:  # a voice message we received, passed on by its file_id
            sent = await self._call(self.bot.send_voice(chat_id, message.voice, caption=message.text or None,
                                                        parse_mode="HTML", reply_markup=_markup(message),
                                                        reply_parameters=_reply(reply_to)))
            return int(sent.message_id)
        if message.photo:
            photo = message.photo

            async def send_photo(file_id: str | None) -> tuple[int, str | None]:
                if file_id is None and _is_upload(photo):
                    with open(photo, "rb") as file:
                        sent = await self._call(self.bot.send_photo(chat_id, file, caption=message.text,
                                                                    parse_mode="HTML", reply_markup=_markup(message),
                                                                    reply_parameters=_reply(reply_to)))
                else:
                    sent = await self._call(self.bot.send_photo(chat_id, file_id or photo, caption=message.text,
                                                                parse_mode="HTML", reply_markup=_markup(message),
                                                                reply_parameters=_reply(reply_to)))
                return int(sent.message_id), (sent.photo[-1].file_id if sent.photo else None)

            return await self.uploads.send(photo, send_photo)
        sent = await self._call(self.bot.send_message(
            chat_id, message.text, parse_mode="HTML", reply_markup=_markup(message), reply_parameters=_reply(reply_to),
            link_preview_options=LinkPreviewOptions(is_disabled=True) if message.disable_preview else None))
        return int(sent.message_id)

    async def edit(self, chat_id: int, message_id: int, message: OutMessage) -> None:
        if message.photo:  # a photo's message: its caption is what changes
            await self._call(self.bot.edit_message_caption(
                chat_id=chat_id, message_id=message_id, caption=message.text, parse_mode="HTML",
                reply_markup=_markup(message)))
            return
        await self._call(self.bot.edit_message_text(
            text=message.text, chat_id=chat_id, message_id=message_id, parse_mode="HTML",
            reply_markup=_markup(message), link_preview_options=LinkPreviewOptions(is_disabled=True)))

    async def edit_buttons(self, chat_id: int, message_id: int, buttons: Keyboard) -> None:
        await self._call(self.bot.edit_message_reply_markup(
            chat_id=chat_id, message_id=message_id, reply_markup=_markup(OutMessage(text="", buttons=buttons))))

    async def answer(self, callback_id: str, text: str, alert: bool) -> None:
        await self._call(self.bot.answer_callback_query(callback_id, text=text or None, show_alert=alert or None))

    async def pin(self, chat_id: int, message_id: int) -> None:
        await self._call(self.bot.pin_chat_message(chat_id, message_id, disable_notification=True))

    async def delete(self, chat_id: int, message_id: int) -> None:
        await self._call(self.bot.delete_message(chat_id, message_id))

    async def download(self, file_id: str) -> bytes:
        file = await self._call(self.bot.get_file(file_id))
        return bytes(await self._call(file.download_as_bytearray()))

    async def send_poll(self, chat_id: int, question: str, options: list[str], *, anonymous: bool,
                        reply_to: int | None = None) -> SentPoll:
        sent = await self._call(self.bot.send_poll(
            chat_id, question, [InputPollOption(o) for o in options], is_anonymous=anonymous,
            reply_parameters=_reply(reply_to)))
        assert sent.poll is not None
        return SentPoll(message_id=int(sent.message_id), poll_id=str(sent.poll.id))

    async def stop_poll(self, chat_id: int, message_id: int) -> None:
        await self._call(self.bot.stop_poll(chat_id, message_id))

    async def send_document(self, chat_id: int, filename: str, data: bytes, caption: str = "") -> int:
        sent = await self._call(self.bot.send_document(chat_id, InputFile(data, filename=filename),
                                                       caption=caption or None, parse_mode="HTML"))
        return int(sent.message_id)

    async def set_commands(self, commands: list[BotCommand], scope: str, language: str | None, *,
                           chat_id: int | None = None) -> None:
        await self._call(self.bot.set_my_commands(
            [PtbBotCommand(c.command, c.description) for c in commands],
            scope=_scope(scope, chat_id), language_code=language))

    async def me(self) -> tuple[int, str]:
        me = await self._call(self.bot.get_me())
        return int(me.id), str(me.username or "")


class PtbRuntime(PollingRuntime):
    """PTB's Bot as the client; the polling loop is ours (bot/runtimes/base.py: Poller), because PTB's own
    confirms a batch to Telegram before its updates are handled (and logs a traceback when stopped mid-poll)."""

    def __init__(self, token: str, api_url: str = "", *, call_timeout: float = 15.0) -> None:
        builder = Application.builder().token(token).updater(None).job_queue(None).persistence(None)
        # every Bot API call but getUpdates (its own long-poll timeout): PTB's 5 s read timeout cut slow sends
        # short, and a send Telegram took but did not answer in time goes out twice. Over aiohttp rather than
        # PTB's httpx: half the CPU per call (bot/runtimes/ptb_request.py)
        timeouts = {"read_timeout": call_timeout, "connect_timeout": min(call_timeout, 10.0)}
        builder = builder.request(AiohttpRequest(**timeouts)).get_updates_request(AiohttpRequest(**timeouts, pool_size=1))
        if api_url:
            base = api_url.rstrip("/")
            builder = builder.base_url(base + "/bot").base_file_url(base + "/file/bot")
        self.app = builder.build()
        self.gateway = PtbGateway(self.app.bot)
        self._pipeline: Pipeline | None = None
        self._initialized = False

    async def _fetch(self, offset: int | None, timeout: int, limit: int) -> list[dict[str, Any]]:
        # the Bot API's own dicts: the poll asks again for updates still at work (bot/runtimes/base.py: Poller),
        # so no Update is built per update (and turned into JSON again for the pipeline). Bot API method names
        # are case-insensitive: "getupdates", because PTB warns when a method it has is called by its own name.
        args = {"offset": offset, "limit": limit, "timeout": timeout, "allowed_updates": UPDATE_TYPES}
        got = await self.gateway._call(self.app.bot.do_api_request(
            "getupdates", api_kwargs={k: v for k, v in args.items() if v is not None}, read_timeout=timeout + 10))
        return list(got)

    async def start(self, pipeline: Pipeline, *, webhook_url: str, webhook_secret: str) -> None:
        self._pipeline = pipeline
        self._initialized = True
        await self.app.initialize()
        if webhook_url:
            await self.app.bot.set_webhook(webhook_url, secret_token=webhook_secret or None,
                                           allowed_updates=UPDATE_TYPES)
            return
        await self.app.bot.delete_webhook()
        self._poll(self._fetch, pipeline.process)

    async def feed_webhook(self, update: dict[str, Any]) -> None:
        """Handle one update posted to the webhook; raises when it could not be handled (the POST then fails
        and Telegram posts it again)."""
        assert self._pipeline is not None
        parsed = Update.de_json(update, self.app.bot)
        await self._pipeline.process(json.loads(parsed.to_json()))

    async def stop(self) -> None:
        await self.stop_polling()
        if self._initialized:
            await self.app.shutdown()
        else:  # never started: only the gateway's HTTP client (me(), set_commands) is open
            await self.app.bot.request.shutdown()
