"""What a run leaves behind: its output (kept whole, spilled to temp files when large), the
exit code and timing, and the ``RunResult`` value with text and HTML reprs."""

from __future__ import annotations

import shlex
import time
from collections import deque
from dataclasses import dataclass, field

from docker_magics.display import markup
from docker_magics.display.logstore import TAIL, LogStore, StreamTexts, TextStore
from docker_magics.display.once import SaidOnce
from docker_magics.engine import events as ev


class RunRecorder:
    def __init__(self, title: str) -> None:
        self.title = title
        self.started = time.monotonic()
        self.output = LogStore()  # the lines shown, stdout and stderr as they arrived
        self.stdout = TextStore()  # exactly what the container wrote
        self.stderr = TextStore()
        self.tail: deque[tuple[str, str]] = deque(maxlen=TAIL)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def handle(self, event: ev.Event) -> None:
        if isinstance(event, ev.Log):
            self.output.extend(event.lines)
            (self.stderr if event.stream == "stderr" else self.stdout).write(event.raw)
            self.tail.extend((event.stream, line) for line in event.lines[-TAIL:])


@dataclass
class RunResult(SaidOnce, StreamTexts):
    """The value of ``%docker_run`` / ``%%docker_run``."""

    image: str
    command: list[str] | None
    exit_code: int | None  # None while a detached container runs
    duration: float
    container_id: str | None  # kept containers only (detached, or --rm=false)
    name: str | None = None
    output: LogStore = field(default_factory=LogStore, repr=False)
    stdout_log: TextStore = field(default_factory=TextStore, repr=False)
    stderr_log: TextStore = field(default_factory=TextStore, repr=False)
    files: list[str] = field(default_factory=list)  # copied out with --get
    script: str | None = None  # the interpreter of a %%docker_run cell

    @property
    def ok(self) -> bool:
        return self.exit_code in (0, None)

    def summary(self) -> str:
        if self.script:
            what = f"a {self.script} cell in {self.image}"
        else:
            what = self.image + (f" {shlex.join(self.command)}" if self.command else "")
        if len(what) > 80:
            what = what[:79] + "…"
        if self.exit_code is None:  # detached: its container is kept
            return f"Started {(self.container_id or '')[:12]} ({self.name}) from {what}"
        kept = f", container {self.container_id[:12]} kept" if self.container_id else ""
        files = f", copied out {', '.join(self.files)}" if self.files else ""
        n = self.output.count
        return (
            f"Exited with code {self.exit_code} in {self.duration:.1f}s: {what} "
            f"({n:,} line{'' if n == 1 else 's'} of output{kept}{files})"
        )

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        color = "#1a7f37" if self.ok else "#cf222e"
        return f"<b style='color:{color}'>{markup.text(self.summary())}</b>"


@dataclass
class ContainerLog(SaidOnce, StreamTexts):
    """The value of ``%docker_logs`` (and of ``docker_magics.logs()``): a container's output,
    whole. ``text()`` is all of it as shown (both streams, as they came); ``stdout`` and
    ``stderr`` each stream exactly as written; ``lines()`` the lines. Shown again (its last
    lines) anywhere but the cell that printed it."""

    container: str
    output: LogStore = field(default_factory=LogStore, repr=False)
    stdout_log: TextStore = field(default_factory=TextStore, repr=False)
    stderr_log: TextStore = field(default_factory=TextStore, repr=False)

    SHOWN = 20  # lines shown by its repr: the rest is a call away

    def text(self) -> str:
        return self.output.text()

    def lines(self) -> list[str]:
        return self.text().splitlines()

    @property
    def count(self) -> int:
        return self.output.count

    def __len__(self) -> int:
        return self.count

    def __str__(self) -> str:
        return self.text()

    def _shown(self) -> tuple[str, list[str]]:
        lines = self.lines()
        earlier = len(lines) - self.SHOWN
        note = f"… {earlier:,} earlier line{'' if earlier == 1 else 's'} (.text() has them)"
        head = f"Log of {self.container}: {self.count:,} line{'' if self.count == 1 else 's'}"
        return head, ([note] if earlier > 0 else []) + lines[-self.SHOWN :]

    def __repr__(self) -> str:
        head, lines = self._shown()
        return "\n".join([head, *lines])

    def _repr_html_(self) -> str:
        head, lines = self._shown()
        body = markup.text("\n".join(lines))
        return f"<div><b>{markup.text(head)}</b><pre style='margin:0'>{body}</pre></div>"
