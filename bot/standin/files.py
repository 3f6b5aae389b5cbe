"""Stored files: uploads, photo size sets (Pillow), file_id re-use and URL fetches."""

from __future__ import annotations

import io
import mimetypes

import aiohttp
from PIL import Image, UnidentifiedImageError

from .spec import UploadedFile, bad_request
from .state import StoredFile, World

THUMB_SIDE = 320
# file_id prefixes and download folders look like Telegram's, so logs read familiar
_ID_PREFIX = {"photo": "AgACAgQAAx", "document": "BQACAgQAAx", "voice": "AwACAgQAAx"}
_FOLDER = {"photo": "photos", "document": "documents", "voice": "voice"}
VOICE_MIME = "audio/ogg"
OPUS_RATE = 48000  # Ogg Opus granule positions always count 48 kHz samples


class FileStore:
    """Creates :class:`StoredFile` records in the world and resolves InputFile values."""

    def __init__(self, world: World) -> None:
        self.world = world
        # any photo size's file_id → the whole size list (so a photo can be re-sent by file_id)
        self.photo_sets: dict[str, list[StoredFile]] = {}

    def reset(self, world: World) -> None:
        self.world = world
        self.photo_sets.clear()

    def _new(self, kind: str, data: bytes, ext: str, **extra: object) -> StoredFile:
        file_id = self.world.unique(_ID_PREFIX[kind])
        unique = self.world.unique("AQAD")
        folder = _FOLDER[kind]
        stored = StoredFile(file_id, unique, kind, data, f"{folder}/file_{file_id[-8:]}{ext}", **extra)  # type: ignore[arg-type]
        self.world.files[file_id] = stored
        self.world.files_by_path[stored.file_path] = stored
        return stored

    def add_photo(self, data: bytes) -> list[StoredFile]:
        """PhotoSize list (small thumbnail + original) with real dimensions."""
        try:
            with Image.open(io.BytesIO(data)) as img:
                img.load()
                width, height = img.size
                thumb = _thumbnail(img) if max(width, height) > THUMB_SIDE else None
        except (UnidentifiedImageError, OSError, ValueError):
            raise bad_request("IMAGE_PROCESS_FAILED") from None
        sizes = []
        if thumb is not None:
            tdata, (tw, th) = thumb
            sizes.append(self._new("photo", tdata, ".jpg", mime_type="image/jpeg", width=tw, height=th))
        sizes.append(self._new("photo", data, ".jpg", mime_type="image/jpeg", width=width, height=height))
        for size in sizes:
            self.photo_sets[size.file_id] = sizes
        return sizes

    def add_document(self, data: bytes, file_name: str | None, mime_type: str | None) -> StoredFile:
        ext = ""
        if file_name and "." in file_name:
            ext = "." + file_name.rsplit(".", 1)[1][:10]
        mime = mime_type if mime_type and mime_type != "application/octet-stream" else None
        mime = mime or (mimetypes.guess_type(file_name or "")[0]) or "application/octet-stream"
        return self._new("document", data, ext, file_name=file_name, mime_type=mime)

    def add_voice(self, data: bytes, duration: int, mime_type: str | None = None) -> StoredFile:
        return self._new("voice", data, ".oga", mime_type=mime_type or VOICE_MIME, duration=duration)

    async def resolve(self, value: object, uploads: dict[str, UploadedFile]) -> UploadedFile | StoredFile:
        """An InputFile parameter → new upload bytes or an existing stored file."""
        if isinstance(value, UploadedFile):
            return value
        if not isinstance(value, str) or not value:
            raise bad_request("wrong file identifier/HTTP URL specified")
        if value.startswith("attach://"):
            upload = uploads.get(value[len("attach://") :])
            if upload is None:
                raise bad_request("can't find attached file")
            return upload
        if value.startswith(("http://", "https://")):
            return await _fetch(value)
        stored = self.world.files.get(value)
        if stored is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        return stored

    async def photo(self, value: object, uploads: dict[str, UploadedFile]) -> list[StoredFile]:
        resolved = await self.resolve(value, uploads)
        if isinstance(resolved, UploadedFile):
            return self.add_photo(resolved.data)
        if resolved.kind != "photo":
            raise bad_request(f"can't use file of type {resolved.kind.title()} as Photo")
        return self.photo_sets[resolved.file_id]

    async def document(self, value: object, uploads: dict[str, UploadedFile]) -> StoredFile:
        resolved = await self.resolve(value, uploads)
        if isinstance(resolved, UploadedFile):
            return self.add_document(resolved.data, resolved.filename, resolved.content_type)
        if resolved.kind != "document":
            raise bad_request(f"can't use file of type {resolved.kind.title()} as Document")
        return resolved

    async def voice(
        self, value: object, uploads: dict[str, UploadedFile], duration: int | None
    ) -> StoredFile:
        """sendVoice's ``voice``: a new upload, or an existing voice re-sent by file_id (as is)."""
        resolved = await self.resolve(value, uploads)
        if isinstance(resolved, UploadedFile):
            if not resolved.data:
                raise bad_request("file must be non-empty")
            seconds = duration if duration is not None else ogg_opus_seconds(resolved.data)
            return self.add_voice(resolved.data, seconds, _audio_mime(resolved))
        if resolved.kind != "voice":
            raise bad_request(f"can't use file of type {resolved.kind.title()} as Voice")
        return resolved


def _audio_mime(upload: UploadedFile) -> str:
    """Clients often label uploads application/octet-stream; fall back to the name, then to OGG."""
    if upload.content_type.startswith("audio/"):
        return upload.content_type
    guessed = mimetypes.guess_type(upload.filename)[0]
    return guessed if guessed and guessed.startswith("audio/") else VOICE_MIME


def ogg_opus_seconds(data: bytes) -> int:
    """Length of an Ogg Opus upload sent without ``duration`` (Telegram measures it too); 0 if unknown.

    The last Ogg page's granule position is the stream's end in 48 kHz samples, minus the
    pre-skip declared in the OpusHead packet.
    """
    head = data.find(b"OpusHead", 0, 512)
    last = data.rfind(b"OggS")
    if head < 0 or last < 0 or len(data) < last + 14 or len(data) < head + 12:
        return 0
    granule = int.from_bytes(data[last + 6 : last + 14], "little")
    pre_skip = int.from_bytes(data[head + 10 : head + 12], "little")
    if granule >= 2**63:  # -1: no packet ends on that page
        return 0
    return max(0, round((granule - pre_skip) / OPUS_RATE))


def _thumbnail(img: Image.Image) -> tuple[bytes, tuple[int, int]]:
    small = img.convert("RGB")
    small.thumbnail((THUMB_SIDE, THUMB_SIDE))
    buf = io.BytesIO()
    small.save(buf, format="JPEG", quality=80)
    return buf.getvalue(), small.size


async def _fetch(url: str) -> UploadedFile:
    """Telegram downloads URLs itself; so does the stand-in (10 s, 20 MB at most)."""
    try:
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as resp:
            if resp.status != 200:
                raise bad_request("failed to get HTTP URL content")
            data = await resp.content.read(20 * 1024 * 1024 + 1)
            if len(data) > 20 * 1024 * 1024:
                raise bad_request("file is too big")
            name = url.rstrip("/").rsplit("/", 1)[-1] or "file"
            return UploadedFile(name, resp.headers.get("Content-Type", "application/octet-stream"), data)
    except (aiohttp.ClientError, TimeoutError):
        raise bad_request("failed to get HTTP URL content") from None
