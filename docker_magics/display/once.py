"""Each message once: a result whose summary the progress view already showed (the green
"Built ..." line in a widget, the last line of the text) is not shown again as the cell's
result. It stays the cell's value (``_``, ``Out[n]``, ``x = %docker_push ...``), and shows in
full anywhere else (``r`` in a later cell, ``print(r)``, ``repr(r)``).

How: :func:`said` marks the value with the cell that ran it; :class:`SaidOnce` gives the
value an ``_ipython_display_`` that shows nothing in that cell and steps aside elsewhere
(raising ``NotImplementedError``, which IPython's formatters take as "use the other
representations"). In a terminal, where IPython has already printed ``Out[n]:`` before
asking, a short line says where the summary is. Never imports docker.
"""

from __future__ import annotations


def _cell() -> tuple[int, int] | None:
    """The IPython cell running now (its shell and execution count), if any."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return None
    shell = get_ipython()
    if shell is None:
        return None
    return id(shell), shell.execution_count


def said(value: object) -> None:
    """``value``'s summary was shown by the progress view of the cell running now."""
    try:
        value._said_in = _cell()  # type: ignore[attr-defined]
    except AttributeError:  # a value that takes no attributes: shown as usual
        pass


class SaidOnce:
    """Mixin for results: not shown again in the cell whose progress view showed them."""

    _said_in: tuple[int, int] | None = None

    def _ipython_display_(self) -> None:
        cell = _cell()
        if cell is None or self._said_in != cell:
            raise NotImplementedError  # shown as usual, with its other representations
        from IPython import get_ipython

        if getattr(get_ipython(), "kernel", None) is None:  # a terminal: after "Out[n]:"
            print(f"<{type(self).__name__}: shown above>")
