"""Progress rendering machinery: ipywidgets in a notebook frontend, plain text elsewhere.

One protocol for every operation: ``start()``, ``handle(event)`` while the work runs,
``finish(error, ...)`` at the end. Renderers read the shared state from the operation's
recorder; what to show for a build or a push/pull lives in :mod:`.build_progress` and
:mod:`.transfer_progress`, the throttling and budgets live here.

Output stays bounded whatever the engine sends (Jupyter drops IOPub messages beyond
1000 msgs/s or 1 MB/s): text renderers print at most ~20 lines a second and say what they
skipped; widget renderers redraw at most 5 times a second, spend at most 10 widget messages a
second, and give their busiest panel (the log, the layer table) a byte budget.

Never imports docker.
"""

from __future__ import annotations

import html
import os
import sys
import threading
import time

MODES = ("auto", "widget", "plain", "none")
LINE_WIDTH = 240  # characters of a log line shown (the log keeps it whole)
GREEN, RED = "#1a7f37", "#cf222e"


def choose_mode(mode: str) -> str:
    """``auto``: widgets when a notebook frontend that renders them runs this kernel (a kernel
    started by a Jupyter server, or VS Code), plain text elsewhere (terminal IPython,
    nbconvert/nbclient, CI)."""
    if mode != "auto":
        return mode
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return "plain"
    shell = get_ipython()
    in_kernel = shell is not None and getattr(shell, "kernel", None) is not None
    frontend = bool(os.environ.get("JPY_SESSION_NAME") or os.environ.get("VSCODE_PID"))
    if in_kernel and frontend:
        try:
            import ipywidgets  # noqa: F401
        except ImportError:
            return "plain"
        return "widget"
    return "plain"


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens = burst
        self.stamp = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def take(self, n: float = 1) -> bool:
        self._refill()
        if self.tokens >= n:
            self.tokens -= n
            return True
        return False

    def take_up_to(self, n: int) -> int:
        """Take as many whole tokens as there are, up to ``n``; return how many."""
        self._refill()
        got = min(n, int(self.tokens))
        self.tokens -= got
        return got


