"""Builders of Bot API JSON objects from the stand-in's state.

Every object carries the fields that BOTH aiogram 3.31 (Bot API 10.3, strict pydantic models)
and python-telegram-bot 22.8 (Bot API 10.0) require; extra fields are tolerated by both.
"""

from __future__ import annotations

from typing import Any

from .state import BotAccount, Chat, Poll, StoredFile, StoredMessage, User, World


def _compact(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if v is not None}


def user_json(user: User) -> dict[str, Any]:
    return _compact(
        {
            "id": user.id,
            "is_bot": user.is_bot,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "username": user.username,
            "language_code": None if user.is_bot else user.language_code,
        }
    )


def me_json(bot: BotAccount) -> dict[str, Any]:
    """getMe: a bot user with its capability flags."""
    return {
        **user_json(bot.user),
        "can_join_groups": True,
        "can_read_all_group_messages": True,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


def chat_json(chat: Chat, world: World) -> dict[str, Any]:
    if chat.type == "private":
        user = world.users[chat.user_id] if chat.user_id in world.users else None
        return _compact(
            {
                "id": chat.id,
                "type": "private",
                "first_name": user.first_name if user else "",
                "last_name": user.last_name if user else None,
                "username": user.username if user else None,
            }
        )
    return {"id": chat.id, "type": chat.type, "title": chat.title or ""}


def chat_full_info(chat: Chat, world: World) -> dict[str, Any]:
    info = {
        **chat_json(chat, world),
        "accent_color_id": 0,
        "max_reaction_count": 11,
        "accepted_gift_types": {
            "unlimited_gifts": False,
            "limited_gifts": False,
            "unique_gifts": False,
            "premium_subscription": False,
            "gifts_from_channels": False,
        },
    }
    if chat.is_group:
        info["permissions"] = {"can_send_messages": True, "can_send_polls": True, "can_invite_users": True}
    if chat.pinned and chat.pinned[-1] in chat.messages:
        info["pinned_message"] = message_json(chat.messages[chat.pinned[-1]], world, depth=1)
    return info


_ADMIN_RIGHTS = (
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
    "can_send_welcome_messages",
    "can_pin_messages",
    "can_manage_topics",
)


def member_json(user: User, status: str | None) -> dict[str, Any]:
    """A ChatMember* object for ``status`` (None = not a member)."""
    status = status or "left"
    base: dict[str, Any] = {"status": status, "user": user_json(user)}
    if status == "creator":
        return {**base, "is_anonymous": False}
    if status == "administrator":
        rights = {right: right != "can_promote_members" for right in _ADMIN_RIGHTS}
        return {**base, "can_be_edited": False, "is_anonymous": False, **rights}
    if status == "kicked":
        return {**base, "until_date": 0}
    return base


def file_json(f: StoredFile) -> dict[str, Any]:
    return {
        "file_id": f.file_id,
        "file_unique_id": f.file_unique_id,
        "file_size": len(f.data),
        "file_path": f.file_path,
    }


def photo_sizes(files: list[StoredFile]) -> list[dict[str, Any]]:
    return [
        {
            "file_id": f.file_id,
            "file_unique_id": f.file_unique_id,
            "width": f.width or 0,
            "height": f.height or 0,
            "file_size": len(f.data),
        }
        for f in files
    ]


def document_json(f: StoredFile) -> dict[str, Any]:
    return _compact(
        {
            "file_id": f.file_id,
            "file_unique_id": f.file_unique_id,
            "file_name": f.file_name,
            "mime_type": f.mime_type,
            "file_size": len(f.data),
        }
    )


def voice_json(f: StoredFile) -> dict[str, Any]:
    return _compact(
        {
            "file_id": f.file_id,
            "file_unique_id": f.file_unique_id,
            "duration": f.duration or 0,
            "mime_type": f.mime_type,
            "file_size": len(f.data),
        }
    )


def poll_json(poll: Poll) -> dict[str, Any]:
    counts = [0] * len(poll.options)
    for choice in poll.votes.values():
        for idx in choice:
            counts[idx] += 1
    obj: dict[str, Any] = {
        "id": poll.id,
        "question": poll.question,
        "options": [
            {"persistent_id": f"{poll.id}-{i}", "text": text, "voter_count": counts[i]}
            for i, text in enumerate(poll.options)
        ],
        "total_voter_count": sum(1 for v in poll.votes.values() if v),
        "is_closed": poll.is_closed,
        "is_anonymous": poll.is_anonymous,
        "type": poll.type,
        "allows_multiple_answers": poll.allows_multiple_answers,
        "allows_revoting": True,
        "members_only": False,
    }
    if poll.correct_option_id is not None:
        obj["correct_option_id"] = poll.correct_option_id
        obj["correct_option_ids"] = [poll.correct_option_id]
    if poll.explanation:
        obj["explanation"] = poll.explanation
    return obj


def message_json(msg: StoredMessage, world: World, depth: int = 0) -> dict[str, Any]:
    """The Message object as a bot sees it (``depth`` > 0: no nested reply)."""
    obj: dict[str, Any] = {
        "message_id": msg.message_id,
        "date": msg.date,
        "chat": chat_json(msg.chat, world),
        "from": user_json(msg.sender),
    }
    if msg.text is not None:
        obj["text"] = msg.text
        if msg.entities:
            obj["entities"] = msg.entities
    if msg.caption is not None:
        obj["caption"] = msg.caption
        if msg.caption_entities:
            obj["caption_entities"] = msg.caption_entities
    _media(obj, msg, world)
    if msg.reply_markup and "inline_keyboard" in msg.reply_markup:
        obj["reply_markup"] = msg.reply_markup
    if msg.edit_date is not None:
        obj["edit_date"] = msg.edit_date
    if msg.media_group_id:
        obj["media_group_id"] = msg.media_group_id
    if depth == 0 and msg.reply_to is not None and msg.reply_to in msg.chat.messages:
        obj["reply_to_message"] = message_json(msg.chat.messages[msg.reply_to], world, depth + 1)
    obj.update(_service(msg, world, depth))
    return obj


def _media(obj: dict[str, Any], msg: StoredMessage, world: World) -> None:
    if msg.photo:
        obj["photo"] = photo_sizes(msg.photo)
    if msg.document is not None:
        obj["document"] = document_json(msg.document)
    if msg.voice is not None:
        obj["voice"] = voice_json(msg.voice)
    if msg.poll_id is not None and msg.poll_id in world.polls:
        obj["poll"] = poll_json(world.polls[msg.poll_id])
    if msg.location is not None:
        obj["location"] = msg.location


def _service(msg: StoredMessage, world: World, depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    svc = msg.service
    if "new_chat_members" in svc:
        out["new_chat_members"] = [user_json(u) for u in svc["new_chat_members"]]
    if "left_chat_member" in svc:
        out["left_chat_member"] = user_json(svc["left_chat_member"])
    if "pinned_message" in svc and depth == 0:
        pinned = msg.chat.messages.get(svc["pinned_message"])
        if pinned is not None:
            out["pinned_message"] = message_json(pinned, world, depth + 1)
    return out


def chat_member_updated(
    chat: Chat, world: World, actor: User, subject: User, old: str | None, new: str | None, date: int
) -> dict[str, Any]:
    return {
        "chat": chat_json(chat, world),
        "from": user_json(actor),
        "date": date,
        "old_chat_member": member_json(subject, old),
        "new_chat_member": member_json(subject, new),
    }
