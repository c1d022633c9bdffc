"""Small display objects: aligned text for terminals, HTML tables for notebooks.

A magic returns one of these; IPython picks ``_repr_html_`` in a notebook and ``__repr__``
in a terminal. The underlying data stays available as ``.rows`` / ``.items``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from docker_magics.display import markup


class Table:
    """Rows under named columns; ``.objects``: what the rows are about, if it says."""

    def __init__(
        self,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        title: str = "",
        objects: Sequence[Any] = (),
    ):
        self.columns = list(columns)
        self.rows = [["" if v is None else str(v) for v in row] for row in rows]
        self.title = title
        self.objects = list(objects)

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        widths = [len(c) for c in self.columns]
        for row in self.rows:
            widths = [max(w, len(v)) for w, v in zip(widths, row, strict=True)]
        lines = [self.title] if self.title else []
        for row in [self.columns, *self.rows]:
            lines.append("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
        if not self.rows:
            lines.append("(none)")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = "".join(f"<th style='text-align:left'>{markup.text(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>"
            + "".join(f"<td style='text-align:left'>{markup.text(v)}</td>" for v in row)
            + "</tr>"
            for row in self.rows
        )
        caption = f"<caption>{markup.text(self.title)}</caption>" if self.title else ""
        empty = "" if self.rows else "<p><i>(none)</i></p>"
        return (
            f"<table class='docker-magics'>{caption}<thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table>{empty}"
        )


class KeyValues:
    """Labelled values, one per line."""

    def __init__(self, items: Sequence[tuple[str, Any]], *, title: str = ""):
        self.items = [(k, "" if v is None else str(v)) for k, v in items]
        self.title = title

    def __getitem__(self, key: str) -> str:
        return dict(self.items)[key]

    def __repr__(self) -> str:
        width = max((len(k) for k, _ in self.items), default=0)
        lines = [self.title] if self.title else []
        lines += [f"{k + ':':<{width + 1}} {v}" for k, v in self.items]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{markup.text(k)}</th>"
            f"<td style='text-align:left'>{markup.text(v)}</td></tr>"
            for k, v in self.items
        )
        caption = f"<caption>{markup.text(self.title)}</caption>" if self.title else ""
        return f"<table class='docker-magics'>{caption}{rows}</table>"


class Lines(list):
    """Lines of text (``Removed web``), shown as they are; ``.objects``: what they are
    about (containers, the engine's untag/delete records...)."""

    def __init__(self, lines: Sequence[str], objects: Sequence[Any] = ()):
        super().__init__(lines)
        self.objects = list(objects)

    def __repr__(self) -> str:
        return "\n".join(self)

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(repr(self))

    def _repr_html_(self) -> str:
        return f"<pre class='docker-magics'>{markup.text(repr(self))}</pre>"


def human_size(n: float | None, digits: int = 3) -> str:
    """Bytes in the docker CLI's units (decimal: kB, MB, GB), to ``digits`` significant
    digits (go-units' HumanSizeWithPrecision: 3 in ``docker images``/``history``, 4 in
    ``docker system df``)."""
    if n is None:
        return ""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        shown = f"{n:.0f}" if unit == "B" or abs(n) >= 1000 else f"{n:.{digits}g}"
        if abs(float(shown)) < 1000 or unit == "TB":  # 999.6 kB rounds up to 1 MB, not 1e+03kB
            return shown + unit
        n /= 1000
    return f"{n}"  # pragma: no cover


def counted(n: int, word: str, plural: str | None = None) -> str:
    """``1 line``, ``2 lines``, ``1,000 lines``."""
    return f"{n:,} {word if n == 1 else plural or word + 's'}"
