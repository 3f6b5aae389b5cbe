"""What the core needs from a Telegram runtime: a few calls and one error type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.core.types import OutMessage


class ApiError(Exception):
    """A Bot API failure, sorted into what the caller should do about it."""

    RETRY_AFTER = "retry_after"  # 429: wait `retry_after` seconds
    FORBIDDEN = "forbidden"  # 403: blocked, kicked, never started
    BAD_REQUEST = "bad_request"  # 400: our mistake or stale target, do not retry
    TRANSIENT = "transient"  # 5xx or network: retry with back-off

    def __init__(self, kind: str, description: str = "", retry_after: float = 0.0) -> None:
        super().__init__(f"{kind}: {description}")
        self.kind = kind
        self.description = description
        self.retry_after = retry_after


@dataclass(frozen=True)
class BotCommand:
    command: str
    description: str


class Gateway(Protocol):
    async def send(self, chat_id: int, message: OutMessage, reply_to: int | None = None) -> int: ...

    async def edit(self, chat_id: int, message_id: int, message: OutMessage) -> None: ...

    async def answer(self, callback_id: str, text: str, alert: bool) -> None: ...

    async def pin(self, chat_id: int, message_id: int) -> None: ...

    async def set_commands(self, commands: list[BotCommand], scope: str, language: str | None) -> None: ...

    async def me(self) -> tuple[int, str]: ...
