"""In-memory world of the stand-in: bots, users, chats, messages, files and update queues.

Everything is mutated from the event loop only, so no locks are needed. Lookups are dicts;
per-chat messages are kept in dicts keyed by message_id, and a global change log (sorted by
sequence number) makes "what changed since cursor N" cheap.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

DEFAULT_UPDATES = [
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_connection",
    "business_message",
    "edited_business_message",
    "deleted_business_messages",
    "inline_query",
    "chosen_inline_result",
    "callback_query",
    "shipping_query",
    "pre_checkout_query",
    "purchased_paid_media",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_join_request",
    "chat_boost",
    "removed_chat_boost",
]
ADMIN_ONLY_UPDATES = {"chat_member", "message_reaction", "message_reaction_count"}
MEMBER_STATUSES = ("creator", "administrator", "member")


class Signal:
    """A re-armable broadcast: waiters wake on the next :meth:`fire`."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> bool:
        """True if fired within ``timeout`` seconds."""
        event = self._event
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            return False
        return True


@dataclass
class User:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = "zh-hans"
    is_bot: bool = False


@dataclass
class BotAccount:
    user: User
    token: str
    queue: deque[dict[str, Any]] = field(default_factory=deque)
    next_update_id: int = 1
    allowed_updates: list[str] = field(default_factory=lambda: list(DEFAULT_UPDATES))
    webhook_url: str = ""
    webhook_secret: str | None = None
    webhook_error: tuple[int, str] | None = None
    commands: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    menu_buttons: dict[int | None, dict[str, Any]] = field(default_factory=dict)
    signal: Signal = field(default_factory=Signal)
    poller: asyncio.Future[None] | None = None  # set while a getUpdates long-poll waits

    @property
    def id(self) -> int:
        return self.user.id

    def pending(self) -> int:
        return len(self.queue)

    def confirm(self, offset: int) -> None:
        """Drop every update with update_id < offset (getUpdates confirmation)."""
        while self.queue and self.queue[0]["update_id"] < offset:
            self.queue.popleft()


@dataclass
class Chat:
    id: int
    type: str  # private | group | supergroup
    title: str | None = None
    user_id: int | None = None  # private chats: the human side
    bot_id: int | None = None  # private chats: the bot side
    blocked: bool = False  # private chats: the user blocked the bot
    members: dict[int, str] = field(default_factory=dict)  # user id → status
    bot_status: dict[int, str] = field(default_factory=dict)  # bot id → status
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    next_message_id: int = 1
    pinned: list[int] = field(default_factory=list)

    @property
    def key(self) -> tuple[int, int]:
        """Unique key: private chats exist once per (bot, user)."""
        return (self.bot_id or 0, self.id)

    @property
    def is_group(self) -> bool:
        return self.type in ("group", "supergroup")

    def take_message_id(self) -> int:
        mid = self.next_message_id
        self.next_message_id += 1
        return mid


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    kind: str  # photo | document | voice
    data: bytes
    file_path: str
    mime_type: str | None = None
    file_name: str | None = None
    width: int | None = None
    height: int | None = None
    duration: int | None = None  # voice: seconds, as the sender stated


@dataclass
class Poll:
    id: str
    chat_key: tuple[int, int]
    message_id: int
    bot_id: int
    question: str
    options: list[str]
    is_anonymous: bool = True
    type: str = "regular"
    allows_multiple_answers: bool = False
    correct_option_id: int | None = None
    explanation: str | None = None
    is_closed: bool = False
    votes: dict[int, list[int]] = field(default_factory=dict)


