"""Server-rendered SVG charts (no JavaScript, no build step): the geometry here, the markup in templates."""

from __future__ import annotations

from dataclasses import dataclass

from flows.public import Counts

WIDTH = 300
FILL = {"green": "#2e9d4f", "yellow": "#e0a800", "red": "#d64541"}


@dataclass(frozen=True)
class Segment:
    colour: str
    n: int
    x: float
    width: float
    fill: str


@dataclass(frozen=True)
class Bar:
    """A stacked bar of a community's projects by colour, WIDTH units wide (empty when it has none)."""

    segments: list[Segment]
    total: int
    width: int = WIDTH


def bars(counts: Counts, width: int = WIDTH) -> Bar:
    total = counts.projects
    segments, x = [], 0.0
    for colour, n in (("green", counts.green), ("yellow", counts.yellow), ("red", counts.red)):
        if n and total:
            w = round(width * n / total, 2)
            segments.append(Segment(colour, n, round(x, 2), w, FILL[colour]))
            x += w
    return Bar(segments, total, width)


def share(counts: Counts) -> Bar:
    """The district's bar: the same, wider."""
    return bars(counts, width=600)
