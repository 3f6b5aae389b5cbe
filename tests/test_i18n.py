"""The catalogs are complete: every text in the code is in linli.pot, and both languages
translate every entry with the same placeholders and balanced HTML."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

from bot.core.i18n import tr
from bot.locales.check_catalogs import KEYWORDS, SOURCES

ROOT = Path(__file__).resolve().parent.parent


def test_the_template_holds_every_text_in_the_code(tmp_path: Path) -> None:
    out = tmp_path / "fresh.pot"
    subprocess.run([str(Path(sys.executable).parent / "pybabel"), "-q", "extract", *KEYWORDS, "--no-location",
                    "-o", str(out), *SOURCES], cwd=ROOT, check=True)
    with out.open("rb") as fh:
        fresh = {m.id for m in read_po(fh) if m.id}
    with (ROOT / "bot/locales/linli.pot").open("rb") as fh:
        template = {m.id for m in read_po(fh) if m.id}
    assert fresh, "extraction found no texts"
    assert fresh - template == set(), "run `make i18n`: texts missing from bot/locales/linli.pot"


def test_both_catalogs_are_complete_and_consistent() -> None:
    done = subprocess.run([sys.executable, "bot/locales/check_catalogs.py"], cwd=ROOT, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_chinese_is_the_default_and_english_is_there() -> None:
    assert tr("zh_CN", "Building {label}", label="3") == "3号楼"
    assert tr("en", "Building {label}", label="3") == "Building 3"
    assert tr("zh-hans", "community admin") == tr("zh_CN", "community admin") != "community admin"
