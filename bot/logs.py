"""Logging for every entry point: one handler on the root logger, libraries kept quiet, secrets masked.

At DEBUG the libraries underneath say too much: python-telegram-bot logs every Bot API call with its
parameters (the token's URL, message texts with names, rooms and contacts), httpx/httpcore the URLs with
the token, aiosqlite and SQLAlchemy the SQL parameters (sealed and unsealed values alike). So `LINLI_LOG_LEVEL`
sets Linli's own loggers only; the libraries stay at WARNING unless `LINLI_LOG_LIBRARIES` says otherwise (for
troubleshooting on a test machine: their debug output holds personal data). Whatever is logged, the bot
token and the secrets are masked by a filter on the handler."""

from __future__ import annotations

import logging
import re
import sys
from typing import TextIO

from bot.config import Settings

#: Loggers of the libraries under the bot (their children follow them)
LIBRARIES = ("telegram", "httpx", "httpcore", "hpack", "h11", "aiogram", "aiohttp", "aiosqlite", "asyncpg",
             "psycopg", "sqlalchemy", "apscheduler", "asyncio", "urllib3", "PIL", "multipart", "python_multipart",
             "starlette", "fastapi", "openpyxl", "tzlocal")

#: A Telegram bot token anywhere (also one that is not ours, e.g. in a URL of an error)
TOKEN_RE = re.compile(r"\d{5,}:[A-Za-z0-9_-]{30,}")
MASK = "«secret»"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class Redact(logging.Filter):
    """Masks the bot token and the secrets in a record's message and traceback, before any handler formats it."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if len(s) >= 8}, key=len, reverse=True)

    def mask(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return TOKEN_RE.sub(MASK, text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a bad format: log what there is, masked
            message = f"{record.msg} {record.args}"
        record.msg, record.args = self.mask(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self.mask(record.stack_info)
        return True


def _level(name: str, setting: str) -> int:
    level = logging.getLevelName(name.strip().upper())
    if not isinstance(level, int):
        raise SystemExit(f"linli: {setting} must be DEBUG, INFO, WARNING or ERROR (not {name!r})")
    return level


def setup_logging(settings: Settings, stream: TextIO | None = None) -> logging.Handler:
    """Configure logging for this process (again, if called again); returns the handler it installed."""
    level = _level(settings.log_level, "LINLI_LOG_LEVEL")
    libraries = _level(settings.log_libraries, "LINLI_LOG_LIBRARIES")
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "linli", False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.linli = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(Redact([settings.bot_token, settings.secret_key, settings.secret_key_previous,
                              settings.webhook_secret]))
    root.addHandler(handler)
    root.setLevel(level)
    for name in LIBRARIES:
        logging.getLogger(name).setLevel(libraries)
    return handler
