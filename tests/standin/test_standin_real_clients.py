"""Every implemented method, called through real aiogram 3 and python-telegram-bot 22 clients."""

from __future__ import annotations

import pytest
import telegram
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.filters import CommandObject
from aiogram.filters.command import Command
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    MenuButtonCommands,
    ReactionTypeEmoji,
)
from standin_helpers import TOKEN, USERNAME, World, png_bytes


@pytest.fixture
async def aio(env: World):
    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(env.url)))
    yield bot
    await bot.session.close()


@pytest.fixture
async def ptb(env: World):
    bot = telegram.Bot(TOKEN, base_url=env.url + "/bot", base_file_url=env.url + "/file/bot")
    async with bot:
        yield bot


async def _group(env: World, admin: bool = True) -> tuple[int, int]:
    """A user (who opened the private chat) and a group where the bot is admin."""
    user = await env.client.create_user("Ann", username="ann")
    chat = await env.client.create_chat("Block 3", member_ids=[user["id"]])
    await env.client.set_bot_membership(chat["id"], "administrator" if admin else "member", user["id"])
    await env.client.send(user["id"], "/start")
    return user["id"], chat["id"]


async def test_aiogram_every_method(env: World, aio: Bot) -> None:
    uid, gid = await _group(env)
    me = await aio.get_me()
    assert me.username == USERNAME

    updates = await aio.get_updates(timeout=0)
    start = next(u.message for u in updates if u.message and u.message.text == "/start")
    command = await Command("start").parse_command(start.text, aio)  # the entity-based filter works
    assert isinstance(command, CommandObject) and start.entities[0].type == "bot_command"
    member_updates = [u for u in updates if u.my_chat_member]
    assert member_updates[0].my_chat_member.new_chat_member.status == "administrator"
    await aio.get_updates(offset=updates[-1].update_id + 1, timeout=0)

    kb = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="Yes", callback_data="vote:yes")]])
    sent = await aio.send_message(uid, "<b>Hello</b> &amp; welcome", parse_mode="HTML", reply_markup=kb)
    assert sent.text == "Hello & welcome" and sent.entities[0].type == "bold"
    assert sent.reply_markup.inline_keyboard[0][0].callback_data == "vote:yes"
    edited = await aio.edit_message_text("Edited", chat_id=uid, message_id=sent.message_id, reply_markup=kb)
    assert edited.edit_date is not None
    with pytest.raises(TelegramBadRequest, match="not modified"):
        await aio.edit_message_text("Edited", chat_id=uid, message_id=sent.message_id, reply_markup=kb)
    await aio.edit_message_reply_markup(chat_id=uid, message_id=sent.message_id, reply_markup=None)

    photo = await aio.send_photo(uid, BufferedInputFile(png_bytes(), "p.png"), caption="pic")
    assert photo.photo[-1].width == 640 and photo.photo[-1].height == 480
    again = await aio.send_photo(gid, photo.photo[-1].file_id)
    assert again.photo[-1].file_id == photo.photo[-1].file_id
    file = await aio.get_file(photo.photo[-1].file_id)
    data = await aio.download_file(file.file_path)
    assert data.read() == png_bytes()
    album = await aio.send_media_group(
        uid,
        [InputMediaPhoto(media=BufferedInputFile(png_bytes(color=c), f"{c}.png")) for c in ("red", "blue")],
    )
    assert len(album) == 2 and album[0].media_group_id == album[1].media_group_id
    doc = await aio.send_document(uid, BufferedInputFile(b"a,b\n1,2\n", "report.csv"), caption="csv")
    assert doc.document.file_name == "report.csv"

    poll = await aio.send_poll(gid, "Paint the gate?", options=["Yes", "No"], is_anonymous=False)
    assert poll.poll.options[1].text == "No"
    stopped = await aio.stop_poll(gid, poll.message_id)
    assert stopped.is_closed

    assert await aio.pin_chat_message(gid, again.message_id)
    assert await aio.unpin_chat_message(gid, message_id=again.message_id)
    await aio.set_my_commands([BotCommand(command="start", description="Start")])
    await aio.set_my_commands(
        [BotCommand(command="admin", description="Admin")], scope=BotCommandScopeChat(chat_id=gid)
    )
    assert [c.command for c in await aio.get_my_commands()] == ["start"]
    assert [c.command for c in await aio.get_my_commands(scope=BotCommandScopeChat(chat_id=gid))] == ["admin"]
    assert await aio.delete_my_commands()
    assert await aio.get_my_commands() == []

    chat = await aio.get_chat(gid)
    assert chat.title == "Block 3"
    assert (await aio.get_chat(uid)).first_name == "Ann"
    assert (await aio.get_chat_member(gid, uid)).status == "creator"
    assert (await aio.get_chat_member(gid, me.id)).status == "administrator"
    admins = await aio.get_chat_administrators(gid)
    assert {a.user.id for a in admins} == {uid, me.id}
    assert await aio.get_chat_member_count(gid) == 2
    assert await aio.set_message_reaction(uid, sent.message_id, [ReactionTypeEmoji(emoji="👍")])
    assert await aio.set_chat_menu_button(menu_button=MenuButtonCommands())
    assert await aio.delete_message(uid, doc.message_id)
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await aio.delete_message(uid, doc.message_id)

    assert await aio.set_webhook("http://127.0.0.1:9/hook", secret_token="s3cret")
    info = await aio.get_webhook_info()
    assert info.url == "http://127.0.0.1:9/hook"
    assert await aio.delete_webhook(drop_pending_updates=True)
    assert await aio.leave_chat(gid)
    with pytest.raises(TelegramForbiddenError):
        await aio.send_message(gid, "still here?")


