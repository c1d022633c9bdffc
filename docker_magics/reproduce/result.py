"""What a notebook run leaves behind: a recorder folding the runner's events (``inside.py``)
into each cell's state, for the progress views, and the ``NotebookResult`` value."""

from __future__ import annotations

import json
import os
import time
from collections import deque
from dataclasses import dataclass, field

from docker_magics.display import markup
from docker_magics.display.logstore import TAIL, LogStore
from docker_magics.display.once import SaidOnce
from docker_magics.engine import events as ev

MARK = "\x1e"


@dataclass
class Cell:
    """One code cell of the run: its number among the cells run (1..N), its index in the
    executed notebook, its first line, and how it went."""

    number: int
    index: int
    source: str
    status: str = "pending"  # pending | running | ok | failed | not run
    seconds: float | None = None
    started: float = field(default_factory=time.monotonic, repr=False)
    error: str = ""  # "ZeroDivisionError: division by zero"

    def elapsed(self) -> float:
        return self.seconds if self.seconds is not None else time.monotonic() - self.started


class NotebookRecorder:
    """Folds the runner's JSON lines into ``cells`` (the cells to run, as the notebook sent
    has them); any other output is kept as its log."""

    def __init__(self, title: str, cells: list[Cell]) -> None:
        self.title = title
        self.started = time.monotonic()
        self.kernel = ""
        self.cells = cells
        self.running: Cell | None = None
        self.failure: dict | None = None  # the "failed" event
        self.fatal: dict | None = None  # the "fatal" event (nothing could run)
        self.warnings: list[str] = []
        self.log = LogStore()  # the runner's other output (stderr: kernel messages...)
        self.tail: deque[str] = deque(maxlen=TAIL)
        self.version = 0

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def total(self) -> int:
        return len(self.cells)

    @property
    def done(self) -> int:
        return sum(1 for c in self.cells if c.status == "ok")

    def _cell(self, event: dict) -> Cell:
        number = int(event["number"])
        if not 1 <= number <= len(self.cells):  # the runner counted otherwise: trust it
            self.cells += [Cell(n, -1, "") for n in range(len(self.cells) + 1, number + 1)]
        return self.cells[number - 1]

    def finish(self) -> None:
        """Cells that never started did not run."""
        for cell in self.cells:
            if cell.status in ("pending", "running"):
                cell.status = "not run"

    def handle(self, event) -> None:
        if not isinstance(event, ev.Log):
            return
        for line in event.lines:
            if line.startswith(MARK):
                try:
                    self._event(json.loads(line[1:]))
                    continue
                except (ValueError, KeyError, TypeError):
                    pass
            self.log.append(line)
            self.tail.append(line)

    def _event(self, event: dict) -> None:
        self.version += 1
        kind = event["event"]
        if kind == "begin":
            self.kernel = str(event["kernel"])
        elif kind == "cell":
            cell = self.running = self._cell(event)
            cell.index, cell.source = int(event["index"]), str(event["source"])
            cell.status, cell.started = "running", time.monotonic()
        elif kind in ("done", "failed"):
            cell = self._cell(event)
            self.running = None
            cell.seconds = float(event["seconds"])
            cell.status = "ok" if kind == "done" else "failed"
            if kind == "failed":
                self.failure = event
                cell.error = f"{event['ename']}: {event['evalue']}".rstrip(": ")
        elif kind == "warning":
            self.warnings.append(str(event["text"]))
        elif kind == "fatal":
            self.fatal = event


def _shown(path: str) -> str:
    """Relative to the working folder when it is inside it."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


@dataclass
class NotebookResult(SaidOnce):
    """The value of ``%docker_run_notebook`` / ``docker_magics.run_notebook()``."""

    notebook: str  # the input
    output: str | None  # the executed copy (None if none could be written)
    image: str
    parameters: dict = field(default_factory=dict)
    cells: list[Cell] = field(default_factory=list)  # every cell to run, in order
    duration: float = 0.0
    status: str = "ok"  # ok | failed | interrupted
    error: str | None = None  # the one line, when it failed
    files: list[str] = field(default_factory=list)  # copied out with get=

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def failed_cell(self) -> Cell | None:
        return next((c for c in self.cells if c.status == "failed"), None)

    def read(self):
        """The executed notebook (``nbformat`` if installed, else the JSON as dicts)."""
        if self.output is None:
            return None
        try:
            import nbformat
        except ImportError:
            with open(self.output, encoding="utf-8") as f:
                return json.load(f)
        return nbformat.read(self.output, as_version=4)

    def summary(self) -> str:
        ran = sum(1 for c in self.cells if c.status in ("ok", "failed"))
        where = f"; executed copy: {_shown(self.output)}" if self.output else ""
        notebook = _shown(self.notebook)
        if self.ok:
            return (
                f"Ran {notebook} in {self.image}: {ran} cell{'s' if ran != 1 else ''} in "
                f"{self.duration:.1f}s{where}"
            )
        return f"{notebook} {self.status} in {self.image} after {self.duration:.1f}s{where}"

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        color = "#1a7f37" if self.ok else "#cf222e"
        rows = "".join(
            f"<tr><td>{c.number}</td><td>{markup.text(c.status)}</td>"
            f"<td>{'' if c.seconds is None else f'{c.seconds:.1f}s'}</td>"
            f"<td><code>{markup.text(c.source)}</code>"
            f"{'<br>' + markup.text(c.error) if c.error else ''}</td></tr>"
            for c in self.cells
        )
        table = (
            f"<table><tr><th>cell</th><th>status</th><th>time</th><th>code</th></tr>{rows}</table>"
            if rows
            else ""
        )
        return f"<b style='color:{color}'>{markup.text(self.summary())}</b>{table}"
