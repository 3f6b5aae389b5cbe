"""Bot API methods implemented by the stand-in, operating on the :class:`World`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from . import commands
from . import objects as obj
from .checks import (
    caption_text,
    check_callback_answer,
    check_poll,
    check_reply_markup,
    message_text,
    parse_formatted,
)
from .delivery import Delivery
from .files import FileStore
from .spec import ApiError, UploadedFile, bad_request
from .state import MEMBER_STATUSES, BotAccount, Chat, Poll, StoredMessage, Toast, World

Handler = Callable[[BotAccount, dict[str, Any], dict[str, UploadedFile]], Awaitable[Any]]
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)


class BotApi:
    """Dispatch table of method name → coroutine(bot, params, uploads) returning the result."""

    def __init__(self, world: World, files: FileStore, delivery: Delivery) -> None:
        self.world = world
        self.files = files
        self.delivery = delivery
        self.handlers: dict[str, Handler] = {
            "getMe": self.get_me,
            "logOut": self.trivial,
            "close": self.trivial,
            "getUpdates": self.get_updates,
            "setWebhook": self.set_webhook,
            "deleteWebhook": self.delete_webhook,
            "getWebhookInfo": self.get_webhook_info,
            "sendMessage": self.send_message,
            "sendPhoto": self.send_photo,
            "sendDocument": self.send_document,
            "sendVoice": self.send_voice,
            "sendMediaGroup": self.send_media_group,
            "sendPoll": self.send_poll,
            "sendChatAction": self.send_chat_action,
            "stopPoll": self.stop_poll,
            "editMessageText": self.edit_message_text,
            "editMessageCaption": self.edit_message_caption,
            "editMessageReplyMarkup": self.edit_message_reply_markup,
            "deleteMessage": self.delete_message,
            "answerCallbackQuery": self.answer_callback_query,
            "getFile": self.get_file,
            "pinChatMessage": self.pin_chat_message,
            "unpinChatMessage": self.unpin_chat_message,
            "setMyCommands": self.set_my_commands,
            "getMyCommands": self.get_my_commands,
            "deleteMyCommands": self.delete_my_commands,
            "getChat": self.get_chat,
            "getChatMember": self.get_chat_member,
            "getChatAdministrators": self.get_chat_administrators,
            "getChatMemberCount": self.get_chat_member_count,
            "setMessageReaction": self.set_message_reaction,
            "leaveChat": self.leave_chat,
            "setChatMenuButton": self.set_chat_menu_button,
            "getChatMenuButton": self.get_chat_menu_button,
        }

    # ------------------------------------------------------------------ resolution
    def chat(self, bot: BotAccount, chat_id: int | str, sending: bool = True) -> Chat:
        """The chat ``bot`` addresses with ``chat_id``, with Telegram's 400/403 errors."""
        if isinstance(chat_id, str):
            try:
                chat_id = int(chat_id)
            except ValueError:
                raise bad_request("chat not found") from None
        if chat_id < 0:
            return self._group(bot, chat_id)
        if chat_id in self.world.bots:
            raise ApiError(403, "Forbidden: bot can't send messages to bots")
        user = self.world.users.get(chat_id)
        if user is None:
            raise bad_request("chat not found")
        chat = self.world.private_chat(bot, user)
        if chat is None:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        if chat.blocked and sending:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _group(self, bot: BotAccount, chat_id: int) -> Chat:
        chat = self.world.groups.get(chat_id)
        if chat is None:
            raise bad_request("chat not found")
        status = chat.bot_status.get(bot.id)
        kind = "supergroup" if chat.type == "supergroup" else "group"
        if status == "kicked":
            raise ApiError(403, f"Forbidden: bot was kicked from the {kind} chat")
        if status not in ("member", "administrator"):
            raise ApiError(403, f"Forbidden: bot is not a member of the {kind} chat")
        return chat

    @staticmethod
    def message(chat: Chat, message_id: int, action: str) -> StoredMessage:
        msg = chat.messages.get(message_id)
        if msg is None or msg.deleted:
            raise bad_request(f"message to {action} not found")
        return msg

    def _reply_to(self, chat: Chat, params: dict[str, Any]) -> int | None:
        reply = params.get("reply_parameters")
        if not reply:
            return None
        target = chat.messages.get(reply["message_id"])
        if target is None or target.deleted:
            if reply.get("allow_sending_without_reply"):
                return None
            raise bad_request("message to be replied not found")
        return target.message_id

    def _new_message(
        self, bot: BotAccount, chat: Chat, params: dict[str, Any], **content: Any
    ) -> StoredMessage:
        msg = StoredMessage(
            chat=chat,
            message_id=chat.take_message_id(),
            sender=bot.user,
            date=self.world.now(),
            reply_to=self._reply_to(chat, params),
            reply_markup=check_reply_markup(params.get("reply_markup")),
            **content,
        )
        return self.world.store(msg)

    def _json(self, msg: StoredMessage) -> dict[str, Any]:
        return obj.message_json(msg, self.world)

    # ------------------------------------------------------------------ basics
    async def get_me(self, bot: BotAccount, params: dict[str, Any], uploads: dict[str, UploadedFile]) -> Any:
        return obj.me_json(bot)

    async def trivial(self, bot: BotAccount, params: dict[str, Any], uploads: dict[str, UploadedFile]) -> Any:
        return True

    async def get_updates(
        self, bot: BotAccount, params: dict[str, Any], uploads: dict[str, UploadedFile]
    ) -> Any:
        return await self.delivery.get_updates(bot, params)

    async def set_webhook(
        self, bot: BotAccount, params: dict[str, Any], uploads: dict[str, UploadedFile]
    ) -> Any:
        return self.delivery.set_webhook(bot, params)

    async def delete_webhook(
        self, bot: BotAccount, params: dict[str, Any], uploads: dict[str, UploadedFile]
    ) -> Any:
        return self.delivery.delete_webhook(bot, params)

    async def get_webhook_info(
        self, bot: BotAccount, params: dict[str, Any], uploads: dict[str, UploadedFile]
    ) -> Any:
        return self.delivery.webhook_info(bot)

    # ------------------------------------------------------------------ sending
    async def send_message(
        self, bot: BotAccount, params: dict[str, Any], uploads: dict[str, UploadedFile]
    ) -> Any:
        chat = self.chat(bot, params["chat_id"])
        text, entities, source = message_text(params)
        msg = self._new_message(bot, chat, params, text=text, entities=entities, source_html=source)
        return self._json(msg)

    async def send_chat_action(
        self, bot: BotAccount, params: dict[str, Any], uploads: dict[str, UploadedFile]
    ) -> Any:
        self.chat(bot, params["chat_id"])
        return True

    async def send_photo(
        self, bot: BotAccount, params: dict[str, Any], uploads: dict[str, UploadedFile]
    ) -> Any:
        chat = self.chat(bot, params["chat_id"])
        caption, entities, source = caption_text(params)
        sizes = await self.files.photo(params["photo"], uploads)
        msg = self._new_message(
            bot, chat, params, photo=sizes, caption=caption, caption_entities=entities, source_html=source
        )
        return self._json(msg)

    async def send_document(
        self, bot: BotAccount, params: dict[str, Any], uploads: dict[str, UploadedFile]
    ) -> Any:
        chat = self.chat(bot, params["chat_id"])
        caption, entities, source = caption_text(params)
        document = await self.files.document(params["document"], uploads)
        msg = self._new_message(
            bot,
            chat,
            params,
            document=document,
            caption=caption,
            caption_entities=entities,
            source_html=source,
        )
        return self._json(msg)

    async def send_voice(
        self, bot: BotAccount, params: dict[str, Any], uploads: dict[str, UploadedFile]
    ) -> Any:
        chat = self.chat(bot, params["chat_id"])
        caption, entities, source = caption_text(params)
        duration = params.get("duration")
        if duration is not None and duration < 0:
            # Telegram's exact answer is unknown; a negative length is a bot bug, so refuse it
            raise bad_request("voice duration can't be negative")
        voice = await self.files.voice(params["voice"], uploads, duration)
        msg = self._new_message(
            bot, chat, params, voice=voice, caption=caption, caption_entities=entities, source_html=source
        )
        return self._json(msg)

    async def send_media_group(
        self, bot: BotAccount, params: dict[str, Any], uploads: dict[str, UploadedFile]
    ) -> Any:
        chat = self.chat(bot, params["chat_id"])
        media = params["media"]
        if len(media) > 10:
            raise bad_request("too many messages to send as an album")
        if len(media) < 2:
            raise bad_request("not enough messages to send as an album")
        kinds = {item["type"] for item in media}
        if not kinds <= {"photo", "document"} or len(kinds) > 1:
            raise bad_request("media group of this type is not supported by the stand-in")
        prepared = [await self._media_item(item, uploads) for item in media]  # all checks before storing
        group_id = self.world.unique("13")
        results = []
        for index, content in enumerate(prepared):
            item_params = params if index == 0 else {}
            msg = self._new_message(bot, chat, item_params, media_group_id=group_id, **content)
            results.append(self._json(msg))
        return results

    async def _media_item(self, item: dict[str, Any], uploads: dict[str, UploadedFile]) -> dict[str, Any]:
        caption, entities, source = caption_text(item)
        content: dict[str, Any] = {"caption": caption, "caption_entities": entities, "source_html": source}
        if item["type"] == "photo":
            content["photo"] = await self.files.photo(item["media"], uploads)
        else:
            content["document"] = await self.files.document(item["media"], uploads)
        return content

    async def send_poll(
        self, bot: BotAccount, params: dict[str, Any], uploads: dict[str, UploadedFile]
    ) -> Any:
        chat = self.chat(bot, params["chat_id"])
        question, _, _ = parse_formatted(params["question"], params.get("question_parse_mode"), None)
        options = params["options"]
        check_poll(question, options)
        poll_type = params.get("type", "regular")
        if poll_type not in ("regular", "quiz"):
            raise bad_request("poll type is invalid")
        correct = (params.get("correct_option_ids") or [None])[0]
        if poll_type == "quiz" and (correct is None or not 0 <= correct < len(options)):
            raise bad_request("wrong correct option ids specified")
        poll = Poll(
            id=self.world.unique("5"),
            chat_key=chat.key,
            message_id=0,
            bot_id=bot.id,
            question=question,
            options=[o["text"] for o in options],
            is_anonymous=params.get("is_anonymous", True),
            type=poll_type,
            allows_multiple_answers=params.get("allows_multiple_answers", False) and poll_type == "regular",
            correct_option_id=correct if poll_type == "quiz" else None,
            explanation=params.get("explanation"),
            is_closed=params.get("is_closed", False),
        )
        self.world.polls[poll.id] = poll
        msg = self._new_message(bot, chat, params, poll_id=poll.id)
        poll.message_id = msg.message_id
        return self._json(msg)

    async def stop_poll(
        self, bot: BotAccount, params: dict[str, Any], uploads: dict[str, UploadedFile]
    ) -> Any:
        chat = self.chat(bot, params["chat_id"])
        msg = self.message(chat, params["message_id"], "stop")
        poll = self.world.polls.get(msg.poll_id or "")
        if poll is None or msg.sender is not bot.user:
            raise bad_request("message with poll to stop not found")
        if poll.is_closed:
            raise bad_request("poll has already been closed")
        poll.is_closed = True
        if "reply_markup" in params:
            msg.reply_markup = check_reply_markup(params["reply_markup"])
        self.world.touch(msg)
        return obj.poll_json(poll)

    # ------------------------------------------------------------------ editing
    def _editable(self, bot: BotAccount, params: dict[str, Any]) -> StoredMessage:
        if "inline_message_id" in params:
            raise bad_request("inline messages are not supported by the stand-in")
        if "chat_id" not in params or "message_id" not in params:
            raise bad_request("chat_id and message_id are required")
        msg = self.message(self.chat(bot, params["chat_id"]), params["message_id"], "edit")
        if msg.sender is not bot.user:
            raise bad_request("message can't be edited")
        return msg

    def _apply_edit(self, msg: StoredMessage, changes: dict[str, Any]) -> dict[str, Any]:
        if all(getattr(msg, key) == value for key, value in changes.items()):
            raise bad_request(NOT_MODIFIED)
        for key, value in changes.items():
            setattr(msg, key, value)
        msg.edit_date = self.world.now()
        self.world.touch(msg)
        return self._json(msg)

    async def edit_message_text(
        self, bot: BotAccount, params: dict[str, Any], uploads: dict[str, UploadedFile]
    ) -> Any:
        msg = self._editable(bot, params)
        if msg.text is None:
            raise bad_request("there is no text in the message to edit")
        if "text" not in params:
            raise bad_request("message text is empty")
        text, entities, source = message_text(params)
        markup = check_reply_markup(params.get("reply_markup"))
        changes = {"text": text, "entities": entities, "source_html": source, "reply_markup": markup}
        return self._apply_edit(msg, changes)

    async def edit_message_caption(
        self, bot: BotAccount, params: dict[str, Any], uploads: dict[str, UploadedFile]
    ) -> Any:
        msg = self._editable(bot, params)
        if not msg.photo and msg.document is None and msg.voice is None:
            raise bad_request("there is no caption in the message to edit")
        caption, entities, source = caption_text(params)
        markup = check_reply_markup(params.get("reply_markup"))
        changes = {
            "caption": caption,
            "caption_entities": entities,
            "source_html": source,
            "reply_markup": markup,
        }
        return self._apply_edit(msg, changes)

    async def edit_message_reply_markup(
        self, bot: BotAccount, params: dict[str, Any], uploads: dict[str, UploadedFile]
    ) -> Any:
        msg = self._editable(bot, params)
        return self._apply_edit(msg, {"reply_markup": check_reply_markup(params.get("reply_markup"))})

    async def delete_message(
        self, bot: BotAccount, params: dict[str, Any], uploads: dict[str, UploadedFile]
    ) -> Any:
        chat = self.chat(bot, params["chat_id"], sending=False)
        msg = self.message(chat, params["message_id"], "delete")
        if msg.sender is not bot.user and chat.is_group and chat.bot_status.get(bot.id) != "administrator":
            raise bad_request("message can't be deleted")
        msg.deleted = True
        self.world.touch(msg)
        return True

    # ------------------------------------------------------------------ callbacks & files
    async def answer_callback_query(
        self, bot: BotAccount, params: dict[str, Any], uploads: dict[str, UploadedFile]
    ) -> Any:
        pending = self.world.callbacks.get(params["callback_query_id"])
        if pending is None or pending.bot_id != bot.id or pending.answered.done():
            raise bad_request("query is too old and response timeout expired or query ID is invalid")
        check_callback_answer(params.get("text"))
        toast = Toast(
            callback_query_id=pending.id,
            user_id=pending.user_id,
            text=params.get("text"),
            show_alert=params.get("show_alert", False),
            url=params.get("url"),
            date=self.world.now(),
        )
        pending.answered.set_result(toast)
        self.world.toasts.setdefault(pending.user_id, []).append(toast)
        self.world.bump()
        return True

    async def get_file(
        self, bot: BotAccount, params: dict[str, Any], uploads: dict[str, UploadedFile]
    ) -> Any:
        stored = self.world.files.get(params["file_id"])
        if stored is None:
            raise bad_request("invalid file_id")
        return obj.file_json(stored)

    # ------------------------------------------------------------------ pins & reactions
    async def pin_chat_message(
        self, bot: BotAccount, params: dict[str, Any], uploads: dict[str, UploadedFile]
    ) -> Any:
        chat = self.chat(bot, params["chat_id"])
        self._need_admin(bot, chat, "not enough rights to manage pinned messages in the chat")
        msg = self.message(chat, params["message_id"], "pin")
        msg.pinned = True
        if msg.message_id in chat.pinned:
            chat.pinned.remove(msg.message_id)
        chat.pinned.append(msg.message_id)
        self.world.touch(msg)
        if chat.is_group:
            service = StoredMessage(
                chat,
                chat.take_message_id(),
                bot.user,
                self.world.now(),
                kind="service",
                service={"pinned_message": msg.message_id},
            )
            self.world.store(service)
        return True

    async def unpin_chat_message(
        self, bot: BotAccount, params: dict[str, Any], uploads: dict[str, UploadedFile]
    ) -> Any:
        chat = self.chat(bot, params["chat_id"])
        self._need_admin(bot, chat, "not enough rights to manage pinned messages in the chat")
        message_id = params.get("message_id") or (chat.pinned[-1] if chat.pinned else None)
        if message_id is None or message_id not in chat.pinned:
            raise bad_request("message to unpin not found")
        chat.pinned.remove(message_id)
        msg = chat.messages[message_id]
        msg.pinned = False
        self.world.touch(msg)
        return True

    @staticmethod
    def _need_admin(bot: BotAccount, chat: Chat, error: str) -> None:
        if chat.is_group and chat.bot_status.get(bot.id) != "administrator":
            raise bad_request(error)

    async def set_message_reaction(
        self, bot: BotAccount, params: dict[str, Any], uploads: dict[str, UploadedFile]
    ) -> Any:
        chat = self.chat(bot, params["chat_id"])
        msg = self.message(chat, params["message_id"], "react")
        emoji = [r["emoji"] for r in params.get("reaction", []) if r["type"] == "emoji"]
        if len(emoji) > 1:
            raise bad_request("REACTIONS_TOO_MANY")
        if emoji:
            msg.reactions[bot.id] = emoji
        else:
            msg.reactions.pop(bot.id, None)
        self.world.touch(msg)
        return True

    # ------------------------------------------------------------------ commands & menu (commands.py)
    async def set_my_commands(
        self, bot: BotAccount, params: dict[str, Any], uploads: dict[str, UploadedFile]
    ) -> Any:
        return commands.set_commands(self.world, bot, params)

    async def get_my_commands(
        self, bot: BotAccount, params: dict[str, Any], uploads: dict[str, UploadedFile]
    ) -> Any:
        return commands.get_commands(self.world, bot, params)

    async def delete_my_commands(
        self, bot: BotAccount, params: dict[str, Any], uploads: dict[str, UploadedFile]
    ) -> Any:
        return commands.delete_commands(self.world, bot, params)

    async def set_chat_menu_button(
        self, bot: BotAccount, params: dict[str, Any], uploads: dict[str, UploadedFile]
    ) -> Any:
        bot.menu_buttons[params.get("chat_id")] = params.get("menu_button") or {"type": "default"}
        return True

    async def get_chat_menu_button(
        self, bot: BotAccount, params: dict[str, Any], uploads: dict[str, UploadedFile]
    ) -> Any:
        chat_id = params.get("chat_id")
        return bot.menu_buttons.get(chat_id) or bot.menu_buttons.get(None) or {"type": "default"}

    # ------------------------------------------------------------------ chats & members
    async def get_chat(
        self, bot: BotAccount, params: dict[str, Any], uploads: dict[str, UploadedFile]
    ) -> Any:
        return obj.chat_full_info(self.chat(bot, params["chat_id"], sending=False), self.world)

    def _status(self, chat: Chat, user_id: int) -> str | None:
        if chat.type == "private":
            return "member" if user_id in (chat.user_id, chat.bot_id) else None
        if user_id in self.world.bots:
            return chat.bot_status.get(user_id)
        return chat.members.get(user_id)

    async def get_chat_member(
        self, bot: BotAccount, params: dict[str, Any], uploads: dict[str, UploadedFile]
    ) -> Any:
        chat = self.chat(bot, params["chat_id"], sending=False)
        uid = params["user_id"]
        user = self.world.users.get(uid) or (self.world.bots[uid].user if uid in self.world.bots else None)
        if user is None:
            raise bad_request("user not found")
        return obj.member_json(user, self._status(chat, uid))

    async def get_chat_administrators(
        self, bot: BotAccount, params: dict[str, Any], uploads: dict[str, UploadedFile]
    ) -> Any:
        chat = self.chat(bot, params["chat_id"], sending=False)
        if not chat.is_group:
            raise bad_request("there are no administrators in the private chat")
        admins = [
            obj.member_json(self.world.users[uid], status)
            for uid, status in chat.members.items()
            if status in ("creator", "administrator") and uid in self.world.users
        ]
        admins += [
            obj.member_json(self.world.bots[bid].user, "administrator")
            for bid, status in chat.bot_status.items()
            if status == "administrator" and bid in self.world.bots
        ]
        return admins

    async def get_chat_member_count(
        self, bot: BotAccount, params: dict[str, Any], uploads: dict[str, UploadedFile]
    ) -> Any:
        chat = self.chat(bot, params["chat_id"], sending=False)
        if chat.type == "private":
            return 2
        humans = sum(1 for s in chat.members.values() if s in MEMBER_STATUSES)
        bots = sum(1 for s in chat.bot_status.values() if s in ("member", "administrator"))
        return humans + bots

    async def leave_chat(
        self, bot: BotAccount, params: dict[str, Any], uploads: dict[str, UploadedFile]
    ) -> Any:
        chat = self.chat(bot, params["chat_id"], sending=False)
        if not chat.is_group:
            raise bad_request("chat member status can't be changed in private chats")
        chat.bot_status[bot.id] = "left"
        service = StoredMessage(
            chat,
            chat.take_message_id(),
            bot.user,
            self.world.now(),
            kind="service",
            service={"left_chat_member": bot.user},
        )
        self.world.store(service)
        return True
