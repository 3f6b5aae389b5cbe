"""The board as a picture (实事进度公示栏): 1080 px wide, one row per project, for reading on a phone.

Each row: a coloured dot (green/yellow/red, drawn — not emoji), the number and title, a percent bar in
the row's colour, the owner and the next milestone (or likes and rating once finished). The words come
translated from the caller (`Labels`), so this module only draws."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from bot.pictures.fonts import font

WIDTH = 1080
MARGIN = 48
HEADER = 250  # title, subtitle, legend
ROW = 156
FOOTER = 70
DOT_X, DOT_R = MARGIN + 24, 22
TEXT_X = MARGIN + 70
BAR_X0, BAR_X1, BAR_H = TEXT_X, WIDTH - MARGIN - 130, 22
COLOURS = {"green": (46, 160, 67), "yellow": (232, 168, 0), "red": (214, 45, 32)}
BACKGROUND, INK, MUTED, TRACK, RULE = (255, 255, 255), (28, 28, 30), (100, 100, 108), (232, 232, 236), (220, 220, 226)
HEAD_BG = (178, 34, 34)


@dataclass(frozen=True)
class Labels:
    """The picture's words, already translated."""

    title: str  # e.g. "北辰示范社区 2027年民生实事进度公示栏"
    subtitle: str  # e.g. "2027-05 · 共10项"
    legend: Sequence[tuple[str, str]]  # (colour, word): 已完成 / 推进中 / 滞后
    lines: Sequence[tuple[str, str]]  # per row: (title line, detail line)
    footer: str = ""
    empty: str = ""


def row_top(index: int) -> int:
    """The y of a row's top edge (for tests and the layout)."""
    return HEADER + index * ROW


def dot_centre(index: int) -> tuple[int, int]:
    return DOT_X, row_top(index) + 44


def bar_box(index: int) -> tuple[int, int, int, int]:
    y = row_top(index) + 80
    return BAR_X0, y, BAR_X1, y + BAR_H


def _fit(draw: ImageDraw.ImageDraw, text: str, face: ImageFont.FreeTypeFont, width: int) -> str:
    if draw.textlength(text, font=face) <= width:
        return text
    while text and draw.textlength(text + "…", font=face) > width:
        text = text[:-1]
    return text + "…"


def draw(rows: Sequence[dict[str, Any]], labels: Labels) -> Image.Image:
    """`rows`: the board's rows (flows.board.Row params: colour, percent …), in order."""
    height = HEADER + max(1, len(rows)) * ROW + FOOTER
    img = Image.new("RGB", (WIDTH, height), BACKGROUND)
    d = ImageDraw.Draw(img)
    title, small, body, bold = font(44, bold=True), font(28), font(30), font(36, bold=True)
    d.rectangle((0, 0, WIDTH, 140), fill=HEAD_BG)
    d.text((MARGIN, 34), _fit(d, labels.title, title, WIDTH - 2 * MARGIN), font=title, fill=(255, 255, 255))
    d.text((MARGIN, 96), _fit(d, labels.subtitle, small, WIDTH - 2 * MARGIN), font=small, fill=(255, 235, 235))
    x = MARGIN
    for colour, word in labels.legend:
        d.ellipse((x, 176, x + 32, 208), fill=COLOURS[colour])
        d.text((x + 44, 174), word, font=body, fill=INK)
        x += 44 + int(d.textlength(word, font=body)) + 48
    d.line((MARGIN, HEADER - 12, WIDTH - MARGIN, HEADER - 12), fill=RULE, width=2)
    if not rows:
        d.text((TEXT_X, HEADER + 40), labels.empty, font=body, fill=MUTED)
    for i, (row, (head, detail)) in enumerate(zip(rows, labels.lines, strict=True)):
        top, fill = row_top(i), COLOURS.get(str(row.get("colour")), MUTED)
        cx, cy = dot_centre(i)
        d.ellipse((cx - DOT_R, cy - DOT_R, cx + DOT_R, cy + DOT_R), fill=fill)
        d.text((TEXT_X, top + 22), _fit(d, head, bold, WIDTH - TEXT_X - MARGIN), font=bold, fill=INK)
        x0, y0, x1, y1 = bar_box(i)
        d.rounded_rectangle((x0, y0, x1, y1), radius=BAR_H // 2, fill=TRACK)
        percent = max(0, min(100, int(row.get("percent") or 0)))
        if percent:
            d.rounded_rectangle((x0, y0, x0 + max(BAR_H, (x1 - x0) * percent // 100), y1), radius=BAR_H // 2,
                                fill=fill)
        d.text((x1 + 20, y0 - 8), f"{percent}%", font=bold, fill=INK)
        d.text((TEXT_X, top + 112), _fit(d, detail, small, WIDTH - TEXT_X - MARGIN), font=small, fill=MUTED)
        d.line((MARGIN, top + ROW - 2, WIDTH - MARGIN, top + ROW - 2), fill=RULE, width=1)
    if labels.footer:
        d.text((MARGIN, height - FOOTER + 18), _fit(d, labels.footer, small, WIDTH - 2 * MARGIN), font=small,
               fill=MUTED)
    return img


def png(rows: Sequence[dict[str, Any]], labels: Labels) -> bytes:
    out = BytesIO()
    draw(rows, labels).save(out, format="PNG", compress_level=3)
    return out.getvalue()


def cached_file(rows: Sequence[dict[str, Any]], labels: Labels, directory: Path | None = None) -> Path:
    """The picture as a PNG file named by its content (the groups of one community share one drawing)."""
    folder = directory or Path(tempfile.gettempdir()) / "linli-pictures"
    folder.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(json.dumps([list(rows), labels.__dict__], ensure_ascii=False, sort_keys=True,
                                    default=list).encode()).hexdigest()[:24]
    path = folder / f"board-{key}.png"
    if not path.is_file():
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(png(rows, labels))
        os.replace(tmp, path)
    return path