@dataclass
class StoredMessage:
    chat: Chat
    message_id: int
    sender: User
    date: int
    kind: str = "message"  # message | service
    text: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    caption: str | None = None
    caption_entities: list[dict[str, Any]] = field(default_factory=list)
    source_html: str | None = None  # the original string when sent with parse_mode HTML
    reply_markup: dict[str, Any] | None = None
    photo: list[StoredFile] = field(default_factory=list)
    document: StoredFile | None = None
    voice: StoredFile | None = None
    poll_id: str | None = None
    location: dict[str, float] | None = None
    reply_to: int | None = None
    media_group_id: str | None = None
    service: dict[str, Any] = field(default_factory=dict)  # new_chat_members, left_chat_member…
    edit_date: int | None = None
    deleted: bool = False
    pinned: bool = False
    reactions: dict[int, list[str]] = field(default_factory=dict)  # user id → emoji
    seq: int = 0

    @property
    def is_bot(self) -> bool:
        return self.sender.is_bot

    def button_data(self) -> list[tuple[str, str]]:
        """(text, callback_data) of every inline button."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [(b["text"], b["callback_data"]) for row in rows for b in row if "callback_data" in b]


@dataclass
class Toast:
    callback_query_id: str
    user_id: int
    text: str | None
    show_alert: bool
    url: str | None
    date: int


@dataclass
class PendingCallback:
    id: str
    bot_id: int
    user_id: int
    answered: asyncio.Future[Toast]


class World:
    """All state. Bot API handlers and the control API both operate on it."""

    def __init__(self, clock: Callable[[], float] | None = None, timezone: str | None = None) -> None:
        #: Seconds since the epoch: the real time, or the sandbox's clock (it moves with /clock), so
        #: messages are stamped with the time the bot lives in
        self.clock: Callable[[], float] = clock or time.time
        self.timezone = timezone  # the IANA zone the web page shows times in (None: the browser's)
        self.bots: dict[int, BotAccount] = {}
        self.bots_by_token: dict[str, BotAccount] = {}
        self.users: dict[int, User] = {}
        self.groups: dict[int, Chat] = {}
        self.privates: dict[tuple[int, int], Chat] = {}  # (bot id, user id) → chat
        self.files: dict[str, StoredFile] = {}
        self.files_by_path: dict[str, StoredFile] = {}
        self.polls: dict[str, Poll] = {}
        self.callbacks: dict[str, PendingCallback] = {}
        self.toasts: dict[int, list[Toast]] = {}
        self.seq = 0
        self.change_log: list[tuple[int, StoredMessage]] = []  # ascending seq
        self.changed = Signal()
        self.counter = itertools.count(1)
        self._next_user_id = 100001
        self._next_group_id = -1000001

    # ----------------------------------------------------------------- ids & time
    def now(self) -> int:
        return int(self.clock())

    def unique(self, prefix: str) -> str:
        return f"{prefix}{next(self.counter):08d}"

    # ----------------------------------------------------------------- entities
    def add_bot(self, token: str, username: str, first_name: str) -> BotAccount:
        if token in self.bots_by_token:
            raise ValueError("a bot with this token exists")
        try:
            bot_id = int(token.split(":", 1)[0])
        except ValueError:
            raise ValueError("token must look like <digits>:<secret>") from None
        user = User(bot_id, first_name, username=username, language_code=None, is_bot=True)
        bot = BotAccount(user=user, token=token)
        self.bots[bot_id] = bot
        self.bots_by_token[token] = bot
        return bot

    def add_user(
        self,
        first_name: str,
        id: int | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "zh-hans",
    ) -> User:
        if id is None:
            while self._next_user_id in self.users or self._next_user_id in self.bots:
                self._next_user_id += 1
            id = self._next_user_id
        if id <= 0 or id in self.users or id in self.bots:
            raise ValueError(f"user id {id} is taken or invalid")
        user = User(id, first_name, last_name, username, language_code)
        self.users[id] = user
        return user

    def add_group(
        self,
        title: str,
        type: str = "supergroup",
        id: int | None = None,
        member_ids: list[int] | None = None,
        admin_ids: list[int] | None = None,
        owner_id: int | None = None,
    ) -> Chat:
        if type not in ("group", "supergroup"):
            raise ValueError("type must be group or supergroup")
        if id is None:
            while self._next_group_id in self.groups:
                self._next_group_id -= 1
            id = self._next_group_id
        if id >= 0 or id in self.groups:
            raise ValueError(f"group id {id} is taken or not negative")
        members = list(member_ids or [])
        for uid in members + list(admin_ids or []) + ([owner_id] if owner_id else []):
            self.user(uid)
        chat = Chat(id=id, type=type, title=title)
        owner = owner_id if owner_id is not None else (members[0] if members else None)
        for uid in members:
            chat.members[uid] = "member"
        for uid in admin_ids or []:
            chat.members[uid] = "administrator"
        if owner is not None:
            chat.members[owner] = "creator"
        self.groups[id] = chat
        return chat

    def user(self, user_id: int) -> User:
        try:
            return self.users[user_id]
        except KeyError:
            raise ValueError(f"no such user {user_id}") from None

    def bot(self, ref: str | int | None = None) -> BotAccount:
        """A bot by token, username, id, or the first one when ``ref`` is None."""
        if ref is None:
            if not self.bots:
                raise ValueError("no bot exists")
            return next(iter(self.bots.values()))
        for bot in self.bots.values():
            if ref in (bot.token, bot.user.username, bot.id, str(bot.id)) or ref == f"@{bot.user.username}":
                return bot
        raise ValueError(f"no such bot {ref!r}")

    def private_chat(self, bot: BotAccount, user: User, create: bool = False) -> Chat | None:
        chat = self.privates.get((bot.id, user.id))
        if chat is None and create:
            chat = Chat(id=user.id, type="private", user_id=user.id, bot_id=bot.id)
            chat.bot_status[bot.id] = "member"
            self.privates[(bot.id, user.id)] = chat
        return chat

    def chat_for_user(self, user: User, chat_id: int | None, bot: BotAccount) -> Chat:
        """The chat a user acts in: a group (must be a member) or the private chat with ``bot``."""
        if chat_id is None or chat_id == user.id:
            chat = self.private_chat(bot, user, create=True)
            assert chat is not None
            return chat
        chat = self.groups.get(chat_id)
        if chat is None:
            raise ValueError(f"no such chat {chat_id}")
        if chat.members.get(user.id) not in MEMBER_STATUSES:
            raise ValueError(f"user {user.id} is not a member of chat {chat_id}")
        return chat

    def bots_in(self, chat: Chat) -> list[BotAccount]:
        if chat.type == "private":
            return [self.bots[chat.bot_id]] if chat.bot_id in self.bots and not chat.blocked else []
        return [self.bots[b] for b, s in chat.bot_status.items() if s in ("member", "administrator")]

    # ----------------------------------------------------------------- messages
    def touch(self, msg: StoredMessage) -> None:
        """Record a change of ``msg`` in the global change log and wake watchers."""
        self.seq += 1
        msg.seq = self.seq
        self.change_log.append((self.seq, msg))
        self.changed.fire()

    def bump(self) -> None:
        """A change that is not a message (e.g. a toast): wake watchers."""
        self.seq += 1
        self.changed.fire()

    def store(self, msg: StoredMessage) -> StoredMessage:
        msg.chat.messages[msg.message_id] = msg
        self.touch(msg)
        return msg

    def changed_since(self, since: int, chat_key: tuple[int, int] | None = None) -> list[StoredMessage]:
        """Messages created or changed after cursor ``since``, each once, oldest change first."""
        start = bisect.bisect_right(self.change_log, since, key=lambda item: item[0])
        seen: dict[int, StoredMessage] = {}
        for seq, msg in self.change_log[start:]:
            if msg.seq != seq or (chat_key is not None and msg.chat.key != chat_key):
                continue  # a later entry for this message exists
            seen[id(msg)] = msg
        return list(seen.values())

    # ----------------------------------------------------------------- updates
    def wants(self, bot: BotAccount, kind: str, chat: Chat | None) -> bool:
        if kind not in bot.allowed_updates:
            return False
        if kind in ADMIN_ONLY_UPDATES and chat is not None and chat.is_group:
            return chat.bot_status.get(bot.id) == "administrator"
        return True

    def emit(self, bot: BotAccount, kind: str, payload: dict[str, Any], chat: Chat | None = None) -> bool:
        """Queue an update for ``bot`` if it asked for this kind; True when queued."""
        if not self.wants(bot, kind, chat):
            return False
        update = {"update_id": bot.next_update_id, kind: payload}
        bot.next_update_id += 1
        bot.queue.append(update)
        bot.signal.fire()
        return True

    def reset(self) -> None:
        """Forget everything but the bots (whose update ids keep counting up)."""
        bots, seq, changed = self.bots, self.seq, self.changed
        self.__init__()  # type: ignore[misc]
        self.seq, self.changed = seq, changed
        for bot in bots.values():
            bot.queue.clear()
            bot.webhook_url, bot.webhook_secret, bot.webhook_error = "", None, None
            bot.commands.clear()
            bot.menu_buttons.clear()
            self.bots[bot.id] = bot
            self.bots_by_token[bot.token] = bot
        self.bump()
