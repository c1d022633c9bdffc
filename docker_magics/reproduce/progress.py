"""What a notebook run shows: cell i of N, its first line and its time, as each cell ends
(a line in text, a row in the widgets' table), a bar over the cells, and a note when a cell
has been running for a while."""

from __future__ import annotations

from docker_magics.display import markup
from docker_magics.display.progress import GREEN, RED, ProgressText, WidgetRenderer, make_renderer
from docker_magics.reproduce.result import Cell, NotebookRecorder

SLOW = 5.0  # seconds after which a running cell is named while it runs
ROWS = 12  # cells shown in the widgets' table (the latest)


def _line(cell: Cell, total: int) -> str:
    width = len(str(total))
    number = f"[{cell.number:>{width}}/{total}]"
    if cell.status == "failed":
        error = cell.error.splitlines()[0] if cell.error else ""
        return f"{number} failed after {cell.elapsed():.1f}s: {cell.source}  -> {error}"
    return f"{number} {cell.elapsed():6.1f}s  {cell.source}"


class NotebookText(ProgressText):
    """One line per cell when it ends; a cell still running after ``SLOW`` seconds gets
    a line when it passes that mark."""

    def __init__(self, recorder: NotebookRecorder, out=None, err=None, clock=None) -> None:
        super().__init__(recorder, out, err, clock)
        self.shown: set[tuple[int, str]] = set()  # (cell number, "end" or "slow")
        self.warned = 0
        self.began = False

    def handle(self, event) -> None:
        recorder: NotebookRecorder = self.recorder
        if recorder.kernel and not self.began:
            self.began = True
            self.say(f"Running {recorder.title}: {recorder.total} cells, kernel {recorder.kernel}")
        for text in recorder.warnings[self.warned :]:
            self.say(f"Warning: {text}", self.err)
        self.warned = len(recorder.warnings)
        for cell in recorder.cells:
            if cell.status in ("ok", "failed") and (cell.number, "end") not in self.shown:
                self.shown.add((cell.number, "end"))
                self.say(_line(cell, recorder.total), self.err if cell.status == "failed" else None)

    def flush(self) -> None:
        with self.lock:
            cell = self.recorder.running
            slow = cell is not None and cell.elapsed() >= SLOW
            if slow and (cell.number, "slow") not in self.shown:
                self.shown.add((cell.number, "slow"))
                self.say(f"[{cell.number}/{self.recorder.total}] running…  {cell.source}")
            super().flush()


class NotebookWidgets(WidgetRenderer):
    """A header (the notebook, the cell running and its time), a bar over the cells, and
    a table of the latest cells."""

    def header_html(self) -> str:
        recorder: NotebookRecorder = self.recorder
        cell = recorder.running
        now = f" — cell {cell.number} of {recorder.total}, {cell.elapsed():.0f}s" if cell else ""
        return (
            f"<b>{markup.text(recorder.title)}</b>{markup.text(now)} "
            f"<span style='color:#57606a'>({recorder.elapsed():.0f}s)</span>"
        )

    def bar_state(self) -> tuple[int, int]:
        return self.recorder.done, max(self.recorder.total, 1)

    def panels_html(self) -> list[str]:
        cells = [c for c in self.recorder.cells if c.status not in ("pending", "not run")]
        colors = {"ok": GREEN, "failed": RED, "running": "#0969da"}
        rows = "".join(
            f"<tr><td style='text-align:right'>{c.number}</td>"
            f"<td style='color:{colors.get(c.status, '#57606a')}'>{c.status}</td>"
            f"<td style='text-align:right'>{c.elapsed():.1f}s</td>"
            f"<td><code>{markup.text(c.source)}</code>"
            f"{'<br>' + markup.text(c.error) if c.error else ''}</td></tr>"
            for c in cells[-ROWS:]
        )
        return [f"<table style='font-size:12px'>{rows}</table>" if rows else ""]


def notebook_renderer(mode: str, recorder: NotebookRecorder):
    return make_renderer(mode, recorder, NotebookText, NotebookWidgets)
