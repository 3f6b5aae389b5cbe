"""Issue #14, the public board's pictures: fetched from the Bot API (getFile, then /file/bot<token>/<path>) — here
the stand-in over real HTTP — resized and re-encoded, never the original file."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image

from bot.standin.server import StandIn
from tests.web.board_world import jpeg
from web.media import BotFiles, FetchError, MediaCache

TOKEN = "123456:PUBLIC-board-test"


@pytest.fixture
async def standin() -> AsyncIterator[StandIn]:
    server = StandIn()
    await server.start()
    server.create_bot(TOKEN, "linli_bot", "邻里助手")
    yield server
    await server.stop()


def exif_jpeg() -> bytes:
    img = Image.new("RGB", (2000, 1500), (10, 160, 60))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {2: (39.0, 8.0, 0.0)}  # GPS latitude: where the photo was taken
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif)
    return out.getvalue()


async def test_item4_botfiles_gets_a_file_by_its_id(standin: StandIn) -> None:
    original = jpeg((200, 30, 30), (1600, 1200))
    stored = standin.files.add_photo(original)[-1]
    assert await BotFiles(TOKEN, standin.url)(stored.file_id) == original
    with pytest.raises(FetchError):
        await BotFiles(TOKEN, standin.url)("AgACnosuchfile")
    with pytest.raises(FetchError):
        await BotFiles("999:WRONG", standin.url)(stored.file_id)


async def test_item4_the_cache_keeps_a_small_copy_without_metadata(standin: StandIn, tmp_path: Path) -> None:
    original = exif_jpeg()
    stored = standin.files.add_photo(original)[-1]
    cache = MediaCache(tmp_path / "media", BotFiles(TOKEN, standin.url))
    path = await cache.get(stored.file_unique_id, stored.file_id)
    assert path is not None and path.parent == tmp_path / "media"
    data = path.read_bytes()
    assert data != original and len(data) < len(original)
    with Image.open(io.BytesIO(data)) as img:
        assert img.size == (960, 720) and not img.getexif()  # no camera, no place
    # a file the Bot API does not have: nothing cached, None
    assert await cache.get("AQADgone", "AgACgone") is None and not (tmp_path / "media" / "AQADgone.jpg").exists()
    with pytest.raises(ValueError):
        cache.path("../secret")
