"""The python-telegram-bot 22 runtime: polling or webhook transport, and the Gateway over PTB's Bot."""

from __future__ import annotations

import json
import logging
import warnings
from datetime import timedelta
from typing import Any

from telegram import (
    Bot,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputPollOption,
    LinkPreviewOptions,
    ReplyParameters,
    Update,
)
from telegram import BotCommand as PtbBotCommand
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter
from telegram.ext import Application, ContextTypes, TypeHandler

from bot.core.convert import UPDATE_TYPES
from bot.core.gateway import ApiError, BotCommand, Uploads
from bot.core.types import Keyboard, OutMessage, SentPoll
from bot.runtimes.base import Pipeline

log = logging.getLogger("linli.ptb")

SCOPES = {
    "all_private_chats": BotCommandScopeAllPrivateChats,
    "all_group_chats": BotCommandScopeAllGroupChats,
    "all_chat_administrators": BotCommandScopeAllChatAdministrators,
}


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
            raise ApiError(ApiError.TRANSIENT, e.message) from e

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

    async def set_commands(self, commands: list[BotCommand], scope: str, language: str | None) -> None:
        await self._call(self.bot.set_my_commands(
            [PtbBotCommand(c.command, c.description) for c in commands],
            scope=SCOPES[scope](), language_code=language))

    async def me(self) -> tuple[int, str]:
        me = await self._call(self.bot.get_me())
        return int(me.id), str(me.username or "")


class PtbRuntime:
    def __init__(self, token: str, api_url: str = "") -> None:
        builder = Application.builder().token(token).concurrent_updates(True).job_queue(None).persistence(None)
        if api_url:
            base = api_url.rstrip("/")
            builder = builder.base_url(base + "/bot").base_file_url(base + "/file/bot")
        self.app = builder.build()
        self.gateway = PtbGateway(self.app.bot)
        self._pipeline: Pipeline | None = None
        self._initialized = False
        # One thin handler for every kind of update we ask for: the core does the rest.
        self.app.add_handler(TypeHandler(Update, self._on_update))
        self.app.add_error_handler(self._on_error)

    async def _on_update(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        assert self._pipeline is not None
        # to_json, not to_dict: plain JSON values (enums → str, dates → int) with Bot API names ("from")
        await self._pipeline.process(json.loads(update.to_json()))

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        update_id = update.update_id if isinstance(update, Update) else None
        err = context.error
        log.error("update %s failed (%s)", update_id, type(err).__name__,
                  exc_info=(type(err), err, err.__traceback__) if err is not None else None)

    async def start(self, pipeline: Pipeline, *, webhook_url: str, webhook_secret: str) -> None:
        self._pipeline = pipeline
        self._initialized = True
        await self.app.initialize()
        if webhook_url:
            await self.app.bot.set_webhook(webhook_url, secret_token=webhook_secret or None,
                                           allowed_updates=UPDATE_TYPES)
            await self.app.start()
            return
        if not self.app.running:  # polling again after stop_polling: the application still runs
            await self.app.start()
        assert self.app.updater is not None
        # start_polling calls deleteWebhook itself
        await self.app.updater.start_polling(allowed_updates=UPDATE_TYPES, timeout=10, drop_pending_updates=False)

    async def feed_webhook(self, update: dict[str, Any]) -> None:
        await self.app.process_update(Update.de_json(update, self.app.bot))

    async def stop_polling(self) -> None:
        try:
            if self.app.updater is not None and self.app.updater.running:
                await self.app.updater.stop()
        except RuntimeError as exc:
            log.warning("polling did not stop cleanly: %s", exc)

    async def stop(self) -> None:
        try:
            if self.app.updater is not None and self.app.updater.running:
                await self.app.updater.stop()
            if self.app.running:
                await self.app.stop()
        except RuntimeError as exc:
            log.warning("polling did not stop cleanly: %s", exc)
        if self._initialized:
            await self.app.shutdown()
        else:  # never started: only the gateway's HTTP client (me(), set_commands) is open
            await self.app.bot.request.shutdown()
