"""What the core needs from a Telegram runtime: a few calls and one error type."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from bot.core.types import Keyboard, OutMessage, SentPoll


class ApiError(Exception):
    """A Bot API failure, sorted into what the caller should do about it."""

    RETRY_AFTER = "retry_after"  # 429: wait `retry_after` seconds
    FORBIDDEN = "forbidden"  # 403: blocked, kicked, never started
    BAD_REQUEST = "bad_request"  # 400: our mistake or stale target, do not retry
    TRANSIENT = "transient"  # 5xx or network: retry with back-off

    def __init__(self, kind: str, description: str = "", retry_after: float = 0.0, *,
                 maybe_sent: bool = False) -> None:
        super().__init__(f"{kind}: {description}")
        self.kind = kind
        self.description = description
        self.retry_after = retry_after
        #: the request went out but its answer was lost (a timeout, a connection reset after sending):
        #: Telegram may have taken the call, and sending it again may show the message twice
        self.maybe_sent = maybe_sent


@dataclass(frozen=True)
class BotCommand:
    command: str
    description: str


class Gateway(Protocol):
    async def send(self, chat_id: int, message: OutMessage, reply_to: int | None = None) -> int: ...

    async def edit(self, chat_id: int, message_id: int, message: OutMessage) -> None:
        """Replace a message's text (a photo's message, `message.photo` set: its caption)."""
        ...

    async def edit_buttons(self, chat_id: int, message_id: int, buttons: Keyboard) -> None: ...

    async def answer(self, callback_id: str, text: str, alert: bool) -> None: ...

    async def pin(self, chat_id: int, message_id: int) -> None: ...

    async def delete(self, chat_id: int, message_id: int) -> None: ...

    async def download(self, file_id: str) -> bytes: ...

    async def send_poll(self, chat_id: int, question: str, options: list[str], *, anonymous: bool,
                        reply_to: int | None = None) -> SentPoll: ...

    async def stop_poll(self, chat_id: int, message_id: int) -> None: ...

    async def send_document(self, chat_id: int, filename: str, data: bytes, caption: str = "") -> int: ...

    async def set_commands(self, commands: list[BotCommand], scope: str, language: str | None, *,
                           chat_id: int | None = None) -> None:
        """Set the menu of a scope: "all_private_chats", "all_group_chats", "all_chat_administrators", or "chat"
        (one chat's own menu, `chat_id`: a person's private chat holds their menu)."""

    async def me(self) -> tuple[int, str]: ...


#: A runtime's photo send: given a Telegram file id to reuse (or None to upload the file), returns the
#: message id and the file id of the photo Telegram stored.
PhotoSend = Callable[[str | None], Awaitable[tuple[int, str | None]]]


class Uploads:
    """Local pictures go up to Telegram once: later sends of the same file (same path, size and mtime) reuse
    the file id Telegram gave it — the monthly board picture of a community goes to all its groups with one
    upload. Concurrent first sends of a file wait for the one upload; a reused id Telegram refuses (400) is
    forgotten and the file uploaded again. Remembers at most `size` files."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._ids: dict[tuple[str, int, int], str] = {}
        self._locks: dict[tuple[str, int, int], asyncio.Lock] = {}

    @staticmethod
    def key(ref: str) -> tuple[str, int, int] | None:
        """A local file's identity, or None for URLs and file ids (sent as they are)."""
        if ref.startswith(("http://", "https://")) or "/" not in ref:
            return None
        try:
            st = os.stat(ref)
        except OSError:
            return None
        return ref, st.st_mtime_ns, st.st_size

    async def send(self, ref: str, send: PhotoSend) -> int:
        key = self.key(ref)
        if key is None:
            return (await send(None))[0]
        known = self._ids.get(key)
        if known is None:
            lock = self._locks.setdefault(key, asyncio.Lock())
            async with lock:
                known = self._ids.get(key)
                if known is None:
                    try:
                        message_id, file_id = await send(None)
                    finally:
                        self._locks.pop(key, None)
                    if file_id:
                        self._ids[key] = file_id
                        while len(self._ids) > self.size:
                            del self._ids[next(iter(self._ids))]
                    return message_id
        try:
            return (await send(known))[0]
        except ApiError as err:
            if err.kind != ApiError.BAD_REQUEST:
                raise
            self._ids.pop(key, None)
            return (await send(None))[0]
