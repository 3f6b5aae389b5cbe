"""The board picture: its size, each row's colour where the dot and the bar are, Chinese glyphs really drawn
(not the .notdef box), the font lookup's clear error, and the file cache."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops, ImageDraw

from bot.handlers.board import picture_labels
from bot.pictures import board as pic
from bot.pictures import fonts


def _row(n: int, colour: str, percent: int, **extra: Any) -> dict[str, Any]:
    return {"id": n, "number": n, "title": f"第{n}个项目", "colour": colour, "reasons": [], "percent": percent,
            "owner": "王书记", "next_title": "施工", "next_due": "2027-05-01", "completed": colour == "green",
            "likes": 2, "rating": 4.5, "raters": 2, "override_reason": None, "overdue": 0, **extra}


ROWS = [_row(1, "green", 100), _row(2, "red", 20), _row(3, "yellow", 50), _row(4, "yellow", 0)]
PARAMS = {"community": "北辰示范社区", "year": 2027, "month": "2027-03", "rows": ROWS}


def _image() -> Image.Image:
    return Image.open(BytesIO(pic.png(ROWS, picture_labels("zh_CN", PARAMS)))).convert("RGB")


def test_size_and_the_rows_colours_where_they_belong() -> None:
    img = _image()
    assert img.size == (pic.WIDTH, pic.HEADER + len(ROWS) * pic.ROW + pic.FOOTER) and img.width == 1080
    for i, row in enumerate(ROWS):
        assert img.getpixel(pic.dot_centre(i)) == pic.COLOURS[row["colour"]]
        x0, y0, x1, y1 = pic.bar_box(i)
        middle = (y0 + y1) // 2
        filled_to = x0 + (x1 - x0) * row["percent"] // 100
        inside, beyond = (x0 + BAR_PAD, middle), (x1 - BAR_PAD, middle)
        if row["percent"] >= 10:
            assert img.getpixel(inside) == pic.COLOURS[row["colour"]], (i, row)
        if filled_to < beyond[0]:
            assert img.getpixel(beyond) == pic.TRACK, (i, row)
        else:
            assert img.getpixel(beyond) == pic.COLOURS[row["colour"]]
    # the legend's three circles, in order green, yellow, red
    legend_y = 192
    seen = [c for c in ("green", "yellow", "red")
            if any(img.getpixel((x, legend_y)) == pic.COLOURS[c] for x in range(pic.MARGIN, pic.WIDTH // 2))]
    assert seen == ["green", "yellow", "red"]


BAR_PAD = 16


def test_chinese_glyphs_are_drawn() -> None:
    face = fonts.font(48)

    def glyph(ch: str) -> Image.Image:
        img = Image.new("L", (80, 80), 0)
        ImageDraw.Draw(img).text((10, 5), ch, font=face, fill=255)
        return img

    han, other, notdef = glyph("公"), glyph("示"), glyph("\U000f0000")  # a private-use code point: .notdef
    assert han.getbbox() is not None and other.getbbox() is not None
    assert ImageChops.difference(han, notdef).getbbox() is not None
    assert ImageChops.difference(han, other).getbbox() is not None
    assert face.getname()[0].startswith("Noto Sans CJK")


def test_the_title_is_drawn_in_chinese_on_the_header() -> None:
    img = _image()
    title = picture_labels("zh_CN", PARAMS).title
    assert title.startswith("北辰示范社区") and "民生实事进度公示栏" in title
    header = img.crop((pic.MARGIN, 30, pic.WIDTH - pic.MARGIN, 90))
    whites = sum(1 for p in header.getdata() if p == (255, 255, 255))
    assert whites > 2000  # the white title on the red band


def test_a_missing_font_names_the_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("LINLI_CJK_FONT", raising=False)
    monkeypatch.setattr(fonts, "DIRS", (str(tmp_path),))
    with pytest.raises(fonts.FontMissing, match="fonts-noto-cjk"):
        fonts.find()
    monkeypatch.setenv("LINLI_CJK_FONT", str(tmp_path / "none.ttf"))
    with pytest.raises(fonts.FontMissing, match="LINLI_CJK_FONT"):
        fonts.find()


def test_the_file_is_drawn_once_per_content(tmp_path: Path) -> None:
    labels = picture_labels("zh_CN", PARAMS)
    first = pic.cached_file(ROWS, labels, tmp_path)
    stamp = first.stat().st_mtime_ns
    assert pic.cached_file(ROWS, labels, tmp_path) == first and first.stat().st_mtime_ns == stamp
    other = pic.cached_file([_row(1, "red", 10)], labels.__class__(**{**labels.__dict__, "lines": [("x", "y")]}),
                            tmp_path)
    assert other != first and Image.open(other).size == (1080, pic.HEADER + pic.ROW + pic.FOOTER)
