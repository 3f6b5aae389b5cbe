"""Onboarding end to end: people talking to the bot through the Bot API stand-in over HTTP.

Each test reads like a transcript; the suite runs on both Telegram runtimes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from sqlmodel import select

from storage.models import AuditEntry, Chat, Member, User
from tests.bot.conftest import BOT, Harness, buttons

ADMIN, GRID, RESIDENT, NEWCOMER = 101, 102, 103, 104
GROUP = -1002000000003


async def _admin(linli: Harness) -> None:
    code = await linli.create_community()
    await linli.register(ADMIN, "王书记", invite=code)


async def test_admin_bootstrap_from_the_command_line_invite(linli: Harness, db_url: str) -> None:
    env = dict(os.environ, LINLI_DATABASE_URL=db_url, LINLI_SECRET_KEY="x" * 32)
    env.pop("LINLI_BOT_TOKEN", None)
    # in a thread: the bot's event loop keeps running meanwhile (a blocked loop could hold a write transaction of its
    # own open, the lease's, and the command would wait for SQLite's lock in vain)
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "linli_cli", "community", "create", "北辰示范社区", "--buildings", "1-6",
         "--bot-username", BOT],
        capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parents[2], timeout=60)
    assert done.returncode == 0, done.stderr
    link = next(w for w in done.stdout.split() if w.startswith("https://t.me/"))
    assert link.startswith(f"https://t.me/{BOT}?start=i_")
    await linli.user(ADMIN, "王书记")
    out = await linli.say(ADMIN, "/start " + link.split("start=")[1])
    assert "几号楼" in out[-1]["text"] and "1号楼" in buttons(out[-1])
    _, out = await linli.press(ADMIN, out[-1], "跳过")
    assert "隐私" in out[-1]["text"]
    _, out = await linli.press(ADMIN, out[-1], "同意")
    assert "欢迎" in out[-1]["text"] and "社区管理员" in out[-1]["text"]
    help_text = (await linli.say(ADMIN, "/help"))[-1]["text"]
    for command in ("/invite", "/grant", "/revoke", "/members", "/audit", "/me"):
        assert command in help_text
    # the invite is one-time: a second person using it is told so, and is not made admin
    await linli.user(NEWCOMER, "冒名者")
    out = await linli.say(NEWCOMER, "/start " + link.split("start=")[1])
    assert "已经用过" in out[-1]["text"]


async def test_resident_registers_with_building_and_consent(linli: Harness) -> None:
    await linli.create_community()
    await linli.user(RESIDENT, "赵阿姨")
    out = await linli.say(RESIDENT, "/start")
    assert "欢迎" in out[-1]["text"]
    assert {"1号楼", "6号楼"} <= set(buttons(out[-1]))
    _, out = await linli.press(RESIDENT, out[-1], "3号楼")
    notice = out[-1]
    assert "隐私" in notice["text"] and notice["message_id"] == out[-1]["message_id"]  # edited in place
    _, out = await linli.press(RESIDENT, notice, "同意")
    assert "欢迎" in out[-1]["text"]
    me = (await linli.say(RESIDENT, "/me"))[-1]["text"]
    assert "赵阿姨" in me and "3" in me and "居民" in me
    async with linli.db.uow() as uow:
        member = (await uow.session.exec(select(Member))).one()
        actions = [e.action for e in (await uow.session.exec(select(AuditEntry))).all()]
    assert member.consent_at is not None and "member.register" in actions


async def test_typing_the_building_number_works_too(linli: Harness) -> None:
    await linli.create_community()
    await linli.user(RESIDENT, "赵阿姨")
    await linli.say(RESIDENT, "/start")
    out = await linli.say(RESIDENT, "5号楼")
    assert "隐私" in out[-1]["text"]
    out = await linli.say(RESIDENT, "随便说点什么")
    assert "/cancel" in out[-1]["text"]


async def test_declining_the_privacy_notice_saves_nothing(linli: Harness) -> None:
    await linli.create_community()
    await linli.user(RESIDENT, "赵阿姨")
    out = await linli.say(RESIDENT, "/start")
    _, out = await linli.press(RESIDENT, out[-1], "3号楼")
    _, out = await linli.press(RESIDENT, out[-1], "不")
    assert "没有保存" in out[-1]["text"] or "未保存" in out[-1]["text"]
    async with linli.db.uow() as uow:
        assert (await uow.session.exec(select(Member))).all() == []
    out = await linli.say(RESIDENT, "/me")
    assert "/start" in out[-1]["text"]


async def test_group_is_linked_by_the_admin_and_residents_register_from_it(linli: Harness) -> None:
    await _admin(linli)
    await linli.user(RESIDENT, "赵阿姨")
    await linli.group(GROUP, "3号楼楼门群", [ADMIN, RESIDENT], admin=ADMIN)
    welcome = await linli.last(GROUP)
    assert "/link" in welcome["text"] and "楼门群" in " ".join(buttons(welcome))
    # a resident may not link the group
    toast, _ = await linli.press(RESIDENT, welcome, "楼门群")
    assert toast and "权限" in toast or "登记" in (toast or "")
    out = await linli.say(RESIDENT, "/link building 3", chat_id=GROUP)
    assert "登记" in out[-1]["text"] or "权限" in out[-1]["text"]
    # the admin taps through: building group → 3号楼
    _, out = await linli.press(ADMIN, welcome, "楼门群")
    _, out = await linli.press(ADMIN, out[-1], "3号楼")
    linked = out[-1]
    assert "3号楼" in linked["text"] and "北辰示范社区" in linked["text"]
    url = linked["reply_markup"]["inline_keyboard"][0][0]["url"]
    assert url.startswith(f"https://t.me/{BOT}?start=b_")
    # the resident follows the group's link: straight to the privacy notice, building known
    out = await linli.say(RESIDENT, "/start " + url.split("start=")[1])
    assert "隐私" in out[-1]["text"]
    _, out = await linli.press(RESIDENT, out[-1], "同意")
    assert "欢迎" in out[-1]["text"]
    help_group = (await linli.say(RESIDENT, "/help", chat_id=GROUP))[-1]["text"]
    assert "3号楼楼门群" in help_group and "/invite" not in help_group
    async with linli.db.uow() as uow:
        chat = (await uow.session.exec(select(Chat).where(Chat.tg_chat_id == GROUP))).one()
    assert chat.purpose == "building"


async def test_link_by_command_and_its_bad_input(linli: Harness) -> None:
    await _admin(linli)
    await linli.group(GROUP, "新楼群", [ADMIN], admin=ADMIN)
    out = await linli.say(ADMIN, "/link building " + "9" * 30, chat_id=GROUP)
    assert "20" in out[-1]["text"]
    out = await linli.say(ADMIN, "/link garden", chat_id=GROUP)
    assert "/link building 3" in out[-1]["text"]
    out = await linli.say(ADMIN, "/link building 12", chat_id=GROUP)
    assert "12号楼" in out[-1]["text"]
    out = await linli.say(ADMIN, "/link", chat_id=ADMIN)
    assert "群" in out[-1]["text"]  # /link works in groups only


async def test_help_differs_by_role(linli: Harness) -> None:
    await _admin(linli)
    await linli.register(RESIDENT, "赵阿姨")
    resident_help = (await linli.say(RESIDENT, "/help"))[-1]["text"]
    assert "/me" in resident_help and "/lang" in resident_help
    assert "/invite" not in resident_help and "/members" not in resident_help
    invite = (await linli.say(ADMIN, "/invite grid_worker"))[-1]["text"]
    code = invite.split("start=i_")[1].split()[0]
    await linli.register(GRID, "张网格", invite=code)
    grid_help = (await linli.say(GRID, "/help"))[-1]["text"]
    assert "/invite" in grid_help and "/members" in grid_help and "/grant" not in grid_help
    await linli.user(NEWCOMER, "小周")
    unregistered = (await linli.say(NEWCOMER, "/help"))[-1]["text"]
    assert "/start" in unregistered and "/me" not in unregistered


async def test_role_invite_by_buttons_tells_the_inviter(linli: Harness) -> None:
    await _admin(linli)
    out = await linli.say(ADMIN, "/invite")
    _, out = await linli.press(ADMIN, out[-1], "多委成员")
    _, out = await linli.press(ADMIN, out[-1], "物业")
    text = out[-1]["text"]
    assert "7" in text and f"t.me/{BOT}?start=i_" in text
    code = text.split("start=i_")[1].split()[0]
    before = await linli.tg.cursor()
    await linli.register(GRID, "李经理", invite=code)
    told = await linli.tg.bot_messages(ADMIN, before)
    assert any("李经理" in m["text"] for m in told)
    me = (await linli.say(GRID, "/me"))[-1]["text"]
    assert "物业" in me


async def test_grant_revoke_and_members_pages(linli: Harness) -> None:
    await _admin(linli)
    for i in range(12):
        await linli.register(200 + i, f"居民{i}")
    out = await linli.say(ADMIN, "/members")
    assert "13" in out[-1]["text"] and "▶" in buttons(out[-1])
    _, out = await linli.press(ADMIN, out[-1], "▶")
    assert "居民11" in out[-1]["text"]
    before = await linli.tg.cursor()
    out = await linli.say(ADMIN, "/grant 2 volunteer")
    assert "志愿者" in out[-1]["text"]
    told = await linli.tg.bot_messages(200, before)
    assert any("志愿者" in m["text"] for m in told)
    out = await linli.say(ADMIN, "/grant 2 volunteer")
    assert "已经" in out[-1]["text"]
    out = await linli.say(ADMIN, "/grant two volunteer")
    assert "/grant" in out[-1]["text"]  # usage
    out = await linli.say(ADMIN, "/revoke 2 volunteer")
    assert "志愿者" not in out[-1]["text"].split("：")[-1]
    out = await linli.say(ADMIN, "/grant 999 volunteer")
    assert "999" in out[-1]["text"]


async def test_commands_without_permission_and_in_the_wrong_chat(linli: Harness) -> None:
    await _admin(linli)
    await linli.register(RESIDENT, "赵阿姨")
    for command in ("/members", "/invite volunteer", "/grant 1 admin", "/audit"):
        out = await linli.say(RESIDENT, command)
        assert "权限" in out[-1]["text"], command
    await linli.group(GROUP, "3号楼楼门群", [ADMIN, RESIDENT], admin=ADMIN)
    out = await linli.say(RESIDENT, "/me", chat_id=GROUP)
    assert "私聊" in out[-1]["text"] and "赵阿姨" not in out[-1]["text"]
    out = await linli.say(RESIDENT, "/nonsense")
    assert "/help" in out[-1]["text"]
    quiet = await linli.say(RESIDENT, "/nonsense", chat_id=GROUP)
    assert quiet == []  # groups stay calm


async def test_forged_and_expired_buttons(linli: Harness) -> None:
    await _admin(linli)
    out = await linli.say(ADMIN, "/invite")
    menu = out[-1]
    toast = await linli.tap_data(ADMIN, menu, "iv:admin~zzzzzz~AAAAAAAA")
    assert toast and "无效" in toast
    toast = await linli.tap_data(ADMIN, menu, "x" * 10)
    assert toast and "无效" in toast
    linli.clock.advance(hours=73)
    toast, _ = await linli.press(ADMIN, menu, "志愿者")
    assert toast and "过期" in toast
    async with linli.db.uow() as uow:
        from storage.models import Invite

        assert len((await uow.session.exec(select(Invite))).all()) == 1  # only the CLI's admin invite


async def test_language_switch(linli: Harness) -> None:
    await linli.create_community()
    await linli.register(RESIDENT, "赵阿姨")
    out = await linli.say(RESIDENT, "/lang")
    _, out = await linli.press(RESIDENT, out[-1], "English")
    assert "English" in out[-1]["text"]
    assert "What you can do" in (await linli.say(RESIDENT, "/help"))[-1]["text"]
    out = await linli.say(RESIDENT, "/lang zh")
    assert "中文" in out[-1]["text"] or "语言" in out[-1]["text"]
    out = await linli.say(RESIDENT, "/lang klingon")
    assert "中文" in out[-1]["text"] and "English" in out[-1]["text"]


async def test_the_same_update_delivered_twice_is_handled_once(linli: Harness) -> None:
    await linli.create_community()
    await linli.user(RESIDENT, "赵阿姨")
    update = {"update_id": 987654, "message": {
        "message_id": 1, "date": 1_800_000_000, "chat": {"id": RESIDENT, "type": "private", "first_name": "赵阿姨"},
        "from": {"id": RESIDENT, "is_bot": False, "first_name": "赵阿姨", "language_code": "zh-hans"},
        "text": "/help", "entities": [{"type": "bot_command", "offset": 0, "length": 5}]}}
    await linli.tg.send(RESIDENT, "/start")  # opens the private chat in the stand-in
    await linli.settle()
    before = await linli.tg.cursor()
    assert linli.app.runtime is not None
    await linli.app.runtime.feed_webhook(update)
    await linli.app.runtime.feed_webhook(update)
    await linli.settle()
    replies = await linli.tg.bot_messages(RESIDENT, before)
    assert len(replies) == 1 and "/start" in replies[0]["text"]


async def test_blocked_user_is_marked_unreachable(linli: Harness) -> None:
    await _admin(linli)
    await linli.register(RESIDENT, "赵阿姨")
    await linli.tg.block(RESIDENT, True)
    await linli.say(ADMIN, "/grant 2 volunteer")  # the notice to the resident cannot be delivered
    async with linli.db.uow() as uow:
        user = (await uow.session.exec(select(User).where(User.tg_id == RESIDENT))).one()
    assert user.unreachable_at is not None
    out = await linli.say(ADMIN, "/members")
    assert "⚠️" in out[-1]["text"]
