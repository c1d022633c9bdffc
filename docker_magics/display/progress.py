"""Progress rendering machinery: ipywidgets in a notebook frontend, plain text elsewhere.

One protocol for every operation: ``start()``, ``handle(event)`` while the work runs,
``finish(error, ...)`` at the end. Renderers read the shared state from the operation's
recorder; what to show for a build, a push/pull or a run lives beside each feature
(``builds/progress.py``, ``registry/progress.py``, ``runs/progress.py``), and the size budget
every view spends in :mod:`.budget`.

Never imports docker.
"""

from __future__ import annotations

import contextvars
import math
import os
import sys
import threading
import time
from collections import deque
from typing import TextIO

from docker_magics.display import markup
from docker_magics.display.budget import ENVELOPE, ByteBudget, MessageWindow, message_size
from docker_magics.display.record import Record, bar_html
from docker_magics.errors import usage

MODES = ("auto", "widget", "plain", "none")
LINE_WIDTH = 240  # characters of a log line shown (the log keeps it whole)
GREEN, RED = "#1a7f37", "#cf222e"


def choose_mode(mode: str) -> tuple[str, str | None]:
    """The mode to use, and why it is not the one asked for (None when it is).

    ``auto``: widgets when a notebook frontend that renders them runs this kernel (a kernel
    started by a Jupyter server, or VS Code), plain text elsewhere (terminal IPython,
    nbconvert/nbclient, CI). ``widget`` without a kernel (terminal IPython, plain Python)
    would print the widgets' repr: plain text then, and a line saying why."""
    if mode not in ("auto", "widget"):
        return mode, None
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        shell = None
    else:
        shell = get_ipython()
    in_kernel = shell is not None and getattr(shell, "kernel", None) is not None
    asked = usage("--progress", "widget")
    if mode == "widget" and not in_kernel:
        return "plain", f"{asked} needs a notebook (Jupyter kernel): showing plain text"
    frontend = bool(os.environ.get("JPY_SESSION_NAME") or os.environ.get("VSCODE_PID"))
    if mode == "widget" or (in_kernel and frontend):
        try:
            import ipywidgets  # noqa: F401
        except ImportError:
            why = "ipywidgets is not installed: showing plain text"
            return "plain", (f"{asked}: {why}" if mode == "widget" else None)
        return "widget", None
    return "plain", None


