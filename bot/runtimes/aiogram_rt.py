"""The aiogram 3 runtime: polling or webhook transport, and the Gateway over aiogram's Bot."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import (
    AnswerCallbackQuery,
    DeleteMessage,
    EditMessageCaption,
    EditMessageReplyMarkup,
    EditMessageText,
    GetUpdates,
    PinChatMessage,
    SetMyCommands,
    TelegramMethod,
)
from aiogram.methods.base import Response
from aiogram.types import (
    BotCommand as AgBotCommand,
)
from aiogram.types import (
    BotCommandScope,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    BufferedInputFile,
    FSInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputPollOption,
    LinkPreviewOptions,
    ReplyParameters,
    Update,
)

from bot.core.convert import UPDATE_TYPES
from bot.core.gateway import ApiError, BotCommand, Uploads
from bot.core.types import Keyboard, OutMessage, SentPoll
from bot.runtimes.base import Pipeline, PollingRuntime

log = logging.getLogger("linli.aiogram")

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
    return InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=b.text, callback_data=b.data, url=b.url) for b in row] for row in message.buttons
    ])


def _photo(ref: str) -> Any:
    return ref if ref.startswith(("http://", "https://")) or "/" not in ref else FSInputFile(ref)


class Session(AiohttpSession):
    """aiogram's session, keeping the response models it builds.

    aiogram reads every answer through `Response[<the method's return type>]`. pydantic caches such
    parametrised models only weakly, and they sit in reference cycles, so every garbage collection
    threw them away and the next call rebuilt one: ~6 ms of CPU on the event loop, on about three
    of four calls under load (profiled on the ballot toggle benchmark). This session holds them."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.response_models: dict[type[TelegramMethod[Any]], type[Response[Any]]] = {}

    def check_response(self, bot: Bot, method: TelegramMethod[Any], status_code: int, content: str) -> Response[Any]:
        if type(method) not in self.response_models:
            self.response_models[type(method)] = Response[method.__returning__]  # type: ignore[name-defined]
        if status_code >= 500 and not content.lstrip().startswith("{"):
            # a proxy's page (nginx's HTML 502), not Telegram's JSON: a server error like any other
            raise TelegramServerError(method=method, message=f"HTTP {status_code} without a JSON body")
        return super().check_response(bot, method, status_code, content)

    async def make_request(self, bot: Bot, method: TelegramMethod[Any], timeout: int | None = None) -> Any:
        """A call without files goes as one JSON body (the Bot API takes either): aiogram builds a form, every
        nested value JSON-encoded into it and the whole URL-encoded, which cost more than the call's own trip on
        the busiest calls (a press's answer and edit). Files go aiogram's way, as multipart."""
        files: dict[str, Any] = {}
        body: dict[str, Any] = {}
        for key, value in method.model_dump(warnings=False).items():
            prepared = self.prepare_value(value, bot=bot, files=files, _dumps_json=False)
            if prepared is not None and prepared != "":
                body[key] = prepared
        if files:
            return await super().make_request(bot, method, timeout)
        session = await self.create_session()
        url = self.api.api_url(token=bot.token, method=method.__api_method__)
        try:
            async with session.post(url, data=self.json_dumps(body), headers=_JSON,
                                    timeout=self.timeout if timeout is None else timeout) as resp:
                content = await resp.text()
        except TimeoutError as e:
            raise TelegramNetworkError(method=method, message="Request timeout error") from e
        except aiohttp.ClientError as e:
            raise TelegramNetworkError(method=method, message=f"{type(e).__name__}: {e}") from e
        if resp.status == 200 and type(method) in _UNREAD:  # nobody reads the answer: not made into models
            answer = self.json_loads(content)
            if isinstance(answer, dict) and answer.get("ok") is True:
                return answer.get("result")
        return self.check_response(bot=bot, method=method, status_code=resp.status, content=content).result


_JSON = {"Content-Type": "application/json"}
#: calls whose answer the gateway never reads (an edit's message, a toast's True): aiogram's pydantic models of it
#: cost more than the call's JSON; a failure still goes through `check_response` and its errors
_UNREAD: frozenset[type[TelegramMethod[Any]]] = frozenset({
    AnswerCallbackQuery, EditMessageText, EditMessageCaption, EditMessageReplyMarkup, SetMyCommands, DeleteMessage,
    PinChatMessage})


def _maybe_sent(exc: BaseException) -> bool:
    """Whether a network failure happened after the request may have reached Telegram: a timeout or a
    connection lost mid-call, not a connection that could not be opened."""
    cause = exc.__cause__ or exc
    if isinstance(cause, aiohttp.ClientConnectorError):
        return False
    return isinstance(cause, (TimeoutError, aiohttp.ClientError))


