"""The catalogs are complete: every text in the code is in linli.pot, and both languages
translate every entry with the same placeholders and balanced HTML."""

from __future__ import annotations

import ast
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


#: the gettext keywords as calls: the index of the (first) msgid among the positional arguments
_MSGID_AT = {"t": 0, "tr": 1, "N_": 0, "tn": 1, "tp": 0}


def test_every_text_passed_for_translation_is_extracted() -> None:
    """What extraction cannot see stays English for everybody: a keyword call nested in another one's arguments,
    a call inside an f-string, or a variable called `t` in the arguments (babel takes `t` for the keyword and loses
    the call). Every literal passed to t/tr/tn/N_/tp in the code must be in the template."""
    with (ROOT / "bot/locales/linli.pot").open("rb") as fh:
        template = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(fh) if m.id}
    missing: list[str] = []
    for source in SOURCES:
        for path in sorted((ROOT / source).rglob("*.py")) if (ROOT / source).is_dir() else [ROOT / source]:
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
                at = _MSGID_AT.get(name or "")
                if at is None or len(node.args) <= at:
                    continue
                arg = node.args[at]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value not in template:
                    missing.append(f"{path.relative_to(ROOT)}:{node.lineno}: {arg.value[:60]!r}")
    assert missing == [], "texts extraction does not see (see the docstring):\n" + "\n".join(missing)


def test_both_catalogs_are_complete_and_consistent() -> None:
    done = subprocess.run([sys.executable, "bot/locales/check_catalogs.py"], cwd=ROOT, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_chinese_is_the_default_and_english_is_there() -> None:
    assert tr("zh_CN", "Building {label}", label="3") == "3号楼"
    assert tr("en", "Building {label}", label="3") == "Building 3"
    assert tr("zh-hans", "community admin") == tr("zh_CN", "community admin") != "community admin"
