"""gettext catalogs (bot/locales/<lang>/LC_MESSAGES/linli.po), English msgids.

The .po files are the source; they are compiled in memory when first needed, so a fresh
checkout needs no build step. Texts are translated first and formatted after
(`t("Hello, {name}", name=...)`)."""

from __future__ import annotations

import gettext
from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "linli"
LANGUAGES = ("zh_CN", "en")
DEFAULT = "zh_CN"


def N_(msgid: str) -> str:  # noqa: N802  (the gettext marker's usual name)
    """Mark a text for extraction without translating it yet."""
    return msgid


@cache
def catalog(lang: str) -> gettext.NullTranslations:
    po = LOCALES_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po.exists():
        return gettext.NullTranslations()
    with po.open("rb") as fh:
        cat = read_po(fh, locale=lang)
    buf = BytesIO()
    write_mo(buf, cat)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


def normalise(lang: str | None) -> str:
    if lang in LANGUAGES:
        return lang
    if lang and lang.lower().startswith("en"):
        return "en"
    return DEFAULT


def tr(lang: str, msgid: str, /, **kwargs: object) -> str:
    text = catalog(normalise(lang)).gettext(msgid)
    return text.format(**kwargs) if kwargs else text


def tn(lang: str, singular: str, plural: str, n: int, /, **kwargs: object) -> str:
    text = catalog(normalise(lang)).ngettext(singular, plural, n)
    return text.format(n=n, **kwargs)
