"""Neutral events (what happened in Telegram) and replies (what to do about it).

Both Telegram runtimes translate their updates into these, and send these back; nothing here
knows aiogram or python-telegram-bot."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class UserRef:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False


@dataclass(frozen=True)
class ChatRef:
    id: int
    type: str  # private | group | supergroup | channel
    title: str = ""

    @property
    def is_private(self) -> bool:
        return self.type == "private"

    @property
    def is_group(self) -> bool:
        return self.type in ("group", "supergroup")


@dataclass(frozen=True)
class Event:
    update_id: int
    chat: ChatRef | None
    user: UserRef | None


@dataclass(frozen=True)
class MessageEvent(Event):
    message_id: int = 0
    text: str = ""
    command: str | None = None  # without the slash and the @botname
    args: str = ""
    addressed_to_other_bot: bool = False
    photo_file_id: str | None = None
    photo_unique_id: str | None = None  # the same photo has one file_unique_id however often it is sent
    document_file_id: str | None = None
    document_name: str = ""  # the file's name as sent (its extension says CSV or XLSX)
    document_size: int = 0  # bytes, as Telegram tells
    voice_file_id: str | None = None
    voice_seconds: int | None = None
    location: tuple[float, float] | None = None
    reply_to_message_id: int | None = None


@dataclass(frozen=True)
class CallbackEvent(Event):
    callback_id: str = ""
    message_id: int | None = None
    data: str = ""


@dataclass(frozen=True)
class BotStatusEvent(Event):
    """my_chat_member: the bot's own status in a chat changed."""

    old_status: str = ""
    new_status: str = ""


@dataclass(frozen=True)
class ChatMemberEvent(Event):
    """chat_member: someone else's status in a group changed."""

    member: UserRef | None = None
    old_status: str = ""
    new_status: str = ""


@dataclass(frozen=True)
class PollAnswerEvent(Event):
    poll_id: str = ""
    option_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class ReactionEvent(Event):
    message_id: int = 0
    emoji: tuple[str, ...] = ()


@dataclass(frozen=True)
class Button:
    text: str
    data: str | None = None
    url: str | None = None


Keyboard = list[list[Button]]


@dataclass(frozen=True)
class OutMessage:
    """A message to send or the new content of one to edit. Text is Telegram HTML."""

    text: str
    buttons: Keyboard | None = None
    photo: str | None = None  # a file_id, or a path/URL for an upload
    disable_preview: bool = True
    voice: str | None = None  # a voice message's file_id (a resident's, passed on); `text` is its caption

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "text": self.text,
            "buttons": [[{"text": b.text, "data": b.data, "url": b.url} for b in row] for row in self.buttons or []],
            "photo": self.photo,
        }
        if self.voice:
            payload["voice"] = self.voice
        return payload

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> OutMessage:
        rows = [[Button(text=b["text"], data=b.get("data"), url=b.get("url")) for b in row]
                for row in payload.get("buttons") or []]
        return cls(text=payload["text"], buttons=rows or None, photo=payload.get("photo"), voice=payload.get("voice"))


@dataclass(frozen=True)
class Send:
    chat_id: int
    message: OutMessage
    reply_to: int | None = None


@dataclass(frozen=True)
class Edit:
    chat_id: int
    message_id: int
    message: OutMessage


@dataclass(frozen=True)
class EditButtons:
    """Replace only the buttons of a message (a photo's caption stays as it is)."""

    chat_id: int
    message_id: int
    buttons: Keyboard


@dataclass(frozen=True)
class Toast:
    callback_id: str
    text: str = ""
    alert: bool = False


@dataclass(frozen=True)
class SentPoll:
    """What Telegram tells about a poll the bot put to a chat."""

    message_id: int
    poll_id: str


@dataclass(frozen=True)
class SendPoll:
    """Put a native poll to a chat, after the commit like every reply. Telegram's ids are known only
    then, so `record(uow, tg_poll_id=…, message_id=…, now=…)` stores them in a second short transaction;
    if Telegram refuses the poll, or recording fails (the poll is then closed again), `failed` is
    said in the chat instead."""

    chat_id: int
    question: str
    options: tuple[str, ...]
    record: Callable[..., Awaitable[Any]]
    failed: OutMessage
    anonymous: bool = False
    reply_to: int | None = None


@dataclass(frozen=True)
class StopPoll:
    chat_id: int
    message_id: int


@dataclass(frozen=True)
class SendDocument:
    """A file sent as a direct reply (an export). Never deferred to the outbox, which would keep the file's
    contents: if Telegram refuses it, `failed` is said instead (and the person asks again)."""

    chat_id: int
    filename: str
    data: bytes = field(repr=False)  # may hold opened fields of the care ledger: never in a log line
    caption: str = ""
    failed: OutMessage | None = None


#: how far a long piece of work is: (done, in all) — an import's rows
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class FetchDocument:
    """Download a document someone sent, after the commit, and hand its bytes to `then`, which works in
    transactions of its own and returns the replies to send next (an import's dry run). If Telegram does not give
    the file, or `then` fails, `failed` is said instead. Never kept or deferred: the file may hold personal data.

    `then` gets a `Progress` to call as it goes; with `progress` (the words for done of in all) a work that takes
    longer than a moment shows a message counting up (bot/core/delivery.py: ProgressMessage)."""

    chat_id: int
    file_id: str
    then: Callable[[bytes, Progress], Awaitable[list[Any]]] = field(repr=False)
    failed: OutMessage = field(default_factory=lambda: OutMessage(text=""))
    progress: Callable[[int, int], OutMessage] | None = field(default=None, repr=False)


Reply = Send | Edit | EditButtons | Toast | SendPoll | StopPoll | SendDocument | FetchDocument

