"""The README stays true: every setting is in its table, and the two set-up commands are there."""

from __future__ import annotations

from pathlib import Path

from bot.config import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented() -> None:
    missing = [name for name in Settings.model_fields if f"`LINLI_{name.upper()}`" not in README]
    assert missing == []


def test_the_quick_start_names_the_two_commands() -> None:
    assert "make run" in README and "make test" in README