class AiogramGateway:
    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self.uploads = Uploads()

    async def _call(self, coro: Any) -> Any:
        try:
            return await coro
        except TelegramRetryAfter as e:
            raise ApiError(ApiError.RETRY_AFTER, e.message, float(e.retry_after)) from e
        except TelegramForbiddenError as e:
            raise ApiError(ApiError.FORBIDDEN, e.message) from e
        except (TelegramBadRequest, TelegramNotFound) as e:
            raise ApiError(ApiError.BAD_REQUEST, e.message) from e
        except (TelegramServerError, ClientDecodeError) as e:  # 5xx, or an answer that is not the Bot API's
            raise ApiError(ApiError.TRANSIENT, str(e)) from e
        except (TimeoutError, TelegramNetworkError, aiohttp.ClientError) as e:
            raise ApiError(ApiError.TRANSIENT, str(e), maybe_sent=_maybe_sent(e)) from e

    async def send(self, chat_id: int, message: OutMessage, reply_to: int | None = None) -> int:
        if message.voice:  # a voice message we received, passed on by its file_id
            sent = await self._call(self.bot.send_voice(chat_id, message.voice, caption=message.text or None,
                                                        parse_mode="HTML", reply_markup=_markup(message),
                                                        reply_parameters=_reply(reply_to)))
            return int(sent.message_id)
        if message.photo:
            photo = message.photo

            async def send_photo(file_id: str | None) -> tuple[int, str | None]:
                sent = await self._call(self.bot.send_photo(chat_id, file_id or _photo(photo), caption=message.text,
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
        if not file.file_path:
            raise ApiError(ApiError.BAD_REQUEST, "file has no path")
        data = await self._call(self.bot.download_file(file.file_path))
        assert data is not None
        return bytes(data.getvalue())

    async def send_poll(self, chat_id: int, question: str, options: list[str], *, anonymous: bool,
                        reply_to: int | None = None) -> SentPoll:
        sent = await self._call(self.bot.send_poll(
            chat_id, question, [InputPollOption(text=o) for o in options], is_anonymous=anonymous,
            reply_parameters=_reply(reply_to)))
        assert sent.poll is not None
        return SentPoll(message_id=int(sent.message_id), poll_id=str(sent.poll.id))

    async def stop_poll(self, chat_id: int, message_id: int) -> None:
        await self._call(self.bot.stop_poll(chat_id, message_id))

    async def send_document(self, chat_id: int, filename: str, data: bytes, caption: str = "") -> int:
        sent = await self._call(self.bot.send_document(chat_id, BufferedInputFile(data, filename=filename),
                                                       caption=caption or None, parse_mode="HTML"))
        return int(sent.message_id)

    async def set_commands(self, commands: list[BotCommand], scope: str, language: str | None, *,
                           chat_id: int | None = None) -> None:
        await self._call(self.bot.set_my_commands(
            [AgBotCommand(command=c.command, description=c.description) for c in commands],
            scope=_scope(scope, chat_id), language_code=language))

    async def me(self) -> tuple[int, str]:
        me = await self._call(self.bot.get_me())
        return int(me.id), str(me.username or "")


class RawGetUpdates(GetUpdates):
    """getUpdates answering the Bot API's own dicts. The poll asks again for updates still at work (bot/runtimes/
    base.py: Poller), so no model is built per update (and dumped again for the pipeline)."""

    __returning__ = list[dict[str, Any]]


class AiogramRuntime(PollingRuntime):
    """aiogram's Bot as the client; the polling loop is ours (bot/runtimes/base.py: Poller), because aiogram's
    own confirms a batch to Telegram before its updates are handled."""

    def __init__(self, token: str, api_url: str = "", *, call_timeout: float = 15.0) -> None:
        # call_timeout bounds each Bot API call; long polls wait their own timeout on top of it
        session = Session(api=TelegramAPIServer.from_base(api_url), timeout=call_timeout) if api_url \
            else Session(timeout=call_timeout)
        self.bot = Bot(token, session=session)
        self.gateway = AiogramGateway(self.bot)
        self._pipeline: Pipeline | None = None

    async def _fetch(self, offset: int | None, timeout: int, limit: int) -> list[dict[str, Any]]:
        got = await self.gateway._call(self.bot(RawGetUpdates(offset=offset, limit=limit, timeout=timeout,
                                                              allowed_updates=UPDATE_TYPES),
                                                request_timeout=timeout + 10))
        return list(got)

    async def start(self, pipeline: Pipeline, *, webhook_url: str, webhook_secret: str) -> None:
        self._pipeline = pipeline
        if webhook_url:
            await self.bot.set_webhook(webhook_url, secret_token=webhook_secret or None, allowed_updates=UPDATE_TYPES)
            return
        await self.bot.delete_webhook()
        self._poll(self._fetch, pipeline.process)

    async def feed_webhook(self, update: dict[str, Any]) -> None:
        """Handle one update posted to the webhook; raises when it could not be handled (the POST then fails
        and Telegram posts it again)."""
        assert self._pipeline is not None
        parsed = Update.model_validate(update, context={"bot": self.bot})
        await self._pipeline.process(parsed.model_dump(mode="json", by_alias=True, exclude_none=True))

    async def stop(self) -> None:
        await self.stop_polling()
        await self.bot.session.close()
