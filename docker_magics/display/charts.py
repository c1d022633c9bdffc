"""Horizontal bar charts without a plotting library: SVG for notebooks, bars of block
characters for text. Never imports docker.

An SVG has a fixed size, and text that runs past its edge is cut off. Labels are drawn in a
monospace font, whose characters all have the same advance (0.60 em in DejaVu Sans Mono,
Liberation Mono, Menlo and Courier; 0.55 in Consolas), so each text's width is known from its
characters and the picture is sized to hold its longest label and value.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from docker_magics.display import markup

FONT = 12  # px
ADVANCE = 0.62  # a monospace character's width in em, rounded up
ROW, BAR = 20, 14  # px: a row's height, a bar's thickness
BAR_AREA = 320  # px for the longest bar
LABEL_CHARS = 48  # longer labels are shortened (the row's tooltip has the whole label)
COLOR, TOP_COLOR, PART_COLOR = "#3b7ea1", "#d9480f", "#a9cfe0"


@dataclass
class Bar:
    """One row: ``label``, ``value`` (the bar's length), ``text`` (shown after the bar), and
    ``part``: how much of the value is of a second kind (drawn lighter, at its end)."""

    label: str
    value: float
    text: str = ""
    part: float = 0.0


def text_width(text: str, font: float = FONT) -> float:
    """Pixels ``text`` takes in a monospace font (wide East Asian characters take two)."""
    cells = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return cells * ADVANCE * font


def shorten(text: str, width: int = LABEL_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def bar_svg(bars: Sequence[Bar], *, title: str = "", top: int = 1, part_label: str = "") -> str:
    """A horizontal bar chart, one row per bar, in the given order; the ``top`` largest bars
    in another colour (the ones to look at). ``part_label`` names the lighter part of the
    bars in a legend."""
    labels = [shorten(b.label) for b in bars]
    label_width = max((text_width(t) for t in labels), default=0) + 8
    largest = max((b.value for b in bars), default=0) or 1
    ranked = sorted(range(len(bars)), key=lambda i: -bars[i].value)
    top = min(top, len(bars) - 1)  # (standing out among the others: not all of them)
    tops = {i for i in ranked[:top] if bars[i].value > 0}
    y = 4
    parts = []
    if title:
        heading = markup.svg_text(title)
        parts.append(f"<text x='0' y='{y + FONT}' font-weight='bold'>{heading}</text>")
        y += ROW + 2
    right = text_width(title) if title else 0
    for i, (bar, label) in enumerate(zip(bars, labels, strict=True)):
        length = BAR_AREA * max(bar.value, 0) / largest
        length = max(length, 1.0) if bar.value > 0 else 0.0
        part = length * min(max(bar.part, 0) / bar.value, 1) if bar.value > 0 else 0.0
        color = TOP_COLOR if i in tops else COLOR
        tip = markup.svg_text(f"{bar.label}: {bar.text}")
        base = y + (ROW - BAR) / 2
        parts.append(
            f"<g><title>{tip}</title>"
            f"<text x='0' y='{y + FONT + 1}'>{markup.svg_text(label)}</text>"
            f"<rect x='{label_width}' y='{base}' width='{length - part:.1f}' height='{BAR}' "
            f"fill='{color}'/>"
            + (
                f"<rect x='{label_width + length - part:.1f}' y='{base}' width='{part:.1f}' "
                f"height='{BAR}' fill='{PART_COLOR}'/>"
                if part
                else ""
            )
            + f"<text x='{label_width + length + 5:.1f}' y='{y + FONT + 1}'>"
            f"{markup.svg_text(bar.text)}</text></g>"
        )
        right = max(right, label_width + length + 5 + text_width(bar.text))
        y += ROW
    if part_label:
        legend = f"lighter: {part_label}"
        parts.append(
            f"<rect x='0' y='{y + 4}' width='10' height='10' fill='{PART_COLOR}'/>"
            f"<text x='14' y='{y + FONT + 1}'>{markup.svg_text(legend)}</text>"
        )
        right = max(right, 14 + text_width(legend))
        y += ROW
    width, height = int(right) + 4, int(y) + 4
    aria = f" aria-label='{markup.attr(title)}'" if title else ""
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' class='docker-magics-chart' role='img'{aria} "
        f"width='{width}' height='{height}' viewBox='0 0 {width} {height}' "
        f"font-family='monospace' font-size='{FONT}' fill='currentColor'>{''.join(parts)}</svg>"
    )


BLOCKS = " ▏▎▍▌▋▊▉█"  # eighths of a character cell


def text_bar(value: float, largest: float, width: int = 24) -> str:
    """A bar of block characters, ``width`` cells for ``largest``."""
    if value <= 0 or largest <= 0:
        return ""
    eighths = max(1, round(8 * width * min(value / largest, 1)))
    full, rest = divmod(eighths, 8)
    return "█" * full + (BLOCKS[rest] if rest else "")


def with_bars(table_text: str, values: Sequence[float], width: int = 24) -> str:
    """A text table (a header line, then a line per value) with a bar after each row."""
    header, *rows = table_text.splitlines()
    largest = max(values, default=0)
    bars = [text_bar(v, largest, width) for v in values] + [""] * len(rows)
    wide = max(map(len, [header, *rows]))
    lines = (f"{row:<{wide}}  {bar}".rstrip() for row, bar in zip(rows, bars, strict=False))
    return "\n".join([header, *lines])
