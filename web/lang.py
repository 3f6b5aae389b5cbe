"""The board's language: `?lang=` (remembered in a cookie), else the cookie, else `Accept-Language`."""

from __future__ import annotations

from bot.core.i18n import DEFAULT, LANGUAGES

COOKIE = "lang"
COOKIE_MAX_AGE = 365 * 24 * 3600


def from_code(code: str | None) -> str | None:
    """zh, zh-CN, zh-Hans, zh_CN → zh_CN; en, en-GB → en; anything else → None."""
    if not code:
        return None
    code = code.strip().lower().replace("_", "-")
    if code.startswith("zh"):
        return "zh_CN"
    if code == "en" or code.startswith("en-"):
        return "en"
    return None


def from_accept(header: str | None) -> str | None:
    """The best of our languages in an Accept-Language header (by q, then order), or None."""
    best: tuple[float, int, str] | None = None
    for i, part in enumerate((header or "")[:500].split(",")):
        tag, _, params = part.partition(";")
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        lang = from_code(tag)
        if lang is not None and q > 0 and (best is None or (q, -i) > (best[0], best[1])):
            best = (q, -i, lang)
    return best[2] if best else None


def choose(query: str | None, cookie: str | None, accept: str | None) -> tuple[str, bool]:
    """(language, whether to remember it in the cookie)."""
    asked = from_code(query)
    if asked is not None:
        return asked, asked != cookie
    if cookie in LANGUAGES:
        return cookie, False
    return from_accept(accept) or DEFAULT, False