def cut(text: str, width: int = LINE_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


class NullRenderer:
    def __init__(self, recorder) -> None:
        self.recorder = recorder

    def start(self) -> None:
        pass

    def handle(self, event) -> None:
        pass

    def finish(self, error: str | None, summary: str = "") -> None:
        pass


class TextRenderer(NullRenderer):
    """Plain lines on stdout (stderr for what the engine marked as such, and failures)."""

    def __init__(self, recorder, out=None, err=None) -> None:
        super().__init__(recorder)
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.lines = TokenBucket(rate=20, burst=40)
        self.hidden = 0  # lines not printed since the last note about it
        self.skipped_total = 0

    def print(self, text: str, stream=None) -> None:
        print(text, file=stream or self.out)

    def print_some(self, lines: list[str], stream=None) -> None:
        """Print as many of ``lines`` as the line budget allows; count the rest."""
        shown = self.lines.take_up_to(len(lines))
        if shown:
            self.note_hidden()
            self.print("\n".join(cut(line) for line in lines[:shown]), stream)
        self.hidden += len(lines) - shown

    def note_hidden(self) -> None:
        self.skipped_total += self.hidden
        if self.hidden:
            self.print(f"    … {self.hidden:,} more lines (all in the result's log)")
            self.hidden = 0

    def finish(self, error: str | None, summary: str = "") -> None:
        self.note_hidden()
        if error is None:
            self.print(summary)
        else:
            self.print(f"FAILED after {self.recorder.elapsed():.1f}s", self.err)


class WidgetRenderer(NullRenderer):
    """A header, a bar, and HTML panels, redrawn within the message and byte budgets.

    Few widgets on purpose: each costs comm messages to create (with its layout and style
    models), and every update carries a ~500-byte envelope. Subclasses say what to show:
    ``header_html()``, ``bar()`` -> (value, max), ``panels_html()`` -> one string per panel;
    the last panel is the busy one (log, layers) and gets the byte budget.
    """

    DRAW_EVERY = 0.2  # seconds between redraws, at most
    TICK = 0.5  # redraw at least this often (elapsed time moves while the engine is silent)
    FIRST_DRAW = 0.5  # work done sooner than this needs no live updates, only the final one
    PANELS = 2

    def __init__(self, recorder) -> None:
        super().__init__(recorder)
        import ipywidgets as w

        # Created with their first content: no update message before the first redraw.
        value, maximum = self.bar_state()
        self.header = w.HTML(self.header_html())
        self.bar = w.IntProgress(
            value=min(value, max(maximum, 1)), min=0, max=max(maximum, 1), bar_style="info",
            layout=w.Layout(width="100%"),
        )  # fmt: skip
        self.panels = [w.HTML(text) for text in self.panels_html()]
        self.box = w.VBox([self.header, self.bar, *self.panels])
        self.box.add_class("docker-magics-progress")
        self.messages = TokenBucket(rate=10, burst=10)  # widget updates, all widgets
        self.busy_bytes = TokenBucket(rate=1500, burst=4000)
        self.busy_every = TokenBucket(rate=1, burst=1)
        self.lock = threading.Lock()
        self.last_draw = 0.0
        self.stop = threading.Event()
        self.ticker = threading.Thread(target=self._tick, daemon=True, name="docker-magics-tick")

    # What to show: subclasses.
    def header_html(self) -> str:
        raise NotImplementedError

    def bar_state(self) -> tuple[int, int]:
        raise NotImplementedError

    def panels_html(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        from IPython.display import display

        display(self.box)
        self.shown = self.last_draw = time.monotonic()
        self.ticker.start()

    def _tick(self) -> None:
        while not self.stop.wait(self.TICK):
            if time.monotonic() - self.last_draw >= self.TICK:
                self.draw()

    def handle(self, event) -> None:
        now = time.monotonic()
        if now - self.last_draw >= self.DRAW_EVERY and now - self.shown >= self.FIRST_DRAW:
            self.draw()

    def _set(self, widget, name: str, value, *, force: bool) -> None:
        if getattr(widget, name) != value and (force or self.messages.take()):
            setattr(widget, name, value)

    def draw(self, force: bool = False) -> None:
        if not self.lock.acquire(blocking=force):
            return
        try:
            if self.stop.is_set() and not force:
                return
            self.last_draw = time.monotonic()
            self._set(self.header, "value", self.header_html(), force=force)
            value, maximum = self.bar_state()
            maximum = max(maximum, 1)
            if (self.bar.max, self.bar.value) != (maximum, min(value, maximum)) and (
                force or self.messages.take()
            ):
                with self.bar.hold_sync():  # one message for both
                    self.bar.max, self.bar.value = maximum, min(value, maximum)
            *quiet, busy = self.panels_html()
            for widget, text in zip(self.panels, quiet, strict=False):
                self._set(widget, "value", text, force=force)
            busy_widget = self.panels[-1]
            if busy != busy_widget.value and (
                force or (self.busy_every.take() and self.busy_bytes.take(len(busy)))
            ):
                self._set(busy_widget, "value", busy, force=force)
        finally:
            self.lock.release()

    def finish(self, error: str | None, summary: str = "") -> None:
        self.stop.set()
        if self.ticker.is_alive():
            self.ticker.join(2)
        with self.lock:  # the last word: no tick may come after it
            for widget, text in zip(self.panels, self.panels_html(), strict=True):
                if widget.value != text:
                    widget.value = text
            value, maximum = self.bar_state()
            maximum = max(maximum, 1)
            with self.bar.hold_sync():  # one message for all three
                self.bar.max = maximum
                if error is None:
                    self.bar.value = maximum
                    self.bar.bar_style = "success"
                    text, color = summary, GREEN
                else:  # red up to where it failed
                    self.bar.value = min(value + 1, maximum)
                    self.bar.bar_style = "danger"
                    text, color = f"ERROR: {error}", RED
            self.header.value = f"<b style='color:{color}'>{html.escape(text)}</b>"


def make_renderer(mode: str, recorder, text_class, widget_class):
    mode = choose_mode(mode)
    if mode == "widget":
        return widget_class(recorder)
    if mode == "plain":
        return text_class(recorder)
    return NullRenderer(recorder)
