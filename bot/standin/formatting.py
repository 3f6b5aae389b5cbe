"""Telegram text formatting: HTML parse_mode, entity offsets (UTF-16) and rendering.

Only what Telegram allows is accepted. A malformed string raises :class:`ParseError`, whose
message becomes ``Bad Request: can't parse entities: <message>``.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

# tag → entity type; "span"/"tg-emoji"/"a"/"code"/"pre"/"blockquote" need attribute handling
SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
ALL_TAGS = set(SIMPLE_TAGS) | {"a", "span", "tg-emoji"}
NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}

_TAG_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9-]*")
_ATTR = re.compile(r"\s*([a-zA-Z][a-zA-Z0-9-]*)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>\"']+)))?")
_ENTITY = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]*);")
_COMMAND = re.compile(r"(?<![\w/])/[a-zA-Z0-9_]{1,32}(?:@[a-zA-Z0-9_]{3,32})?(?![\w/])")


class ParseError(ValueError):
    """The HTML string is not valid for Telegram."""


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _Open:
    tag: str
    entity: dict[str, Any]
    start: int  # UTF-16 offset


class _HtmlParser:
    """A single-pass tokenizer keeping a stack of open tags."""

    def __init__(self, source: str) -> None:
        self.src = source
        self.pos = 0
        self.out: list[str] = []
        self.out_len = 0  # UTF-16 units emitted so far
        self.stack: list[_Open] = []
        self.entities: list[dict[str, Any]] = []

    def byte_offset(self) -> int:
        return len(self.src[: self.pos].encode("utf-8"))

    def emit(self, text: str) -> None:
        self.out.append(text)
        self.out_len += utf16_len(text)

    def run(self) -> tuple[str, list[dict[str, Any]]]:
        while self.pos < len(self.src):
            ch = self.src[self.pos]
            if ch == "<":
                self.tag()
            elif ch == "&":
                self.entity()
            else:
                nxt = min(
                    i
                    for i in (self.src.find("<", self.pos), self.src.find("&", self.pos), len(self.src))
                    if i >= 0
                )
                self.emit(self.src[self.pos : nxt])
                self.pos = nxt
        if self.stack:
            raise ParseError(f'Can\'t find end tag corresponding to start tag "{self.stack[-1].tag}"')
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.out), self.entities

    def entity(self) -> None:
        match = _ENTITY.match(self.src, self.pos)
        if match is None:  # a lone "&" is kept literally, as Telegram does
            self.emit("&")
            self.pos += 1
            return
        name = match.group(1)
        if name.startswith("#"):
            code = int(name[2:], 16) if name[1:2] in ("x", "X") else int(name[1:])
            if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                raise ParseError(f"Invalid character code {code} at byte offset {self.byte_offset()}")
            self.emit(chr(code))
        elif name in NAMED_ENTITIES:
            self.emit(NAMED_ENTITIES[name])
        else:
            raise ParseError(f'Unsupported HTML entity "&{name};" at byte offset {self.byte_offset()}')
        self.pos = match.end()

    def tag(self) -> None:
        at = self.byte_offset()
        close = self.src.startswith("</", self.pos)
        start = self.pos + (2 if close else 1)
        name_match = _TAG_NAME.match(self.src, start)
        name = name_match.group(0).lower() if name_match else ""
        end = self.src.find(">", start)
        if not name_match or name not in ALL_TAGS or end < 0:
            kind = "end" if close else "start"
            shown = name or self.src[start : start + 10].split(">")[0]
            raise ParseError(f'Unsupported {kind} tag "{shown}" at byte offset {at}')
        body = self.src[name_match.end() : end]
        self.pos = end + 1
        if close:
            self.close_tag(name, body, at)
        else:
            self.open_tag(name, body, at)

    def open_tag(self, name: str, body: str, at: int) -> None:
        attrs = _parse_attrs(body, name, at)
        entity = _entity_for(name, attrs, at, self.stack)
        self.stack.append(_Open(name, entity, self.out_len))

    def close_tag(self, name: str, body: str, at: int) -> None:
        if body.strip():
            raise ParseError(f'Unexpected text in end tag "{name}" at byte offset {at}')
        if not self.stack:
            raise ParseError(f"Unexpected end tag at byte offset {at}")
        top = self.stack.pop()
        if top.tag != name:
            raise ParseError(
                f'Unmatched end tag at byte offset {at}, expected "</{top.tag}>", found "</{name}>"'
            )
        length = self.out_len - top.start
        if top.entity.get("type") == "_merged" or length == 0:
            return  # <code> inside <pre> is merged into the pre entity; empty entities vanish
        self.entities.append({**top.entity, "offset": top.start, "length": length})


def _parse_attrs(body: str, tag: str, at: int) -> dict[str, str]:
    attrs: dict[str, str] = {}
    pos = 0
    body = body.rstrip().removesuffix("/")
    while pos < len(body):
        match = _ATTR.match(body, pos)
        if match is None or match.end() == pos:
            raise ParseError(f'Invalid attribute in tag "{tag}" at byte offset {at}')
        value = next((g for g in match.groups()[1:] if g is not None), "")
        attrs[match.group(1).lower()] = html.unescape(value)
        pos = match.end()
        if body[pos:].strip() == "":
            break
    return attrs


def _entity_for(name: str, attrs: dict[str, str], at: int, stack: list[_Open]) -> dict[str, Any]:
    if name == "a":
        href = attrs.get("href", "")
        if not href:
            raise ParseError(f'Tag "a" must have attribute "href" at byte offset {at}')
        return {"type": "text_link", "url": href}
    if name == "span":
        if attrs.get("class") != "tg-spoiler":
            raise ParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {at}')
        return {"type": "spoiler"}
    if name == "tg-emoji":
        emoji_id = attrs.get("emoji-id", "")
        if not emoji_id.isdigit():
            raise ParseError(f'Tag "tg-emoji" must have attribute "emoji-id" at byte offset {at}')
        return {"type": "custom_emoji", "custom_emoji_id": emoji_id}
    if name == "blockquote":
        return {"type": "expandable_blockquote" if "expandable" in attrs else "blockquote"}
    if name == "code" and stack and stack[-1].tag == "pre":
        language = attrs.get("class", "")
        if language.startswith("language-") and len(language) > len("language-"):
            stack[-1].entity["language"] = language[len("language-") :]
        return {"type": "_merged"}
    return {"type": SIMPLE_TAGS[name]}


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram HTML into plain text and entities (UTF-16 offsets)."""
    return _HtmlParser(source).run()


