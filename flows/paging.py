"""Pages of a list, numbered from 1; a page number out of range shows the nearest page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    page: int
    pages: int
    total: int


def clamp(page: int, total: int, size: int) -> tuple[int, int, int]:
    """(page, pages, offset) for `total` items shown `size` at a time."""
    pages = max(1, -(-total // size))
    page = min(max(1, page), pages)
    return page, pages, (page - 1) * size


def of_list(items: list[T], page: int, size: int) -> Page[T]:
    page, pages, offset = clamp(page, len(items), size)
    return Page(items=items[offset:offset + size], page=page, pages=pages, total=len(items))
