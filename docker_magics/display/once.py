"""Each message once: a result whose summary the progress view already showed (the green
"Built ..." line in a widget, the last line of the text) is not shown again as the cell's
result. It stays the cell's value (``_``, ``Out[n]``, ``x = %docker_push ...``), and shows in
full anywhere else (``r`` in a later cell, ``print(r)``, ``repr(r)``).

How: :func:`said` marks the value with the cell that ran it; :class:`SaidOnce` gives the
value an ``_ipython_display_`` that shows nothing in that cell and steps aside elsewhere
(raising ``NotImplementedError``, which IPython's formatters take as "use the other
representations"). A terminal IPython prints ``Out[n]:`` before it asks any formatter:
:func:`quiet_in_terminals` keeps such a value from its display hook there (it still becomes
``_``, ``_n`` and ``Out[n]``). Never imports docker.
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


def _said_here(value: object) -> bool:
    return isinstance(value, SaidOnce) and value._said_in == _cell()


def quiet_in_terminals(shell) -> None:
    """In a shell without a kernel (terminal IPython), a value said by its cell's progress
    view is not displayed by that cell, ``Out[n]:`` included; it is the cell's value all
    the same. (In a kernel, ``_ipython_display_`` does it.)"""
    trap = getattr(shell, "display_trap", None)
    if trap is None or getattr(shell, "kernel", None) is not None:
        return
    if getattr(trap.hook, "_docker_magics_shown", None) is not None:
        return  # installed already
    shown = trap.hook

    def hook(result=None):
        display = shell.displayhook
        if result is None or not _said_here(result):
            return shown(result)
        display.check_for_underscore()
        if not display.quiet():  # (a cell ending with ";" keeps nothing, as IPython does)
            display.update_user_ns(result)
            display.fill_exec_result(result)
        return None

    hook._docker_magics_shown = shown  # type: ignore[attr-defined]
    trap.hook = hook


def show_in_terminals(shell) -> None:
    """Undo :func:`quiet_in_terminals` (``%unload_ext``)."""
    trap = getattr(shell, "display_trap", None)
    shown = getattr(getattr(trap, "hook", None), "_docker_magics_shown", None)
    if trap is not None and shown is not None:
        trap.hook = shown


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
