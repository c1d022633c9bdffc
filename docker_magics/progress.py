"""Progress renderers: ipywidgets in a notebook frontend, plain text elsewhere. One protocol:
``handle(event)`` while the work runs, ``finish(error)`` at the end; both read the shared
state from a :class:`~docker_magics.results.BuildRecorder`.

Output is bounded whatever the engine sends: a step printing 200,000 lines must not flood the
notebook or trip Jupyter's IOPub limits (1000 msgs/s, 1 MB/s), so

- the text renderer prints at most ~20 log lines per second and says how many it skipped;
- the widget renderer redraws at most ~5 times a second, spends at most 10 widget messages
  per second and about 3 KB per second on the log view, and shows only the last lines.

The full log always stays in the result. Never imports docker.
"""

from __future__ import annotations

import html
import os
import sys
import threading
import time

from . import events as ev
from .results import BuildRecorder
from .tables import human_size

MODES = ("auto", "widget", "plain", "none")
LINE_WIDTH = 240  # characters of a log line shown (the log keeps it whole)


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


def make_renderer(mode: str, recorder: BuildRecorder):
    mode = choose_mode(mode)
    if mode == "widget":
        return WidgetRenderer(recorder)
    if mode == "plain":
        return TextRenderer(recorder)
    return NullRenderer(recorder)


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


