"""Project pictures for the public board: fetched once from the Bot API by file id, resized and re-encoded
(Pillow: at most MAX_SIDE pixels, JPEG, no metadata — never the original file), and kept in a cache on disk.

`BotFiles` is the Bot API's getFile plus the file download (`<api>/file/bot<token>/<file_path>`)."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
from PIL import Image, ImageOps, UnidentifiedImageError

log = logging.getLogger("linli.web.media")

TELEGRAM_API = "https://api.telegram.org"
MAX_SIDE = 960
QUALITY = 82
MAX_DOWNLOAD = 20 * 1024 * 1024  # the Bot API's own limit for getFile downloads
MEDIA_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")

Fetch = Callable[[str], Awaitable[bytes]]


class FetchError(Exception):
    """The Bot API did not give the file (no such file id, too big, unreachable)."""


class BotFiles:
    """getFile + download against Telegram (or any Bot API server, e.g. the local stand-in)."""

    def __init__(self, token: str, api_url: str = "", timeout: float = 15.0) -> None:
        self.token = token
        self.base = (api_url or TELEGRAM_API).rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    async def __call__(self, file_id: str) -> bytes:
        async with aiohttp.ClientSession(timeout=self.timeout) as session:
            async with session.post(f"{self.base}/bot{self.token}/getFile", json={"file_id": file_id}) as resp:
                body = await resp.json(content_type=None)
            if not isinstance(body, dict) or not body.get("ok"):
                raise FetchError(f"getFile refused ({body.get('error_code') if isinstance(body, dict) else '?'})")
            path = (body.get("result") or {}).get("file_path")
            if not isinstance(path, str) or not path:
                raise FetchError("getFile gave no file_path")
            async with session.get(f"{self.base}/file/bot{self.token}/{path}") as resp:
                if resp.status != 200:
                    raise FetchError(f"file download answered {resp.status}")
                data = await resp.content.read(MAX_DOWNLOAD + 1)
        if len(data) > MAX_DOWNLOAD:
            raise FetchError("file too big")
        return data


def resize(data: bytes, max_side: int = MAX_SIDE) -> bytes:
    """A JPEG of at most max_side pixels on its longer side, turned upright, without any metadata."""
    with Image.open(io.BytesIO(data)) as img:
        img = ImageOps.exif_transpose(img)
        img.thumbnail((max_side, max_side))
        out = io.BytesIO()
        img.convert("RGB").save(out, "JPEG", quality=QUALITY, optimize=True)
    return out.getvalue()


class MediaCache:
    """`<directory>/<media id>.jpg`, made on first request (one fetch per id at a time)."""

    def __init__(self, directory: Path, fetch: Fetch | None, max_side: int = MAX_SIDE) -> None:
        self.directory = directory
        self.fetch = fetch
        self.max_side = max_side
        self._locks: dict[str, asyncio.Lock] = {}

    @staticmethod
    def valid(media_id: str) -> bool:
        return MEDIA_ID.fullmatch(media_id) is not None

    def path(self, media_id: str) -> Path:
        if not MEDIA_ID.fullmatch(media_id):
            raise ValueError("not a media id")
        return self.directory / f"{media_id}.jpg"

    async def get(self, media_id: str, file_id: str) -> Path | None:
        """The cached picture, made now if needed; None when it cannot be had (logged, without the file id)."""
        target = self.path(media_id)
        if target.is_file():
            return target
        if self.fetch is None:
            return None
        lock = self._locks.setdefault(media_id, asyncio.Lock())
        async with lock:
            if target.is_file():
                return target
            try:
                data = await self.fetch(file_id)
                jpeg = await asyncio.to_thread(resize, data, self.max_side)
            except (FetchError, aiohttp.ClientError, TimeoutError, UnidentifiedImageError, OSError, ValueError) as exc:
                log.warning("picture %s not available: %s", media_id, type(exc).__name__)
                return None
            finally:
                self._locks.pop(media_id, None)
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            tmp.write_bytes(jpeg)
            os.replace(tmp, target)
            return target
