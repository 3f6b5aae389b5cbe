"""A small reader for the subset of YAML the indicator files use (the project has no YAML dependency).

Block mappings (`key: value`), block sequences (`- …`), flow mappings (`{a: 1, b: x}`) and flow sequences
(`[a, b]`), plain or quoted scalars (numbers become int/float), `#` comments. Anything else is a `YamlError`
with the line number."""

from __future__ import annotations

import re
from typing import Any


class YamlError(ValueError):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


def _opens_quote(text: str, i: int) -> bool:
    """A quote starts a quoted scalar only where a value starts (an apostrophe inside words is text)."""
    before = text[:i].rstrip()
    return not before or before[-1] in ":,[{-"


def _strip_comment(text: str) -> str:
    quote: str | None = None
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'" and _opens_quote(text, i):
            quote = ch
        elif ch == "#" and (i == 0 or text[i - 1] in " \t"):
            return text[:i].rstrip()
    return text.rstrip()


def _scalar(text: str, line: int) -> Any:
    text = text.strip()
    if not text:
        return None
    if text[0] in "\"'":
        if len(text) < 2 or text[-1] != text[0]:
            raise YamlError(line, "unterminated quote")
        return text[1:-1]
    if text.startswith("{") or text.startswith("["):
        value, rest = _flow(text, 0, line)
        if text[rest:].strip():
            raise YamlError(line, "text after a closing bracket")
        return value
    if _NUMBER.match(text):
        return float(text) if "." in text else int(text)
    if text in ("true", "false"):
        return text == "true"
    if text in ("null", "~"):
        return None
    return text


def _flow(text: str, i: int, line: int) -> tuple[Any, int]:
    """A flow mapping or sequence starting at text[i]; returns (value, index after it)."""
    opening = text[i]
    closing = "}" if opening == "{" else "]"
    out: Any = {} if opening == "{" else []
    i += 1
    while True:
        while i < len(text) and text[i] in " \t":
            i += 1
        if i >= len(text):
            raise YamlError(line, f"missing '{closing}'")
        if text[i] == closing:
            return out, i + 1
        if text[i] in "{[":
            value, i = _flow(text, i, line)
            if isinstance(out, dict):
                raise YamlError(line, "a mapping needs keys")
            out.append(value)
        else:
            start, quote = i, None
            while i < len(text):
                ch = text[i]
                if quote:
                    if ch == quote:
                        quote = None
                elif ch in "\"'" and _opens_quote(text, i):
                    quote = ch
                elif ch in ",{[" + closing:
                    if ch in "{[" and isinstance(out, dict) and text[start:i].rstrip().endswith(":"):
                        break
                    if ch in ",}]":
                        break
                i += 1
            piece = text[start:i].strip()
            if isinstance(out, dict):
                key, sep, rest = piece.partition(":")
                if not sep:
                    raise YamlError(line, f"'{piece}' has no 'key:'")
                if not rest.strip() and i < len(text) and text[i] in "{[":
                    value, i = _flow(text, i, line)
                else:
                    value = _scalar(rest, line)
                out[key.strip()] = value
            else:
                out.append(_scalar(piece, line))
        while i < len(text) and text[i] in " \t":
            i += 1
        if i < len(text) and text[i] == ",":
            i += 1


def loads(source: str) -> Any:
    lines: list[tuple[int, int, str]] = []  # (line number, indent, text)
    for n, raw in enumerate(source.splitlines(), 1):
        if "\t" in raw[: len(raw) - len(raw.lstrip())]:
            raise YamlError(n, "tabs are not allowed for indentation")
        text = _strip_comment(raw)
        if text.strip():
            lines.append((n, len(text) - len(text.lstrip()), text.strip()))
    if not lines:
        return None
    value, pos = _block(lines, 0, lines[0][1])
    if pos != len(lines):
        raise YamlError(lines[pos][0], "unexpected indentation")
    return value


def _block(lines: list[tuple[int, int, str]], pos: int, indent: int) -> tuple[Any, int]:
    n, ind, text = lines[pos]
    if text.startswith("- ") or text == "-":
        seq: list[Any] = []
        while pos < len(lines) and lines[pos][1] == indent and (lines[pos][2].startswith("- ")
                                                                 or lines[pos][2] == "-"):
            n, _, text = lines[pos]
            rest = text[1:].strip()
            pos += 1
            if not rest:
                if pos < len(lines) and lines[pos][1] > indent:
                    value, pos = _block(lines, pos, lines[pos][1])
                else:
                    value = None
                seq.append(value)
            elif _is_key(rest):
                # "- key: value" starts a mapping whose other keys are indented like "key"
                inner = indent + (len(text) - len(rest))
                lines[pos - 1] = (n, inner, rest)
                value, pos = _block(lines, pos - 1, inner)
                seq.append(value)
            else:
                seq.append(_scalar(rest, n))
        return seq, pos
    mapping: dict[str, Any] = {}
    while pos < len(lines) and lines[pos][1] == indent:
        n, _, text = lines[pos]
        if not _is_key(text):
            raise YamlError(n, f"expected 'key: value', got '{text[:40]}'")
        key, _, rest = text.partition(":")
        key = key.strip().strip("\"'")
        if key in mapping:
            raise YamlError(n, f"'{key}' is given twice")
        pos += 1
        if rest.strip():
            mapping[key] = _scalar(rest, n)
        elif pos < len(lines) and (lines[pos][1] > indent
                                   or (lines[pos][1] == indent and lines[pos][2].startswith("- "))):
            mapping[key], pos = _block(lines, pos, lines[pos][1])
        else:
            mapping[key] = None
    if pos < len(lines) and lines[pos][1] > indent:
        raise YamlError(lines[pos][0], "unexpected indentation")
    return mapping, pos


def _is_key(text: str) -> bool:
    if text[0] in "{[\"'":
        return False
    key, sep, rest = text.partition(":")
    return bool(sep) and bool(key.strip()) and (not rest or rest[0] in " \t")
