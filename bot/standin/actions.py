"""What simulated humans do: send messages, tap buttons, vote, react, block, join groups.

Each action stores its effect in the transcript and queues the matching updates for the bots
that would receive them on Telegram.
"""

from __future__ import annotations

import asyncio
from typing import Any

from . import objects as obj
from .files import FileStore
from .formatting import command_entities
from .spec import ApiError
from .state import MEMBER_STATUSES, BotAccount, Chat, PendingCallback, StoredMessage, Toast, User, World


class ActionError(ValueError):
    """A control-API request that cannot be carried out (HTTP 400 {"error": ...})."""


class Actions:
    def __init__(self, world: World, files: FileStore) -> None:
        self.world = world
        self.files = files

    # ------------------------------------------------------------------ helpers
    def _bot(self, ref: str | int | None) -> BotAccount:
        try:
            return self.world.bot(ref)
        except ValueError as exc:
            raise ActionError(str(exc)) from None

    def _user(self, user_id: int) -> User:
        try:
            return self.world.user(user_id)
        except ValueError as exc:
            raise ActionError(str(exc)) from None

    def _chat(self, user: User, chat_id: int | None, bot: str | int | None) -> Chat:
        try:
            return self.world.chat_for_user(user, chat_id, self._bot(bot))
        except ValueError as exc:
            raise ActionError(str(exc)) from None

    def _deliver_message(self, msg: StoredMessage) -> None:
        payload = obj.message_json(msg, self.world)
        for bot in self.world.bots_in(msg.chat):
            self.world.emit(bot, "message", payload, msg.chat)

    def _post(self, user: User, chat: Chat, reply_to: int | None = None, **content: Any) -> StoredMessage:
        if chat.type == "private" and chat.blocked:
            raise ActionError("the user has blocked this bot; unblock first")
        if reply_to is not None and reply_to not in chat.messages:
            raise ActionError(f"no message {reply_to} in chat {chat.id}")
        msg = StoredMessage(
            chat, chat.take_message_id(), user, self.world.now(), reply_to=reply_to, **content
        )
        self.world.store(msg)
        self._deliver_message(msg)
        return msg

    # ------------------------------------------------------------------ messages
    def send_text(
        self,
        user_id: int,
        text: str,
        chat_id: int | None = None,
        reply_to_message_id: int | None = None,
        bot: str | int | None = None,
    ) -> StoredMessage:
        if not text.strip():
            raise ActionError("text is empty")
        user = self._user(user_id)
        chat = self._chat(user, chat_id, bot)
        return self._post(user, chat, reply_to_message_id, text=text, entities=command_entities(text))

    def send_photo(
        self,
        user_id: int,
        data: bytes,
        chat_id: int | None = None,
        caption: str | None = None,
        bot: str | int | None = None,
    ) -> StoredMessage:
        user = self._user(user_id)
        chat = self._chat(user, chat_id, bot)
        try:
            sizes = self.files.add_photo(data)
        except ApiError as exc:  # IMAGE_PROCESS_FAILED
            raise ActionError(f"not an image: {exc.description}") from None
        return self._post(user, chat, photo=sizes, caption=caption or None)

    def send_document(
        self,
        user_id: int,
        data: bytes,
        file_name: str,
        mime_type: str | None = None,
        chat_id: int | None = None,
        caption: str | None = None,
        bot: str | int | None = None,
    ) -> StoredMessage:
        user = self._user(user_id)
        chat = self._chat(user, chat_id, bot)
        document = self.files.add_document(data, file_name, mime_type)
        return self._post(user, chat, document=document, caption=caption or None)

    def send_voice(
        self,
        user_id: int,
        data: bytes,
        duration: int,
        chat_id: int | None = None,
        caption: str | None = None,
        bot: str | int | None = None,
    ) -> StoredMessage:
        """A recorded voice note (OGG/Opus as Telegram apps send it); the sender states its length."""
        if not data:
            raise ActionError("voice data is empty")
        if isinstance(duration, bool) or not isinstance(duration, int) or duration <= 0:
            raise ActionError("duration must be a positive number of seconds")
        user = self._user(user_id)
        chat = self._chat(user, chat_id, bot)
        voice = self.files.add_voice(data, duration)
        return self._post(user, chat, voice=voice, caption=caption or None)

    def send_location(
        self,
        user_id: int,
        latitude: float,
        longitude: float,
        chat_id: int | None = None,
        bot: str | int | None = None,
    ) -> StoredMessage:
        user = self._user(user_id)
        chat = self._chat(user, chat_id, bot)
        return self._post(user, chat, location={"latitude": float(latitude), "longitude": float(longitude)})

    # ------------------------------------------------------------------ buttons
    def _find_message(
        self, user: User, chat_id: int, message_id: int, bot: str | int | None
    ) -> StoredMessage:
        chat = self._chat(user, chat_id, bot)
        msg = chat.messages.get(message_id)
        if msg is None or msg.deleted:
            raise ActionError(f"no message {message_id} in chat {chat_id}")
        return msg

    async def tap(
        self,
        user_id: int,
        chat_id: int,
        message_id: int,
        data: str | None = None,
        text: str | None = None,
        forge: bool = False,
        wait: float = 3.0,
        bot: str | int | None = None,
    ) -> dict[str, Any]:
        """Press an inline button (by callback data or visible text); wait for the bot's answer."""
        user = self._user(user_id)
        msg = self._find_message(user, chat_id, message_id, bot)
        data = self._button(msg, data, text, forge)
        if not msg.sender.is_bot or msg.sender.id not in self.world.bots:
            raise ActionError("the message was not sent by a bot")
        target = self.world.bots[msg.sender.id]
        pending = PendingCallback(
            self.world.unique(str(user.id)), target.id, user.id, asyncio.get_running_loop().create_future()
        )
        self.world.callbacks[pending.id] = pending
        payload = {
            "id": pending.id,
            "from": obj.user_json(user),
            "message": obj.message_json(msg, self.world),
            "chat_instance": str(abs(msg.chat.id) * 7919 + target.id),
            "data": data,
        }
        self.world.emit(target, "callback_query", payload, msg.chat)
        answer = await _wait_answer(pending.answered, wait)
        return {"callback_query_id": pending.id, "answer": toast_json(answer) if answer else None}

    @staticmethod
    def _button(msg: StoredMessage, data: str | None, text: str | None, forge: bool) -> str:
        buttons = msg.button_data()
        if data is None and text is not None:
            exact = [d for t, d in buttons if t == text]
            partial = [d for t, d in buttons if text in t]
            found = exact or partial
            if not found:
                raise ActionError("no such button")
            return found[0]
        if data is None:
            raise ActionError("data or text is required")
        if not forge and data not in {d for _, d in buttons}:
            raise ActionError("no such button")
        return data

    # ------------------------------------------------------------------ polls & reactions
    def answer_poll(self, user_id: int, poll_id: str, option_ids: list[int]) -> dict[str, Any]:
        user = self._user(user_id)
        poll = self.world.polls.get(str(poll_id))
        if poll is None:
            raise ActionError(f"no such poll {poll_id}")
        if poll.is_closed:
            raise ActionError("poll is closed")
        if len(option_ids) > 1 and not poll.allows_multiple_answers:
            raise ActionError("this poll allows one answer only")
        if any(not 0 <= i < len(poll.options) for i in option_ids):
            raise ActionError("option id out of range")
        poll.votes[user.id] = sorted(set(option_ids))
        msg = self._poll_message(poll.chat_key, poll.message_id)
        bot = self.world.bots.get(poll.bot_id)
        if bot is not None:
            self.world.emit(bot, "poll", obj.poll_json(poll), None)
            if not poll.is_anonymous:
                answer = {
                    "poll_id": poll.id,
                    "user": obj.user_json(user),
                    "option_ids": poll.votes[user.id],
                    "option_persistent_ids": [f"{poll.id}-{i}" for i in poll.votes[user.id]],
                }
                self.world.emit(bot, "poll_answer", answer, None)
        if msg is not None:
            self.world.touch(msg)
        return obj.poll_json(poll)

    def _poll_message(self, chat_key: tuple[int, int], message_id: int) -> StoredMessage | None:
        bot_id, chat_id = chat_key
        chat = self.world.groups.get(chat_id) if chat_id < 0 else self.world.privates.get((bot_id, chat_id))
        return chat.messages.get(message_id) if chat else None

    def react(
        self,
        user_id: int,
        chat_id: int,
        message_id: int,
        emoji: str | list[str],
        bot: str | int | None = None,
    ) -> dict[str, Any]:
        user = self._user(user_id)
        msg = self._find_message(user, chat_id, message_id, bot)
        new = [emoji] if isinstance(emoji, str) else list(emoji)
        old = msg.reactions.get(user.id, [])
        if new:
            msg.reactions[user.id] = new
        else:
            msg.reactions.pop(user.id, None)
        self.world.touch(msg)
        payload = {
            "chat": obj.chat_json(msg.chat, self.world),
            "message_id": msg.message_id,
            "user": obj.user_json(user),
            "date": self.world.now(),
            "old_reaction": [{"type": "emoji", "emoji": e} for e in old],
            "new_reaction": [{"type": "emoji", "emoji": e} for e in new],
        }
        for target in self.world.bots_in(msg.chat):
            self.world.emit(target, "message_reaction", payload, msg.chat)
        return {"message_id": msg.message_id, "reactions": new}

    # ------------------------------------------------------------------ membership
    def block(self, user_id: int, blocked: bool, bot: str | int | None = None) -> dict[str, Any]:
        user = self._user(user_id)
        target = self._bot(bot)
        chat = self.world.private_chat(target, user, create=True)
        assert chat is not None
        if chat.blocked != blocked:
            chat.blocked = blocked
            old, new = ("member", "kicked") if blocked else ("kicked", "member")
            payload = obj.chat_member_updated(chat, self.world, user, target.user, old, new, self.world.now())
            self.world.emit(target, "my_chat_member", payload, chat)
            self.world.bump()
        return {"user_id": user.id, "blocked": chat.blocked}

    def join(self, chat_id: int, user_id: int) -> dict[str, Any]:
        """A user joins a group: new_chat_members service message and chat_member update."""
        user = self._user(user_id)
        chat = self.world.groups.get(chat_id)
        if chat is None:
            raise ActionError(f"no such group {chat_id}")
        old = chat.members.get(user.id)
        if old in MEMBER_STATUSES:
            raise ActionError("already a member")
        chat.members[user.id] = "member"
        service = StoredMessage(
            chat,
            chat.take_message_id(),
            user,
            self.world.now(),
            kind="service",
            service={"new_chat_members": [user]},
        )
        self.world.store(service)
        self._deliver_message(service)
        payload = obj.chat_member_updated(chat, self.world, user, user, old, "member", self.world.now())
        for target in self.world.bots_in(chat):
            self.world.emit(target, "chat_member", payload, chat)
        return {"chat_id": chat.id, "user_id": user.id, "status": "member"}

    def set_bot_membership(
        self, chat_id: int, status: str, by_user_id: int, bot: str | int | None = None
    ) -> dict[str, Any]:
        """An admin adds, promotes, removes or bans a bot in a group."""
        if status not in ("member", "administrator", "left", "kicked"):
            raise ActionError("status must be member, administrator, left or kicked")
        target = self._bot(bot)
        actor = self._user(by_user_id)
        chat = self.world.groups.get(chat_id)
        if chat is None:
            raise ActionError(f"no such group {chat_id}")
        old = chat.bot_status.get(target.id, "left")
        if old == status:
            return {"chat_id": chat.id, "status": status}
        chat.bot_status[target.id] = status
        now = self.world.now()
        payload = obj.chat_member_updated(chat, self.world, actor, target.user, old, status, now)
        self.world.emit(target, "my_chat_member", payload, chat)
        was_in, is_in = old in ("member", "administrator"), status in ("member", "administrator")
        if was_in != is_in:
            key = "new_chat_members" if is_in else "left_chat_member"
            value: Any = [target.user] if is_in else target.user
            service = StoredMessage(
                chat, chat.take_message_id(), actor, now, kind="service", service={key: value}
            )
            self.world.store(service)
            payload_msg = obj.message_json(service, self.world)
            for other in self.world.bots_in(chat):
                self.world.emit(other, "message", payload_msg, chat)
        self.world.bump()
        return {"chat_id": chat.id, "status": status}


async def _wait_answer(future: asyncio.Future[Toast], wait: float) -> Toast | None:
    if wait <= 0:
        return future.result() if future.done() else None
    try:
        return await asyncio.wait_for(asyncio.shield(future), wait)
    except TimeoutError:
        return None


def toast_json(toast: Toast) -> dict[str, Any]:
    return {"text": toast.text, "show_alert": toast.show_alert, "url": toast.url, "date": toast.date}
