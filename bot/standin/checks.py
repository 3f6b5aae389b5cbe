"""Content checks shared by the Bot API methods: text/caption parsing and keyboard limits."""

from __future__ import annotations

from typing import Any

from .formatting import ParseError, check_entities, parse_html
from .spec import ApiError, bad_request

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_MAX_BYTES = 64
MAX_INLINE_BUTTONS = 100
_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


def parse_formatted(
    text: str, parse_mode: str | None, entities: list[dict[str, Any]] | None
) -> tuple[str, list[dict[str, Any]], str | None]:
    """(plain text, entities, original HTML or None) according to parse_mode."""
    mode = (parse_mode or "").lower()
    if entities and mode:
        mode = ""  # Telegram prefers explicit entities
    if mode == "html":
        try:
            plain, parsed = parse_html(text)
        except ParseError as exc:
            raise bad_request(f"can't parse entities: {exc}") from None
        return plain, parsed, text
    if mode in ("", "markdown", "markdownv2"):
        # Markdown is accepted but not interpreted by the stand-in: the text is kept verbatim.
        ents = list(entities or [])
        try:
            check_entities(text, ents)
        except ParseError as exc:
            raise bad_request(f"can't parse entities: {exc}") from None
        return text, ents, None
    raise bad_request(f'unsupported parse_mode "{parse_mode}"')


def message_text(params: dict[str, Any]) -> tuple[str, list[dict[str, Any]], str | None]:
    plain, entities, source = parse_formatted(
        params.get("text", ""), params.get("parse_mode"), params.get("entities")
    )
    if not plain.strip():
        raise bad_request("message text is empty")
    if len(plain) > TEXT_LIMIT:
        raise bad_request("message is too long")
    return plain, entities, source


def caption_text(params: dict[str, Any]) -> tuple[str | None, list[dict[str, Any]], str | None]:
    if params.get("caption") in (None, ""):
        return None, [], None
    plain, entities, source = parse_formatted(
        params["caption"], params.get("parse_mode"), params.get("caption_entities")
    )
    if len(plain) > CAPTION_LIMIT:
        raise bad_request("message caption is too long")
    return plain, entities, source


def check_reply_markup(markup: dict[str, Any] | None) -> dict[str, Any] | None:
    """Inline keyboards: ≤100 buttons, exactly one action each, callback_data 1-64 bytes."""
    if not markup or "inline_keyboard" not in markup:
        return markup
    buttons = [b for row in markup["inline_keyboard"] for b in row]
    if len(buttons) > MAX_INLINE_BUTTONS:
        raise bad_request("BUTTONS_TOO_MUCH")
    for button in buttons:
        _check_button(button)
    return markup


def _check_button(button: dict[str, Any]) -> None:
    if not button.get("text"):
        raise bad_request("BUTTON_TEXT_INVALID")
    actions = [a for a in _BUTTON_ACTIONS if a in button]
    if len(actions) != 1:
        raise bad_request("text buttons are unallowed in the inline keyboard")
    if "callback_data" in button:
        size = len(button["callback_data"].encode("utf-8"))
        if not 1 <= size <= CALLBACK_DATA_MAX_BYTES:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in button and not button["url"].startswith(("http://", "https://", "tg://")):
        raise bad_request("BUTTON_URL_INVALID")


def check_poll(question: str, options: list[dict[str, Any]]) -> None:
    if not 1 <= len(question.strip()) <= 300:
        raise bad_request("POLL_QUESTION_INVALID" if question.strip() else "poll question must be non-empty")
    if len(options) < 2:
        raise bad_request("poll must have at least 2 option")
    if len(options) > 12:
        raise bad_request("poll can't have more than 12 options")
    for opt in options:
        if not 1 <= len(opt["text"]) <= 100:
            raise bad_request("poll options length must not exceed 100")


def check_callback_answer(text: str | None) -> None:
    if text is not None and len(text) > 200:
        raise bad_request("MESSAGE_TOO_LONG")


__all__ = [
    "ApiError",
    "caption_text",
    "check_callback_answer",
    "check_poll",
    "check_reply_markup",
    "message_text",
    "parse_formatted",
]
