"""Server-rendered SVG charts (no JavaScript, no build step): a stacked bar's geometry (`bars`) and its markup
(`svg`, made here rather than in a template macro: /district draws a hundred, and the macro calls were half of
its rendering)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from markupsafe import Markup, escape

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


def svg(bar: Bar, colour_name: Callable[[str], str]) -> Markup:
    """The bar as inline SVG: a grey track, a rectangle per colour with its count written in when it is wide
    enough, and the counts with their colours' names (`colour_name`, translated) as its label."""
    label = ", ".join(f"{colour_name(s.colour)} {s.n}" for s in bar.segments)
    parts = [f'<svg class="bar" viewBox="0 0 {bar.width} 24" height="24" role="img" aria-label="{escape(label)}">\n'
             f'<rect width="{bar.width}" height="24" fill="#eceff1"/>']
    for s in bar.segments:
        parts.append(f'<rect x="{s.x}" width="{s.width}" height="24" fill="{s.fill}"/>')
        if s.width >= 18:
            parts.append(f'<text x="{s.x + s.width / 2}" y="17" text-anchor="middle" font-size="13" fill="#fff">'
                         f'{s.n}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