def cut(text: str, width: int = LINE_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def lines_word(n: int) -> str:
    return f"{n:,} more line{'' if n == 1 else 's'}"


def _ticker(target, name: str) -> threading.Thread:
    """A daemon thread running ``target`` in the caller's context, so that what it displays
    goes to the cell that started it."""
    context = contextvars.copy_context()
    return threading.Thread(target=context.run, args=(target,), daemon=True, name=name)


def ending(recorder, interrupted: bool) -> str:
    """How a view says that the work failed; what went wrong is the error's line."""
    word = "Interrupted" if interrupted else "FAILED"
    return f"{word} after {recorder.elapsed():.1f}s"


class NullRenderer:
    shows = False  # whether it shows the summary (then the result need not say it again)
    interrupted = False  # set by the driver before ``finish`` when the user stopped the work
    finished = False  # set at the start of ``finish``: views may show more in the end

    def __init__(self, recorder) -> None:
        self.recorder = recorder

    def start(self) -> None:
        pass

    def handle(self, event) -> None:
        pass

    def finish(self, error: str | None, summary: str = "") -> None:
        pass


class ProgressText(NullRenderer):
    """Plain lines on stdout (stderr for what the engine marked as such, and failures),
    within the message and byte budgets (see the module's docstring).

    Subclasses call ``say(text)`` for lines that must show (in order), ``log(lines)`` for
    output that may be sampled, and ``end_step()`` where a step's output ends. Lines wait in
    a queue and are written in groups, at most every ``TICK`` seconds: by ``say`` if the
    last write is that old, else by the ticker (which also writes while the engine is
    silent), and by ``finish()``.
    """

    shows = True
    TICK = 0.25
    LIVE_MESSAGES = 5
    BURST, RATE, TAU = 8000, 2200, 3.0
    STEP_BONUS = 1500
    KEEP = 50  # latest log lines kept for the next sample
    BATCH = 5  # log lines worth a message of their own (its envelope costs ~8 lines)
    SAMPLE = 10  # at most this many of the latest lines when some are skipped
    END_LINES = 5  # a step's last lines, shown when it ends if some of its lines were skipped

    def __init__(self, recorder, out=None, err=None, clock=None) -> None:
        super().__init__(recorder)
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.clock = clock = clock or time.monotonic
        self.window = MessageWindow(self.LIVE_MESSAGES, clock=clock)
        self.budget = ByteBudget(self.BURST, self.RATE, self.TAU, clock)
        self.lock = threading.RLock()
        self.queue: list[tuple[TextIO, str]] = []  # (stream, line), to be written in order
        self.recent: deque[tuple[TextIO, str]] = deque(maxlen=self.KEEP)
        self.unseen = 0  # log lines received and not written (the recent ones included)
        self.skipped_total = 0
        self.step_skipped = 0  # lines of the current step not written
        self.last_write = -math.inf
        self.stop = threading.Event()
        self.ticker = _ticker(self._tick, "docker-magics-text")
        self.note: str | None = None  # why this is not the mode asked for, said first

    # For subclasses.
    def say(self, text: str, stream=None) -> None:
        with self.lock:
            self._settle(close=True)  # the log so far goes before this line, or is skipped
            self.queue.append((stream or self.out, text))
            if self.clock() - self.last_write >= self.TICK:  # else the ticker writes it
                self._write(force=False)

    def log(self, lines: list[str], stream=None) -> None:
        with self.lock:
            stream = stream or self.out
            self.recent.extend((stream, line) for line in lines[-self.KEEP :])
            self.unseen += len(lines)

    def end_step(self) -> None:
        """The output of a step ended: its last lines show even if the budget is spent."""
        with self.lock:
            self._settle(close=True, ending=True)
            self.step_skipped = 0

    def earn(self, n: float | None = None) -> None:
        self.budget.earn(self.STEP_BONUS if n is None else n)

    # Machinery.
    def start(self) -> None:
        if self.note:
            self.say(self.note)
        self.ticker.start()

    def _tick(self) -> None:
        while not self.stop.wait(self.TICK):
            with self.lock:
                if self.stop.is_set():
                    return
                self.flush()

    def flush(self) -> None:
        """Write what is queued, and a sample of the log if it is worth a message."""
        with self.lock:
            if self.unseen and not self.queue:
                batch = sum(len(cut(t).encode()) + 1 for _, t in list(self.recent)[-self.BATCH :])
                if self.budget.available() >= ENVELOPE + batch:
                    self._settle()
            self._write(force=False)

    def _settle(self, *, close: bool = False, ending: bool = False) -> None:
        """Choose which of the log lines received since the last choice are written: the
        latest ones, as many as the bytes left allow (at a step's end at least
        ``END_LINES``); a note says how many were skipped. ``close``: the lines not chosen
        are skipped now (something else is written after them)."""
        if not self.unseen:
            return
        recent = list(self.recent)
        left = self.budget.available() - sum(len(t.encode()) + 1 for _, t in self.queue)
        left -= ENVELOPE + 80  # this write's envelope, and the note
        shown = cost = 0
        for _, text in reversed(recent):
            cost += len(cut(text).encode()) + 1
            if cost > left:
                break
            shown += 1
        if shown < self.unseen:  # a sample: a few lines, the budget lasts longer
            shown = min(shown, self.SAMPLE)
            if shown < self.END_LINES and not (close or ending):
                # Not worth a message, and the step's last lines may be among these: a
                # sample of 4 just before the step ends would leave fewer than END_LINES.
                return
        if ending and (self.step_skipped or shown < self.unseen):
            shown = max(shown, min(self.END_LINES, len(recent)))
        if not shown and not close:
            return
        skipped = self.unseen - shown
        if skipped:
            self.queue.append((self.out, f"    … {lines_word(skipped)} (all in the result's log)"))
            self.skipped_total += skipped
            self.step_skipped += skipped
        if shown:
            self.queue.extend((s, cut(t)) for s, t in recent[-shown:])
        self.recent.clear()
        self.unseen = 0

    def _write(self, force: bool) -> None:
        """Write the queue, one write per run of lines to the same stream, while the
        message window has room (``force``: all of it, counted all the same)."""
        while self.queue:
            if not force and not self.window.room():
                return
            stream = self.queue[0][0]
            n = 1
            while n < len(self.queue) and self.queue[n][0] is stream:
                n += 1
            text = "\n".join(t for _, t in self.queue[:n]) + "\n"
            del self.queue[:n]
            stream.write(text)  # one write: one stream message at most
            self.last_write = self.clock()
            self.window.record()
            self.budget.charge(ENVELOPE + len(text.encode()))

    def _stop(self) -> None:
        self.stop.set()
        if self.ticker.is_alive() and self.ticker is not threading.current_thread():
            self.ticker.join(2)

    def skip_unseen(self) -> None:
        """Skip the log lines not chosen yet, with a note (under the lock)."""
        if self.unseen:
            self.queue.append(
                (self.out, f"    … {lines_word(self.unseen)} (all in the result's log)")
            )
            self.skipped_total += self.unseen
            self.recent.clear()
            self.unseen = 0

    def final_lines(self, error: str | None, summary: str) -> None:
        """Queue the closing lines (under the lock): the end of the log, then a summary or
        the failure."""
        self._settle(close=True, ending=True)
        if error is None:
            if summary:
                self.queue.append((self.out, summary))
        else:
            self.queue.append((self.err, ending(self.recorder, self.interrupted)))

    def finish(self, error: str | None, summary: str = "") -> None:
        self._stop()
        with self.lock:
            self.final_lines(error, summary)
            self._write(force=True)


class WidgetRenderer(NullRenderer):
    """A header, a bar, and HTML panels, redrawn within the message and byte budgets (see
    the module's docstring), by a ticker thread every ``TICK`` seconds.

    Few widgets on purpose, sharing one layout and one style: each model costs a
    ``comm_open`` of ~1.3 KB, and every update carries a ~650-byte envelope. Subclasses say
    what to show: ``header_html()``, ``bar_state()`` -> (value, max), ``panels_html()`` -> one
    string per panel (``panels_text()``: lines for the record's text). The bar and all panels
    but the busy one (``BUSY``: the last by default) change on transitions and go first; the
    header (elapsed time) and the busy panel (the log, the layer table) change all the time
    and take turns, the one waiting longest first. At the end, a static record of the last
    state takes the widgets' place (:mod:`.record`).
    """

    shows = True
    BUSY = -1  # the panel that changes all the time (the log, the layer table)
    TICK = 0.25
    FIRST_DRAW = 0.5  # work done sooner than this needs no live updates, only the final one
    LIVE_MESSAGES = 5
    BURST, RATE, TAU = 6000, 1900, 3.0
    STEP_BONUS = 3000

    def __init__(self, recorder, clock=None) -> None:
        super().__init__(recorder)
        import ipywidgets as w

        self.clock = clock = clock or time.monotonic
        layout = w.Layout(width="100%")
        # Created with their first content: no update message before the first redraw.
        value, maximum = self._bar()
        self.header = w.HTML(self.header_html(), layout=layout)
        style = self.header.style
        self.bar = w.IntProgress(
            value=value, min=0, max=maximum, bar_style="info", layout=layout
        )  # fmt: skip
        self.panels = [w.HTML(text, layout=layout, style=style) for text in self.panels_html()]
        self.box = w.VBox(
            [self.header, self.bar, *self.panels],
            layout=layout,
            _dom_classes=("docker-magics-progress",),
        )
        self.window = MessageWindow(self.LIVE_MESSAGES, clock=clock)
        self.budget = ByteBudget(self.BURST, self.RATE, self.TAU, clock)
        self.sent_at = {id(x): 0.0 for x in (self.header, self.bar, *self.panels)}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.ticker = _ticker(self._tick, "docker-magics-tick")

    # What to show: subclasses.
    def header_html(self) -> str:
        raise NotImplementedError

    def bar_state(self) -> tuple[int, int]:
        raise NotImplementedError

    def panels_html(self) -> list[str]:
        raise NotImplementedError

    def earn(self, n: float | None = None) -> None:
        self.budget.earn(self.STEP_BONUS if n is None else n)

    def _bar(self) -> tuple[int, int]:
        value, maximum = self.bar_state()
        maximum = max(maximum, 1)
        return max(0, min(value, maximum)), maximum

    def start(self) -> None:
        from IPython.display import display

        # The record of the end replaces what is displayed here (see ``finish``).
        self.display_handle = display(self.box, display_id=True)
        self.window.record()
        self.shown = self.clock()
        self.ticker.start()

    def _tick(self) -> None:
        while not self.stop.wait(self.TICK):
            if self.clock() - self.shown >= self.FIRST_DRAW:
                self.draw()

    def changes(self) -> list[tuple[object, dict]]:
        """What differs from what the frontend has, in the order it should go."""
        structural: list[tuple[object, dict]] = []
        live: list[tuple[object, dict]] = []
        value, maximum = self._bar()
        if (self.bar.max, self.bar.value) != (maximum, value):
            structural.append((self.bar, {"max": maximum, "value": value}))
        texts = self.panels_html()
        busy = self.BUSY % len(texts)
        for i, (widget, text) in enumerate(zip(self.panels, texts, strict=True)):
            if i != busy and widget.value != text:
                structural.append((widget, {"value": text}))
        header = self.header_html()
        if header != self.header.value:
            live.append((self.header, {"value": header}))
        if texts[busy] != self.panels[busy].value:
            live.append((self.panels[busy], {"value": texts[busy]}))
        live.sort(key=lambda change: self.sent_at[id(change[0])])
        return structural + live

    def _send(self, widget, state: dict) -> None:
        with widget.hold_sync():  # one message for all of its traits
            for name, value in state.items():
                setattr(widget, name, value)
        self.sent_at[id(widget)] = self.clock()

    def draw(self) -> None:
        """Send what changed, in order, while both budgets allow; what does not fit waits
        (nothing cheaper overtakes it, so every part gets its turn)."""
        with self.lock:
            if self.stop.is_set():
                return
            for widget, state in self.changes():
                if not self.window.room() or not self.budget.spend(message_size(state)):
                    return
                self._send(widget, state)
                self.window.record()

    def panels_text(self) -> list[str]:
        """The panels as lines of text, for the record's ``text/plain`` (subclasses)."""
        return []

    def finish(self, error: str | None, summary: str = "") -> None:
        """Put the record of the end in place of the widgets (one message): the summary in
        green, or in red how long it ran before it failed; the error itself is the cell's
        error line, shown once, below."""
        self.stop.set()
        if self.ticker.is_alive():
            self.ticker.join(2)
        with self.lock:  # the last word: no tick may come after it
            self.finished = True
            value, maximum = self._bar()
            if error is None:
                value, style, text, color = maximum, "success", summary, GREEN
            else:  # red up to where it failed
                value, style, color = min(value + 1, maximum), "danger", RED
                text = ending(self.recorder, self.interrupted)
            panels = self.panels_html()
            record = Record(
                f"<b style='color:{color}'>{markup.text(text)}</b>",
                bar_html(value, maximum, style),
                panels,
                "\n".join([text, *self.panels_text()]),
            )
            handle = getattr(self, "display_handle", None)
            if handle is not None:
                handle.update(record)
                self.window.record()
                self.budget.charge(message_size(record._repr_html_() + record.text))


def make_renderer(mode: str, recorder, text_class, widget_class):
    mode, note = choose_mode(mode)
    if mode == "widget":
        return widget_class(recorder)
    if mode == "plain":
        renderer = text_class(recorder)
        renderer.note = note
        return renderer
    return NullRenderer(recorder)
