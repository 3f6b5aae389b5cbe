"""Full frameworks against the stand-in: aiogram Dispatcher polling and a PTB Application."""

from __future__ import annotations

import asyncio

from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from standin_helpers import TOKEN, World
from telegram import Update
from telegram.ext import Application, CommandHandler, ContextTypes


async def test_aiogram_dispatcher_commands_and_buttons(env: World) -> None:
    router = Router()

    @router.message(CommandStart(deep_link=True))
    async def start(message: Message, command: CommandObject) -> None:
        kb = InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="Join 🏠", callback_data="join")]]
        )
        await message.answer(f"Welcome, payload={command.args}", reply_markup=kb)

    @router.message(Command("link"))
    async def link(message: Message, command: CommandObject) -> None:
        await message.answer(f"<b>Linked</b> to {command.args}", parse_mode="HTML")

    @router.callback_query(F.data == "join")
    async def join(query: CallbackQuery) -> None:
        await query.answer("Joined!")
        assert query.message is not None
        await query.message.edit_text("You joined.")  # type: ignore[union-attr]

    dp = Dispatcher()
    dp.include_router(router)
    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(env.url)))
    polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False, polling_timeout=1))
    try:
        user = await env.client.create_user("Wu")
        replies = await env.client.say(user["id"], "/start@linli_test_bot abc")
        assert [m["text"] for m in replies] == ["Welcome, payload=abc"]
        toast, changed = await env.client.press(user["id"], user["id"], replies[0]["message_id"], "Join")
        assert toast is not None and toast["text"] == "Joined!"
        assert changed[0]["text"] == "You joined." and changed[0]["reply_markup"] is None
        linked = await env.client.say(user["id"], "/link building 3")
        assert (
            linked[0]["text"] == "Linked to building 3" and linked[0]["html"] == "<b>Linked</b> to building 3"
        )
    finally:
        await dp.stop_polling()
        await polling
        await bot.session.close()


async def test_ptb_application_polling(env: World) -> None:
    async def hello(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(f"Hello {' '.join(context.args or [])}".strip())

    app = (
        Application.builder()
        .token(TOKEN)
        .base_url(env.url + "/bot")
        .base_file_url(env.url + "/file/bot")
        .build()
    )
    app.add_handler(CommandHandler("hello", hello))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(timeout=1)
        try:
            user = await env.client.create_user("Xi")
            replies = await env.client.say(user["id"], "/hello neighbours")
            assert [m["text"] for m in replies] == ["Hello neighbours"]
        finally:
            await app.updater.stop()
            await app.stop()
