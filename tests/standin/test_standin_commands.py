"""Issue #12 item 5: setMyCommands / getMyCommands / deleteMyCommands as Telegram has them (bot/standin/commands.py):
scopes checked and normalised, language codes, at most 100 commands of `a-z 0-9 _`, menus kept per (scope,
language) and read back, and the menu a user sees picked in Telegram's order."""

from __future__ import annotations

from typing import Any

from standin_helpers import World, call

CMDS = [{"command": "help", "description": "帮助"}, {"command": "need_for", "description": "代提需求"}]


def bad(result: tuple[int, dict[str, Any]], fragment: str) -> bool:
    status, body = result
    return status == 400 and body["ok"] is False and fragment in body["description"]


async def _person(env: World, name: str = "Bo", language_code: str = "zh-hans", start: bool = True) -> int:
    user = await env.client.create_user(name, language_code=language_code)
    if start:
        await env.client.send(user["id"], "/start")
    return int(user["id"])


async def test_item5_a_chat_scoped_menu_is_kept_and_read_back(env: World) -> None:
    uid = await _person(env)
    scope = {"type": "chat", "chat_id": uid}
    assert (await call(env, "setMyCommands", commands=CMDS, scope=scope))[1]["result"] is True
    status, body = await call(env, "getMyCommands", scope=scope)
    assert status == 200 and body["result"] == CMDS
    # the chat id as a string is the same chat: one menu, not two
    assert (await call(env, "getMyCommands", scope={"type": "chat", "chat_id": str(uid)}))[1]["result"] == CMDS
    # per language: another language's list is another list
    assert (await call(env, "getMyCommands", scope=scope, language_code="en"))[1]["result"] == []
    assert (await call(env, "deleteMyCommands", scope=scope))[1]["result"] is True
    assert (await call(env, "getMyCommands", scope=scope))[1]["result"] == []


async def test_item5_scopes_are_checked(env: World) -> None:
    uid = await _person(env)
    stranger = await _person(env, "Never wrote", start=False)
    assert bad(await call(env, "setMyCommands", commands=CMDS, scope={"type": "chat", "chat_id": stranger}),
               "chat not found")
    assert bad(await call(env, "setMyCommands", commands=CMDS, scope={"type": "chat", "chat_id": 424242}),
               "chat not found")
    assert bad(await call(env, "setMyCommands", commands=CMDS, scope={"type": "chat"}), "chat_id")
    assert bad(await call(env, "setMyCommands", commands=CMDS, scope={"type": "everyone"}), "")
    assert bad(await call(env, "setMyCommands", commands=CMDS,
                          scope={"type": "chat_administrators", "chat_id": uid}), "private chat")
    group = await env.client.create_chat("楼门群", member_ids=[uid], id=-1001234)
    assert bad(await call(env, "setMyCommands", commands=CMDS, scope={"type": "chat", "chat_id": group["id"]}),
               "chat not found")  # the bot is not in it
    await env.client.set_bot_membership(group["id"], "member", by_user_id=uid)
    assert (await call(env, "setMyCommands", commands=CMDS, scope={"type": "chat", "chat_id": group["id"]}))[0] == 200
    assert bad(await call(env, "setMyCommands", commands=CMDS,
                          scope={"type": "chat_member", "chat_id": group["id"], "user_id": 999}),
               "USER_NOT_PARTICIPANT")
    assert (await call(env, "setMyCommands", commands=CMDS,
                       scope={"type": "chat_member", "chat_id": group["id"], "user_id": uid}))[0] == 200


async def test_item5_languages_and_commands_are_checked(env: World) -> None:
    for language in ("zh-hans", "ZH", "chinese", "z"):
        assert bad(await call(env, "setMyCommands", commands=CMDS, language_code=language), "LANG_CODE_INVALID")
    assert (await call(env, "setMyCommands", commands=CMDS, language_code="zh"))[0] == 200
    for name in ("Help", "帮助", "need-for", "x" * 33, ""):
        assert bad(await call(env, "setMyCommands", commands=[{"command": name, "description": "d"}]),
                   "BOT_COMMAND_INVALID"), name
    for description in ("", "   ", "x" * 257):
        assert bad(await call(env, "setMyCommands", commands=[{"command": "a", "description": description}]),
                   "BOT_COMMAND_DESCRIPTION_INVALID")
    many = [{"command": f"c{i}", "description": "d"} for i in range(101)]
    assert bad(await call(env, "setMyCommands", commands=many), "BOT_COMMANDS_TOO_MUCH")
    assert (await call(env, "setMyCommands", commands=many[:100]))[0] == 200


async def test_item5_the_menu_a_user_sees_follows_telegrams_order(env: World) -> None:
    zh = await _person(env, "张", "zh-hans")
    en = await _person(env, "Ann", "en")
    assert await env.client.menu(zh) == []
    await call(env, "setMyCommands", commands=[{"command": "start", "description": "default"}])
    await call(env, "setMyCommands", commands=[{"command": "start", "description": "私聊"}],
               scope={"type": "all_private_chats"}, language_code="zh")
    assert [c["description"] for c in await env.client.menu(zh)] == ["私聊"]
    assert [c["description"] for c in await env.client.menu(en)] == ["default"]
    await call(env, "setMyCommands", commands=CMDS, scope={"type": "chat", "chat_id": zh})
    assert await env.client.menu(zh) == CMDS  # the person's own list first, whatever their language
    assert [c["description"] for c in await env.client.menu(en)] == ["default"]
    await call(env, "deleteMyCommands", scope={"type": "chat", "chat_id": zh})
    assert [c["description"] for c in await env.client.menu(zh)] == ["私聊"]
