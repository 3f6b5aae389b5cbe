"""The baseline: a bare aiogram bot that echoes text (with one button) and answers every press.

It polls the way Linli's aiogram runtime does (same aiogram version, session and polling
timeout), so the difference to Linli is Linli's own work per update."""

from __future__ import annotations

import asyncio

from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

BUTTON = "English"  # the text of the one button, like the one pressed in Linli's /lang menu


def _router() -> Router:
    router = Router(name="echo")
    keyboard = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text=BUTTON, callback_data="en")]])

    @router.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(message.text or "", reply_markup=keyboard)

    @router.callback_query()
    async def pressed(query: CallbackQuery) -> None:
        await query.answer("ok")

    return router


class EchoBot:
    def __init__(self, token: str, api_url: str) -> None:
        self.bot = Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(api_url)))
        self.dp = Dispatcher()
        self.dp.include_router(_router())
        self._polling: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.bot.delete_webhook()
        self._polling = asyncio.create_task(self.dp.start_polling(
            self.bot, handle_signals=False, close_bot_session=False, polling_timeout=10), name="echo-polling")

    async def stop(self) -> None:
        if self._polling is not None:
            await self.dp.stop_polling()
            await asyncio.wait_for(self._polling, 15)
            self._polling = None
        await self.bot.session.close()
