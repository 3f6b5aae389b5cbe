"""The before/after picture: within Telegram's limits, both photos in it, labels and header drawn."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.pictures import compare
from bot.pictures.compare import Panel, compose

RED, BLUE = (255, 0, 0), (0, 0, 255)


def solid(colour: tuple[int, int, int], size: tuple[int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


def near(pixel: tuple[int, ...], colour: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=False))


def sample(img: Image.Image, box: tuple[int, int, int, int], step: int = 4) -> list[tuple[int, ...]]:
    """Every step-th pixel of the box in both directions (nearest neighbour: exact pixels, no blending)."""
    part = img.crop(box)
    return list(part.resize((max(1, part.width // step), max(1, part.height // step)),
                            Image.Resampling.NEAREST).getdata())


def count(img: Image.Image, colour: tuple[int, int, int], box: tuple[int, int, int, int]) -> int:
    return sum(1 for p in sample(img, box) if near(p, colour))


def open_jpeg(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    assert img.format == "JPEG"
    return img.convert("RGB")


@pytest.mark.parametrize("size", [(600, 900), (900, 900), (2000, 2700)])
def test_portrait_photos_side_by_side(size: tuple[int, int]) -> None:
    data = compose(Panel(solid(RED, size), "整改前", "2027-03-01"), Panel(solid(BLUE, size), "整改后", "2027-09-30"),
                   title="第1项：3号楼加装扶手", subtitle="北辰示范社区 · 完工于 2027-10-01")
    assert len(data) <= compare.MAX_BYTES
    img = open_jpeg(data)
    assert max(img.size) <= compare.MAX_SIDE
    w, h = img.size
    middle = h // 2
    # the left half holds the red photo, the right half the blue one
    assert near(img.getpixel((w // 4, middle)), RED) and near(img.getpixel((3 * w // 4, middle)), BLUE)
    assert count(img, BLUE, (0, 0, w // 2, h)) == 0 and count(img, RED, (w // 2, 0, w, h)) == 0


def test_landscape_photos_stacked_and_labels_drawn() -> None:
    data = compose(Panel(solid(RED, (1600, 900)), "整改前", "2027-03-01"),
                   Panel(solid(BLUE, (1600, 900)), "整改后", "2027-09-30"), title="第2项：小区路面修补")
    img = open_jpeg(data)
    w, h = img.size
    assert h > w and max(img.size) <= compare.MAX_SIDE
    assert near(img.getpixel((w // 2, h // 3)), RED) and near(img.getpixel((w // 2, 3 * h // 4)), BLUE)
    # below each photo a label band with text in it (dark or coloured pixels on the light background)
    red_bottom = max(y for y in range(h) if near(img.getpixel((w // 2, y)), RED))
    blue_bottom = max(y for y in range(h) if near(img.getpixel((w // 2, y)), BLUE))
    for bottom in (red_bottom, blue_bottom):
        band = sample(img, (0, bottom + 4, w, bottom + compare.LABEL_H - 4), step=2)
        inked = sum(1 for p in band if not near(p, compare.BACKGROUND, 30))
        assert inked > 100, "no label under the photo"
    header = sample(img, (compare.GAP, 10, w - compare.GAP, compare.HEADER_H - 10), step=2)
    assert sum(1 for p in header if near(p, compare.HEADER_FG, 30)) > 100, "no title in the header"


def test_labels_depend_on_the_text() -> None:
    """The label band really is drawn from the label: other words, other pixels."""
    a = open_jpeg(compose(Panel(solid(RED, (800, 1000)), "整改前"), Panel(solid(BLUE, (800, 1000)), "整改后"),
                          title="x"))
    b = open_jpeg(compose(Panel(solid(RED, (800, 1000)), "Before"), Panel(solid(BLUE, (800, 1000)), "After"),
                          title="x"))
    assert a.size == b.size
    w, h = a.size
    band = (0, h - compare.LABEL_H - compare.GAP, w, h)
    assert a.crop(band).tobytes() != b.crop(band).tobytes()


def test_one_photo_missing_or_unreadable() -> None:
    only_after = open_jpeg(compose(Panel(None, "整改前"), Panel(solid(BLUE, (800, 600)), "整改后", "2027-09-30"),
                                   title="第3项"))
    w, h = only_after.size
    assert count(only_after, BLUE, (0, 0, w, h)) > 0 and count(only_after, RED, (0, 0, w, h)) == 0
    broken = open_jpeg(compose(Panel(b"not a picture", "整改前"), Panel(solid(RED, (500, 500)), "整改后"),
                               title="第4项"))
    assert count(broken, RED, (0, 0, *broken.size)) > 0
    neither = open_jpeg(compose(Panel(None, "整改前"), Panel(None, "整改后"), title="第5项"))
    assert max(neither.size) <= compare.MAX_SIDE


async def test_for_outbox_downloads_both_and_labels_in_the_notice_language() -> None:
    files = {"f-before": solid(RED, (700, 900)), "f-after": solid(BLUE, (700, 900))}
    asked: list[str] = []

    async def download(file_id: str) -> bytes:
        asked.append(file_id)
        return files[file_id]

    payload = {"op": "compose", "picture": "comparison", "notice": "project_comparison", "lang": "en",
               "params": {"number": 1, "title": "Handrails", "community": "Beichen", "completed_on": "2027-10-01",
                          "before": "f-before", "before_on": "2027-03-01", "after": "f-after",
                          "after_on": "2027-09-30"}}
    img = open_jpeg(await compare.for_outbox(payload, download))
    assert sorted(asked) == ["f-after", "f-before"]
    w, h = img.size
    assert near(img.getpixel((w // 4, h // 2)), RED) and near(img.getpixel((3 * w // 4, h // 2)), BLUE)