def command_entities(text: str) -> list[dict[str, Any]]:
    """``bot_command`` entities for every /command in a user's text."""
    entities = []
    for match in _COMMAND.finditer(text):
        entities.append(
            {
                "type": "bot_command",
                "offset": utf16_len(text[: match.start()]),
                "length": utf16_len(match.group(0)),
            }
        )
    return entities


def check_entities(text: str, entities: list[dict[str, Any]]) -> None:
    """Explicit ``entities`` must lie inside the text."""
    total = utf16_len(text)
    for ent in entities:
        if ent["offset"] < 0 or ent["length"] < 0 or ent["offset"] + ent["length"] > total:
            raise ParseError("entity is out of the text bounds")


_RENDER = {
    "bold": ("<b>", "</b>"),
    "italic": ("<i>", "</i>"),
    "underline": ("<u>", "</u>"),
    "strikethrough": ("<s>", "</s>"),
    "spoiler": ('<span class="tg-spoiler">', "</span>"),
    "code": ("<code>", "</code>"),
    "pre": ("<pre>", "</pre>"),
    "blockquote": ("<blockquote>", "</blockquote>"),
    "expandable_blockquote": ("<blockquote>", "</blockquote>"),
}


def render_html(text: str, entities: list[dict[str, Any]]) -> str:
    """Safe HTML for the web page: escaped text with formatting entities as tags."""
    units = text.encode("utf-16-le")
    marks: dict[int, list[tuple[int, str]]] = {}
    for ent in entities:
        opening, closing = _tags_for(ent)
        if not opening:
            continue
        start, end = ent["offset"], ent["offset"] + ent["length"]
        marks.setdefault(start, []).append((1, opening))
        marks.setdefault(end, []).insert(0, (0, closing))
    out: list[str] = []
    last = 0
    for point in sorted(marks):
        out.append(html.escape(units[last * 2 : point * 2].decode("utf-16-le", errors="replace")))
        out.extend(tag for _, tag in sorted(marks[point], key=lambda m: m[0]))
        last = point
    out.append(html.escape(units[last * 2 :].decode("utf-16-le", errors="replace")))
    return "".join(out)


def _tags_for(ent: dict[str, Any]) -> tuple[str, str]:
    if ent["type"] == "text_link":
        return f'<a href="{html.escape(ent.get("url", ""))}">', "</a>"
    return _RENDER.get(ent["type"], ("", ""))