async def test_aiogram_callback_answer(env: World, aio: Bot) -> None:
    uid, _ = await _group(env)
    kb = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="Confirm ✅", callback_data="ok")]])
    msg = await aio.send_message(uid, "Confirm?", reply_markup=kb)
    await aio.get_updates(offset=-1, timeout=0)

    async def bot_side() -> None:
        updates = await aio.get_updates(timeout=5, allowed_updates=["message", "callback_query"])
        query = next(u.callback_query for u in updates if u.callback_query)
        assert query.data == "ok" and query.message.message_id == msg.message_id
        await aio.answer_callback_query(query.id, text="Done", show_alert=True)

    import asyncio

    task = asyncio.create_task(bot_side())
    result = await env.client.tap(uid, uid, msg.message_id, text="Confirm")
    await task
    assert result["answer"] == {
        "text": "Done",
        "show_alert": True,
        "url": None,
        "date": result["answer"]["date"],
    }
    toasts = await env.client.toasts(uid)
    assert toasts[0]["text"] == "Done"


async def test_ptb_every_method(env: World, ptb: telegram.Bot) -> None:
    uid, gid = await _group(env)
    assert ptb.username == USERNAME
    updates = await ptb.get_updates(timeout=0)
    start = next(u.message for u in updates if u.message and u.message.text == "/start")
    assert start.entities[0].type == "bot_command"
    assert any(u.my_chat_member for u in updates)
    await ptb.get_updates(offset=updates[-1].update_id + 1, timeout=0)

    kb = telegram.InlineKeyboardMarkup([[telegram.InlineKeyboardButton("Yes", callback_data="y")]])
    sent = await ptb.send_message(uid, "<i>Hi</i>", parse_mode="HTML", reply_markup=kb)
    assert sent.text == "Hi" and sent.reply_markup.inline_keyboard[0][0].callback_data == "y"
    edited = await ptb.edit_message_text("Bye", chat_id=uid, message_id=sent.message_id)
    assert edited.text == "Bye"
    await ptb.edit_message_reply_markup(chat_id=uid, message_id=sent.message_id, reply_markup=kb)

    photo = await ptb.send_photo(uid, png_bytes(), caption="pic")
    assert photo.photo[-1].width == 640
    await ptb.send_photo(gid, photo.photo[-1].file_id)
    tfile = await ptb.get_file(photo.photo[-1].file_id)
    assert bytes(await tfile.download_as_bytearray()) == png_bytes()
    album = await ptb.send_media_group(
        uid, [telegram.InputMediaPhoto(png_bytes(color=c)) for c in ("red", "green", "blue")]
    )
    assert len(album) == 3
    doc = await ptb.send_document(uid, b"hello", filename="hello.txt")
    assert doc.document.file_name == "hello.txt"

    poll = await ptb.send_poll(gid, "Quiz?", ["A", "B", "C"], type="quiz", correct_option_id=1)
    assert poll.poll.type == "quiz"
    assert (await ptb.stop_poll(gid, poll.message_id)).is_closed

    assert await ptb.pin_chat_message(gid, poll.message_id)
    assert await ptb.unpin_chat_message(gid)
    await ptb.set_my_commands([telegram.BotCommand("start", "Start")], language_code="zh")
    assert [c.command for c in await ptb.get_my_commands(language_code="zh")] == ["start"]
    assert await ptb.delete_my_commands(language_code="zh")

    full = await ptb.get_chat(gid)
    assert full.title == "Block 3"
    assert (await ptb.get_chat_member(gid, uid)).status == "creator"
    assert len(await ptb.get_chat_administrators(gid)) == 2
    assert await ptb.get_chat_member_count(gid) == 2
    assert await ptb.set_message_reaction(uid, sent.message_id, "🔥")
    assert await ptb.set_chat_menu_button(menu_button=telegram.MenuButtonCommands())
    assert await ptb.delete_message(uid, doc.message_id)
    with pytest.raises(telegram.error.BadRequest, match="not found"):
        await ptb.edit_message_text("x", chat_id=uid, message_id=999)

    assert await ptb.set_webhook("http://127.0.0.1:9/hook")
    assert (await ptb.get_webhook_info()).url == "http://127.0.0.1:9/hook"
    assert await ptb.delete_webhook()
    assert await ptb.leave_chat(gid)
    with pytest.raises(telegram.error.Forbidden):
        await ptb.send_message(gid, "x")
