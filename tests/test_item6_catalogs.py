"""Issue #12 item 6: the catalogs word counts with plural forms (no "(1 ratings)" in English)."""

from __future__ import annotations

import re

from babel.messages.pofile import read_po

from bot.core.i18n import LOCALES_DIR, tn

#: "{count} ratings", "{n} needs", "{voters} representatives": a count followed by a plural noun
COUNTED = re.compile(r"\{(?:n|count|total|votes|voters|ratings|days|sheets|seats|answered|limit)\}\s+"
                     r"(?:new\s+)?(?:[a-z]+s|people|message\(s\)|milestone\(s\)|residents' representatives)\b")
#: limits that are constants of the code (never 1): "at most {limit} characters"
CONSTANT = re.compile(r"at most \{limit\}|at least \{limit\}|(?:from )?1 to \{limit\}|\{limit\} per project|That is \{limit\}", re.I)


def _template() -> list[str]:
    with (LOCALES_DIR / "linli.pot").open("rb") as fh:
        return [m.id for m in read_po(fh) if m.id and isinstance(m.id, str)]


def test_item6_no_count_is_worded_without_plural_forms() -> None:
    offenders = [msgid for msgid in _template() if COUNTED.search(CONSTANT.sub("", msgid))]
    assert offenders == []


def test_item6_one_rating_is_singular_in_english_and_counted_in_chinese() -> None:
    assert tn("en", "⭐ {rating} ({n} rating)", "⭐ {rating} ({n} ratings)", 1, rating="4.0") == "⭐ 4.0 (1 rating)"
    assert tn("en", "⭐ {rating} ({n} rating)", "⭐ {rating} ({n} ratings)", 3, rating="4.0") == "⭐ 4.0 (3 ratings)"
    assert tn("zh_CN", "⭐ {rating} ({n} rating)", "⭐ {rating} ({n} ratings)", 1, rating="4.0") == "⭐ 4.0（1人评价）"


def test_item6_chinese_always_addresses_the_user_as_nin() -> None:
    """zh_CN says 您, never 你 (the catalog's texts in use; obsolete entries are not)."""
    with (LOCALES_DIR / "zh_CN" / "LC_MESSAGES" / "linli.po").open("rb") as fh:
        catalog = read_po(fh, locale="zh_CN")
    familiar = [m.id for m in catalog if m.id and any("你" in s for s in
                                                     (m.string if isinstance(m.string, tuple) else (m.string,)))]
    assert familiar == []