def _cut(text: str, width: int = LINE_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


class NullRenderer:
    def __init__(self, recorder: BuildRecorder) -> None:
        self.recorder = recorder

    def start(self) -> None:
        pass

    def handle(self, event: ev.Event) -> None:
        pass

    def finish(self, error: str | None, size: int | None = None) -> None:
        pass


class TextRenderer(NullRenderer):
    """Plain lines, like ``docker build --progress=plain``; stderr lines go to stderr."""

    def __init__(self, recorder: BuildRecorder, out=None, err=None) -> None:
        super().__init__(recorder)
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.lines = TokenBucket(rate=20, burst=40)
        self.hidden = 0
        self.skipped_total = 0
        self.layer_status: dict[str, str] = {}
        self.notices_shown: set[str] = set()

    def _print(self, text: str, stream=None) -> None:
        print(text, file=stream or self.out)

    def _note_hidden(self) -> None:
        self.skipped_total += self.hidden
        if self.hidden:
            self._print(f"    … {self.hidden:,} more lines (all in the result's log)")
            self.hidden = 0

    def start(self) -> None:
        r = self.recorder
        n = r.expected_total
        steps = f" ({n} step{'s' if n != 1 else ''})" if n else ""
        self._print(f"Building {r.title} from {r.context}{steps}")

    def handle(self, event: ev.Event) -> None:
        if isinstance(event, ev.Log):
            shown = self.lines.take_up_to(len(event.lines))
            if shown:
                self._note_hidden()
                stream = self.err if event.stream == "stderr" else self.out
                self._print("\n".join(_cut(line) for line in event.lines[:shown]), stream)
            self.hidden += len(event.lines) - shown
            return
        if isinstance(event, ev.StepStarted):
            self._note_hidden()
            if event.number and event.total:
                self._print(f"Step {event.number}/{event.total} : {event.name}")
            else:
                self._print(event.name)
        elif isinstance(event, ev.StepCached):
            self._print(" ---> Using cache")
        elif isinstance(event, ev.StepFinished):
            step = self.recorder.steps.get(event.key)
            if step is not None and step.status == "done" and (step.duration or 0) >= 0.05:
                self._note_hidden()
                self._print(f" ---> done in {step.duration:.1f}s")
        elif isinstance(event, ev.Notice):
            if event.text not in self.notices_shown:
                self.notices_shown.add(event.text)
                self._print(f"[Warning] {event.text}")
        elif isinstance(event, ev.LayerProgress):
            if self.layer_status.get(event.layer) != event.status:
                self.layer_status[event.layer] = event.status
                prefix = f"{event.layer}: " if event.layer else ""
                self._print(f"{prefix}{event.status}")

    def finish(self, error: str | None, size: int | None = None) -> None:
        self._note_hidden()
        r = self.recorder
        if error is None:
            tags = ", ".join(r.tags) or "no tag"
            short = (r.image_id or "").split(":")[-1][:12]
            size_text = f", {human_size(size)}" if size is not None else ""
            self._print(f"Built {short} ({tags}){size_text} in {r.elapsed():.1f}s")
        else:
            step = r.current
            if self.skipped_total and step is not None and step.tail:
                # Lines were skipped to keep the output bounded: show how the step ended.
                self._print(f"--- the last {len(step.tail)} lines of step {step.label} ---")
                for stream, text in step.tail:
                    self._print(_cut(text), self.err if stream == "stderr" else self.out)
            self._print(f"FAILED after {r.elapsed():.1f}s", self.err)


class WidgetRenderer(NullRenderer):
    """A header (image, step N/M, instruction, elapsed; the summary at the end), a bar over
    steps, the steps with status and time, and the last log lines; green on success, red on
    failure.

    Few widgets on purpose: each costs comm messages to create (with its layout and style
    models), and every update carries a ~500-byte envelope.
    """

    DRAW_EVERY = 0.2  # seconds between redraws, at most
    TICK = 0.5  # redraw at least this often (elapsed time moves during silent steps)
    SHOWN_STEPS = 8
    SHOWN_LINES = 12

    def __init__(self, recorder: BuildRecorder) -> None:
        super().__init__(recorder)
        import ipywidgets as w

        self.header = w.HTML()
        self.bar = w.IntProgress(
            value=0,
            min=0,
            max=max(recorder.expected_total or 1, 1),
            bar_style="info",
            layout=w.Layout(width="100%"),
        )
        self.steps = w.HTML()  # changes only when a step starts or ends
        self.log = w.HTML()  # the last lines, within a byte budget
        self.box = w.VBox([self.header, self.bar, self.steps, self.log])
        self.box.add_class("docker-magics-progress")
        self.messages = TokenBucket(rate=10, burst=10)  # widget updates, all widgets
        self.log_bytes = TokenBucket(rate=1500, burst=4000)
        self.log_every = TokenBucket(rate=1, burst=1)
        self.lock = threading.Lock()
        self.last_draw = 0.0
        self.stop = threading.Event()
        self.ticker = threading.Thread(target=self._tick, daemon=True, name="docker-magics-tick")

    def start(self) -> None:
        from IPython.display import display

        self.draw(force=True)
        display(self.box)
        self.ticker.start()

    def _tick(self) -> None:
        while not self.stop.wait(self.TICK):
            if time.monotonic() - self.last_draw >= self.TICK:
                self.draw()

    def handle(self, event: ev.Event) -> None:
        if time.monotonic() - self.last_draw >= self.DRAW_EVERY:
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
            r = self.recorder
            total = r.total or max(len(r.steps), 1)
            self._set(self.header, "value", self._header_html(), force=force)
            self._set(self.bar, "max", total, force=force)
            self._set(self.bar, "value", min(r.done_count, total), force=force)
            self._set(self.steps, "value", self._steps_html(), force=force)
            log_html = self._log_html()
            if log_html != self.log.value and (
                force or (self.log_every.take() and self.log_bytes.take(len(log_html)))
            ):
                self._set(self.log, "value", log_html, force=force)
        finally:
            self.lock.release()

    def _header_html(self) -> str:
        r = self.recorder
        step = r.current
        where = f"step {step.number}/{step.total}: " if step and step.number else ""
        doing = html.escape(_cut(step.name, 100)) if step else "sending the context"
        return (
            f"<b>Building {html.escape(r.title)}</b> &nbsp; {where}<code>{doing}</code> "
            f"&nbsp; <span style='opacity:.7'>{r.elapsed():.1f}s</span>"
        )

    def _steps_html(self) -> str:
        steps = list(self.recorder.steps.values())
        hidden = len(steps) - self.SHOWN_STEPS
        rows = []
        if hidden > 0:
            rows.append(f"<tr><td colspan=3 style='opacity:.7'>… {hidden} earlier steps</td></tr>")
            steps = steps[-self.SHOWN_STEPS :]
        colors = {"done": "#1a7f37", "cached": "#57606a", "failed": "#cf222e",
                  "running": "#0969da"}  # fmt: skip
        for s in steps:
            # A running step's time is in the header: this table changes only on transitions.
            took = f"{s.duration:.1f}s" if s.status in ("done", "failed") and s.duration else ""
            rows.append(
                f"<tr><td style='color:{colors[s.status]};padding-right:1em'>{s.status}</td>"
                f"<td style='text-align:right;padding-right:1em'>{took}</td>"
                f"<td style='text-align:left'><code>{html.escape(_cut(s.label, 120))}</code>"
                "</td></tr>"
            )
        return f"<table style='font-size:90%'>{''.join(rows)}</table>"

    def _log_html(self) -> str:
        lines = list(self.recorder.tail)[-self.SHOWN_LINES :]
        if not lines:
            return ""
        body = "\n".join(
            f"<span style='color:#cf222e'>{html.escape(_cut(t, 160))}</span>"
            if s == "stderr" else html.escape(_cut(t, 160))
            for s, t in lines
        )  # fmt: skip
        return (
            "<pre style='margin:0;max-height:16em;overflow:auto;font-size:85%;"
            f"background:rgba(128,128,128,.08);padding:4px'>{body}</pre>"
        )

    def finish(self, error: str | None, size: int | None = None) -> None:
        self.stop.set()
        if self.ticker.is_alive():
            self.ticker.join(2)
        r = self.recorder
        with self.lock:  # the last word: no tick may come after it
            self.steps.value = self._steps_html()
            self.log.value = self._log_html()
            if error is None:
                tags = ", ".join(r.tags) or "no tag"
                short = (r.image_id or "").split(":")[-1][:12]
                size_text = f", {human_size(size)}" if size is not None else ""
                text = f"Built {short} ({tags}){size_text} in {r.elapsed():.1f}s"
                self.bar.value = self.bar.max
                self.bar.bar_style = "success"
                color = "#1a7f37"
            else:
                text, color = f"ERROR: {error}", "#cf222e"
                self.bar.bar_style = "danger"
            self.header.value = f"<b style='color:{color}'>{html.escape(text)}</b>"
