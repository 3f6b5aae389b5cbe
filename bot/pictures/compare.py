"""The before/after comparison picture (前后对比图) of a finished project.

`compose` draws one JPEG: a header band with the project's name, then the "before" and the "after"
photo — side by side when they are portrait or square, stacked when both are landscape, so each
stays large on a phone — each with a label band (整改前 / 整改后 and the photo's date). A missing
photo is simply left out (the one there is gets the whole width). The result is at most 2560 px on
the long side and well under Telegram's 10 MB for photos.

`for_outbox` is the outbox sender's side (bot/outbox.py, op "compose"): it downloads the photos by
their Telegram file ids and composes the picture in the notice's language."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from bot.core.i18n import N_, tr
from bot.pictures.fonts import font

log = logging.getLogger("linli.pictures")

MAX_SIDE = 2560
MAX_BYTES = 10 * 1024 * 1024
PANEL_LONG = 1200  # a photo's long side in the picture
BACKGROUND = (248, 246, 240)
HEADER_BG = (178, 34, 34)  # the district's red
HEADER_FG = (255, 255, 255)
LABEL_FG = (40, 40, 40)
BEFORE_MARK = (120, 120, 120)
AFTER_MARK = (46, 139, 87)
GAP = 24
HEADER_H = 132
LABEL_H = 84

BEFORE_LABEL = N_("Before the works")  # 整改前
AFTER_LABEL = N_("After the works")  # 整改后


@dataclass(frozen=True)
class Panel:
    """One photo of the picture: its bytes (None when there is none), label and date line."""

    data: bytes | None
    label: str
    day: str = ""


def _open(data: bytes | None) -> Image.Image | None:
    if not data:
        return None
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            return ImageOps.exif_transpose(img).convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError) as err:
        log.warning("a project photo cannot be read (%s); the picture goes without it", type(err).__name__)
        return None


def _fit(img: Image.Image, box: tuple[int, int]) -> Image.Image:
    """Scale to fit in the box (up or down), keeping the proportions."""
    scale = min(box[0] / img.width, box[1] / img.height)
    return img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.Resampling.LANCZOS)


def _text_fit(draw: ImageDraw.ImageDraw, text: str, width: int, size: int, bold: bool) -> ImageFont.FreeTypeFont:
    """The font size (down to 60 %) at which the text fits the width."""
    for s in range(size, int(size * 0.6), -2):
        f = font(s, bold)
        if draw.textlength(text, font=f) <= width:
            return f
    return font(int(size * 0.6), bold)


def _clip(draw: ImageDraw.ImageDraw, text: str, width: int, f: ImageFont.FreeTypeFont) -> str:
    if draw.textlength(text, font=f) <= width:
        return text
    while text and draw.textlength(text + "…", font=f) > width:
        text = text[:-1]
    return text + "…"


def compose(before: Panel, after: Panel, *, title: str, subtitle: str = "") -> bytes:
    """The comparison picture as JPEG bytes."""
    panels = [(p, img, mark) for p, mark in ((before, BEFORE_MARK), (after, AFTER_MARK))
              if (img := _open(p.data)) is not None]
    stacked = len(panels) == 2 and all(img.width > img.height for _, img, _ in panels)
    if not panels:
        box = (PANEL_LONG, PANEL_LONG * 3 // 4)
    elif stacked:
        box = (PANEL_LONG * 3 // 2, PANEL_LONG)
    elif len(panels) == 2:
        box = (PANEL_LONG * 3 // 4, PANEL_LONG)
    else:
        box = (PANEL_LONG, PANEL_LONG)
    fitted = [(p, _fit(img, box), mark) for p, img, mark in panels]
    if stacked:
        width = max(img.width for _, img, _ in fitted) + 2 * GAP
        height = HEADER_H + sum(img.height + LABEL_H + GAP for _, img, _ in fitted) + GAP
    elif fitted:
        width = sum(img.width for _, img, _ in fitted) + GAP * (len(fitted) + 1)
        height = HEADER_H + max(img.height for _, img, _ in fitted) + LABEL_H + 2 * GAP
    else:
        width, height = box[0], HEADER_H + LABEL_H + 2 * GAP
    width = max(width, 900)
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)

    # header band: the project's name (and the community and date, smaller)
    draw.rectangle((0, 0, width, HEADER_H), fill=HEADER_BG)
    title_font = _text_fit(draw, title, width - 2 * GAP, 54, True)
    draw.text((GAP, 14), _clip(draw, title, width - 2 * GAP, title_font), font=title_font, fill=HEADER_FG)
    if subtitle:
        sub_font = font(28)
        draw.text((GAP, 84), _clip(draw, subtitle, width - 2 * GAP, sub_font), font=sub_font, fill=HEADER_FG)

    # the photos, each with its label band
    x, y = GAP, HEADER_H + GAP
    column_h = max((img.height for _, img, _ in fitted), default=0)
    for panel, img, mark in fitted:
        if stacked:
            px = (width - img.width) // 2
            canvas.paste(img, (px, y))
            _label(draw, panel, mark, (px, y + img.height, px + img.width, y + img.height + LABEL_H))
            y += img.height + LABEL_H + GAP
        else:
            py = y + (column_h - img.height) // 2
            canvas.paste(img, (x, py))
            _label(draw, panel, mark, (x, y + column_h, x + img.width, y + column_h + LABEL_H))
            x += img.width + GAP
    return _jpeg(canvas)


def _label(draw: ImageDraw.ImageDraw, panel: Panel, mark: tuple[int, int, int], area: tuple[int, int, int, int]) -> None:
    left, top, right, bottom = area
    draw.rectangle((left, top + 8, left + 14, bottom - 8), fill=mark)
    label_font = font(40, True)
    draw.text((left + 28, top + 12), panel.label, font=label_font, fill=mark)
    if panel.day:
        offset = left + 28 + int(draw.textlength(panel.label, font=label_font)) + 20
        day_font = font(30)
        if offset + draw.textlength(panel.day, font=day_font) <= right:
            draw.text((offset, top + 20), panel.day, font=day_font, fill=LABEL_FG)


def _jpeg(canvas: Image.Image) -> bytes:
    if max(canvas.size) > MAX_SIDE:
        canvas.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    for quality in (88, 80, 70, 60, 50):
        buf = io.BytesIO()
        canvas.save(buf, format="JPEG", quality=quality, optimize=True)
        if buf.tell() <= MAX_BYTES:
            return buf.getvalue()
    raise ValueError("the comparison picture does not fit in 10 MB")


# ---------------------------------------------------------------- the outbox sender's side


Download = Callable[[str], Awaitable[bytes]]


async def for_outbox(payload: dict[str, Any], download: Download) -> bytes:
    """The picture of a "project_comparison" notice (flows/acceptance.py queues it)."""
    lang = payload.get("lang") or "zh_CN"
    p = payload.get("params") or {}
    before = await download(p["before"]) if p.get("before") else None
    after = await download(p["after"]) if p.get("after") else None
    title = tr(lang, "Project {number}: {title}", number=p.get("number", ""), title=p.get("title", ""))
    subtitle = tr(lang, "{community} · completed on {day}", community=p.get("community", ""),
                  day=p.get("completed_on", ""))
    # drawing takes a moment: off the event loop, so the sender keeps sending meanwhile
    return await asyncio.to_thread(compose, Panel(before, tr(lang, BEFORE_LABEL), p.get("before_on") or ""),
                                   Panel(after, tr(lang, AFTER_LABEL), p.get("after_on") or ""), title=title,
                                   subtitle=subtitle)
