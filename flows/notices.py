"""Typed notices: what a flow tells bot/ to say on its own, one frozen dataclass per kind.

A flow queues ``outbox.notify(uow, tg_chat_id=…, notice=NeedElected(number=12, title=…), lang=…, now=…)``;
the row's payload holds the kind and the fields (``asdict``), and bot/ renders it with the renderer a
feature module lists in its ``NOTICES`` dict under ``NeedElected.kind``. Defining the notice as a class
gives it one definition (its fields are checked where it is made, not where it is rendered), and lets
``tests/test_notices.py`` render every kind in both languages from sample values.

Fields are JSON-friendly values only (str, int, float, bool, None, lists and dicts of those): they go
through the outbox as JSON. Personal data of the care ledger never goes in a notice's fields for a
group chat; a private notice that needs it carries ids and bot/ reads what it may at render time."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar

#: Every notice kind defined so far, by its kind (filled as the modules defining them are imported).
KINDS: dict[str, type[Notice]] = {}


@dataclass(frozen=True)
class Notice:
    """Base of every notice; subclass with ``class X(Notice, kind="x")`` and declare the fields."""

    kind: ClassVar[str] = ""

    def __init_subclass__(cls, *, kind: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not kind:
            raise TypeError(f"{cls.__name__}: a notice needs kind=…")
        if kind in KINDS and KINDS[kind].__qualname__ != cls.__qualname__:
            raise TypeError(f"notice kind {kind!r} is defined twice ({KINDS[kind].__qualname__}, {cls.__qualname__})")
        cls.kind = kind
        KINDS[kind] = cls

    def params(self) -> dict[str, Any]:
        return asdict(self)
