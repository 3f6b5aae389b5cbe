"""The Chinese font for the bot's pictures: Noto Sans CJK from the system (Debian: fonts-noto-cjk).

`font(size, bold=False)` gives a Pillow font with the Simplified Chinese face of the collection;
`LINLI_CJK_FONT` (a path to a .ttc/.otf/.ttf with CJK glyphs) overrides the search."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

PACKAGE = "fonts-noto-cjk"
DIRS = ("/usr/share/fonts/opentype/noto", "/usr/share/fonts/noto-cjk", "/usr/share/fonts/google-noto-cjk",
        "/usr/local/share/fonts", "/Library/Fonts")
NAMES = {False: ("NotoSansCJK-Regular.ttc", "NotoSansCJKsc-Regular.otf", "NotoSansSC-Regular.otf"),
         True: ("NotoSansCJK-Bold.ttc", "NotoSansCJKsc-Bold.otf", "NotoSansSC-Bold.otf")}
SC_INDEX = 2  # in the .ttc collections: JP, KR, SC, TC, HK


class FontMissing(RuntimeError):
    """No font with Chinese glyphs was found."""


def find(bold: bool = False) -> Path:
    """The font file: $LINLI_CJK_FONT, else Noto Sans CJK (bold falls back to regular)."""
    override = os.environ.get("LINLI_CJK_FONT")
    if override:
        if not Path(override).is_file():
            raise FontMissing(f"LINLI_CJK_FONT={override} is not a file")
        return Path(override)
    for names in (NAMES[bold], NAMES[False]):
        for directory in DIRS:
            for name in names:
                path = Path(directory) / name
                if path.is_file():
                    return path
    raise FontMissing(f"no Chinese font found: install the Debian package {PACKAGE} "
                      f"(apt-get install {PACKAGE}) or set LINLI_CJK_FONT to a font file with CJK glyphs")


@lru_cache(maxsize=32)
def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    path = find(bold)
    index = SC_INDEX if path.suffix.lower() == ".ttc" else 0
    return ImageFont.truetype(str(path), size, index=index)
