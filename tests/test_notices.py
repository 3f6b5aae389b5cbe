"""Every typed notice (flows/notices.py) has a renderer, and it words the notice in both languages."""

from __future__ import annotations

import importlib
import pkgutil
import types
import typing
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

import pytest

import flows
from bot.handlers import build_notices
from bot.render import NoticeRenderer
from flows.clock import FixedClock
from flows.notices import KINDS, Notice

for _mod in pkgutil.iter_modules(flows.__path__):
    importlib.import_module(f"flows.{_mod.name}")

SAMPLES: dict[Any, Any] = {int: 7, str: "示例 sample", float: 1.5, bool: True}


def _sample(hint: Any) -> Any:
    if hint in SAMPLES:
        return SAMPLES[hint]
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return _sample(options[0])
    if origin in (list, tuple):
        return []
    if origin is dict:
        return {}
    raise AssertionError(f"a notice field of type {hint!r}: use JSON-friendly values")


def sample(kind: type[Notice]) -> Notice:
    hints = typing.get_type_hints(kind)
    return kind(**{f.name: _sample(hints[f.name]) for f in fields(kind)})


def test_there_are_typed_notices() -> None:
    assert {"role_granted", "role_revoked", "invite_used"} <= set(KINDS)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_notice_is_rendered_in_both_languages(kind: str) -> None:
    render = NoticeRenderer(secret=b"k" * 32, clock=FixedClock(datetime(2027, 3, 1, 9, tzinfo=UTC)),
                            bot_username="linli_bot", extra=build_notices())
    assert kind in render.notices, f"notice {kind!r} has no renderer (a feature's NOTICES dict)"
    params = sample(KINDS[kind]).params()
    zh = render({"notice": kind, "lang": "zh_CN", "params": params})
    en = render({"notice": kind, "lang": "en", "params": params})
    assert zh.text and en.text
    assert zh.text != en.text, f"notice {kind!r} is not translated"
