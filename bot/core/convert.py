"""Telegram update (as the Bot API's JSON) → neutral event.

Both runtimes hand us the update as a plain dict (aiogram: `model_dump(by_alias=True)`,
python-telegram-bot: `to_dict()`), so parsing lives once, here."""

from __future__ import annotations

from typing import Any

from bot.core.types import (
    BotStatusEvent,
    CallbackEvent,
    ChatMemberEvent,
    ChatRef,
    Event,
    MessageEvent,
    PollAnswerEvent,
    ReactionEvent,
    UserRef,
)

UPDATE_TYPES = ["message", "callback_query", "my_chat_member", "chat_member", "poll_answer", "message_reaction"]


def _user(d: dict[str, Any] | None) -> UserRef | None:
    if not d:
        return None
    return UserRef(id=int(d["id"]), first_name=d.get("first_name") or "", last_name=d.get("last_name"),
                   username=d.get("username"), language_code=d.get("language_code"), is_bot=bool(d.get("is_bot")))


def _chat(d: dict[str, Any] | None) -> ChatRef | None:
    if not d:
        return None
    title = d.get("title") or " ".join(p for p in (d.get("first_name"), d.get("last_name")) if p)
    return ChatRef(id=int(d["id"]), type=str(d.get("type", "private")), title=title)


def parse_command(text: str, bot_username: str) -> tuple[str | None, str, bool]:
    """'/link@linli_bot building 3' → ('link', 'building 3', False).

    Returns (command or None, arguments, addressed to another bot)."""
    if not text.startswith("/") or len(text) < 2:
        return None, "", False
    head, _, rest = text.partition(" ")
    if "\n" in head:
        head, _, more = head.partition("\n")
        rest = more + (" " + rest if rest else "")
    name, _, target = head[1:].partition("@")
    if not name or not all(c.isascii() and (c.isalnum() or c == "_") for c in name) or len(name) > 32:
        return None, "", False
    other = bool(target) and target.lower() != bot_username.lower()
    return name.lower(), rest.strip(), other


def _message(update_id: int, m: dict[str, Any], bot_username: str) -> MessageEvent:
    text = m.get("text") or m.get("caption") or ""
    command, args, other = parse_command(m.get("text") or "", bot_username)
    photos = m.get("photo") or []
    loc = m.get("location")
    reply = m.get("reply_to_message") or {}
    return MessageEvent(
        update_id=update_id, chat=_chat(m.get("chat")), user=_user(m.get("from")), message_id=int(m["message_id"]),
        text=text, command=command, args=args, addressed_to_other_bot=other,
        photo_file_id=photos[-1]["file_id"] if photos else None,
        photo_unique_id=photos[-1].get("file_unique_id") if photos else None,
        document_file_id=(m.get("document") or {}).get("file_id"),
        document_name=str((m.get("document") or {}).get("file_name") or ""),
        document_size=int((m.get("document") or {}).get("file_size") or 0),
        voice_file_id=(m.get("voice") or {}).get("file_id"),
        voice_seconds=int((m.get("voice") or {}).get("duration") or 0) or None,
        location=(float(loc["latitude"]), float(loc["longitude"])) if loc else None,
        reply_to_message_id=reply.get("message_id"),
    )


def event_from_update(update: dict[str, Any], bot_username: str) -> Event | None:
    uid = int(update["update_id"])
    if m := update.get("message"):
        return _message(uid, m, bot_username)
    if cq := update.get("callback_query"):
        msg = cq.get("message") or {}
        return CallbackEvent(update_id=uid, chat=_chat(msg.get("chat")), user=_user(cq.get("from")),
                             callback_id=str(cq["id"]), message_id=msg.get("message_id"), data=cq.get("data") or "")
    if cm := update.get("my_chat_member"):
        return BotStatusEvent(update_id=uid, chat=_chat(cm.get("chat")), user=_user(cm.get("from")),
                              old_status=cm["old_chat_member"]["status"], new_status=cm["new_chat_member"]["status"])
    if cm := update.get("chat_member"):
        return ChatMemberEvent(update_id=uid, chat=_chat(cm.get("chat")), user=_user(cm.get("from")),
                               member=_user(cm["new_chat_member"].get("user")),
                               old_status=cm["old_chat_member"]["status"], new_status=cm["new_chat_member"]["status"])
    if pa := update.get("poll_answer"):
        return PollAnswerEvent(update_id=uid, chat=None, user=_user(pa.get("user")), poll_id=str(pa["poll_id"]),
                               option_ids=tuple(int(i) for i in pa.get("option_ids") or []))
    if mr := update.get("message_reaction"):
        emoji = tuple(r.get("emoji", "") for r in mr.get("new_reaction") or [] if r.get("type") == "emoji")
        return ReactionEvent(update_id=uid, chat=_chat(mr.get("chat")), user=_user(mr.get("user")),
                             message_id=int(mr["message_id"]), emoji=emoji)
    return None
