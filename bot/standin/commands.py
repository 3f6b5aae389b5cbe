"""The bot's command menus, as Telegram keeps them: setMyCommands / getMyCommands / deleteMyCommands per
(scope, language_code), checked as Telegram checks them, and the menu a given user sees in a given chat.

- scope: one of the seven BotCommandScope types (the spec check has made sure of the object's shape); `chat`,
  `chat_administrators` and `chat_member` name a chat the bot can reach (a private chat only once the user has
  talked to the bot), the last two a group, `chat_member` one of its members. A chat given as a numeric string
  is the same chat as the number (one menu, not two).
- language_code: empty, or two lowercase letters (ISO 639-1).
- commands: at most 100; each command 1–32 of `a-z 0-9 _`, its description 1–256 characters.
- The menu a user sees (`menu_for`): the first list set in Telegram's order — in a private chat: chat +
  language, chat, all_private_chats + language, all_private_chats, default + language, default; in a group:
  chat_member, chat_administrators (admins), chat, all_chat_administrators (admins), all_group_chats, default,
  each with the user's language first. The user's language is the first two letters of their language_code."""

from __future__ import annotations

import json
import re
from typing import Any

from .spec import bad_request
from .state import BotAccount, Chat, World

COMMAND = re.compile(r"[a-z0-9_]{1,32}")
LANGUAGE = re.compile(r"[a-z]{2}")
MAX_COMMANDS = 100
CHAT_SCOPES = ("chat", "chat_administrators", "chat_member")
ADMIN_STATUSES = ("creator", "administrator")

Key = tuple[str, str]


def _chat_id(value: Any) -> int:
    if isinstance(value, bool):
        raise bad_request("chat not found")
    if isinstance(value, int):
        return value
    text = str(value)
    if re.fullmatch(r"-?\d{1,20}", text):
        return int(text)
    raise bad_request("chat not found")  # @username: the stand-in's groups have none


def _scope_chat(world: World, bot: BotAccount, chat_id: int) -> Chat:
    if chat_id < 0:
        chat = world.groups.get(chat_id)
        if chat is None or chat.bot_status.get(bot.id) in (None, "left", "kicked"):
            raise bad_request("chat not found")
        return chat
    user = world.users.get(chat_id)
    chat = world.private_chat(bot, user) if user is not None else None
    if chat is None:  # Telegram knows no private chat with someone who never wrote to the bot
        raise bad_request("chat not found")
    return chat


def scope_key(world: World, bot: BotAccount, params: dict[str, Any]) -> Key:
    """The normalised (scope, language) a call names, or Telegram's 400."""
    scope = dict(params.get("scope") or {"type": "default"})
    kind = scope.get("type")
    if kind in CHAT_SCOPES:
        chat = _scope_chat(world, bot, _chat_id(scope.get("chat_id")))
        scope["chat_id"] = chat.id
        if kind != "chat" and not chat.is_group:
            raise bad_request("can't use this scope in a private chat")
        if kind == "chat_member":
            user_id = scope.get("user_id")
            if not isinstance(user_id, int) or isinstance(user_id, bool) or user_id not in chat.members:
                raise bad_request("USER_NOT_PARTICIPANT")
    language = params.get("language_code") or ""
    if not isinstance(language, str) or (language and not LANGUAGE.fullmatch(language)):
        raise bad_request("LANG_CODE_INVALID")
    return json.dumps(scope, sort_keys=True), language


def check_commands(commands: list[dict[str, Any]]) -> list[dict[str, str]]:
    if len(commands) > MAX_COMMANDS:
        raise bad_request("BOT_COMMANDS_TOO_MUCH")
    out = []
    for cmd in commands:
        name, description = cmd.get("command"), cmd.get("description")
        if not isinstance(name, str) or not COMMAND.fullmatch(name):
            raise bad_request("BOT_COMMAND_INVALID")
        if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256 or len(description) > 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        out.append({"command": name, "description": description})
    return out


def set_commands(world: World, bot: BotAccount, params: dict[str, Any]) -> bool:
    key = scope_key(world, bot, params)
    checked = check_commands(list(params["commands"]))
    if checked:
        bot.commands[key] = checked
    else:  # an empty list sets nothing: the scope's users see the next list in Telegram's order
        bot.commands.pop(key, None)
    return True


def get_commands(world: World, bot: BotAccount, params: dict[str, Any]) -> list[dict[str, str]]:
    return [dict(c) for c in bot.commands.get(scope_key(world, bot, params), [])]


def delete_commands(world: World, bot: BotAccount, params: dict[str, Any]) -> bool:
    bot.commands.pop(scope_key(world, bot, params), None)
    return True


def _key(kind: str, language: str, **fields: int) -> Key:
    return json.dumps({"type": kind, **fields}, sort_keys=True), language


def menu_for(world: World, bot: BotAccount, user_id: int, chat_id: int | None = None) -> list[dict[str, str]]:
    """The commands `user_id` sees in the menu of `chat_id` (their private chat with the bot by default)."""
    user = world.users.get(user_id)
    language = ((user.language_code or "") if user is not None else "")[:2].lower()
    if chat_id is None or chat_id == user_id:
        kinds = [("chat", {"chat_id": user_id}), ("all_private_chats", {})]
    else:
        chat = world.groups.get(chat_id)
        admin = chat is not None and chat.members.get(user_id) in ADMIN_STATUSES
        kinds = [("chat_member", {"chat_id": chat_id, "user_id": user_id})]
        kinds += [("chat_administrators", {"chat_id": chat_id})] if admin else []
        kinds += [("chat", {"chat_id": chat_id})]
        kinds += [("all_chat_administrators", {})] if admin else []
        kinds += [("all_group_chats", {})]
    kinds.append(("default", {}))
    for kind, fields in kinds:
        for lang in ((language, "") if language else ("",)):
            found = bot.commands.get(_key(kind, lang, **fields))
            if found is not None:
                return [dict(c) for c in found]
    return []
