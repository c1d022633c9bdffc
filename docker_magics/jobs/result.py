"""What a job leaves behind: each task's values, node, state, exit code, time and own output,
in parameter order, and the ``JobResult`` value (with text and HTML reprs, ``.records()`` for
a data frame). Also the events a backend reports them with."""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from docker_magics.display import markup
from docker_magics.display.logstore import TAIL, StreamTexts, TextStore
from docker_magics.display.once import SaidOnce
from docker_magics.display.tables import counted
from docker_magics.engine import events as ev
from docker_magics.jobs.options import JobSpec, task_label

# A task's states, in the order it goes through them. The first three are live.
LIVE = ("pending", "starting", "running")
ENDED = ("complete", "failed", "rejected", "stopped", "not started", "lost")


@dataclass(frozen=True)
class TaskChanged:
    """A task moved on (as the backend reports it)."""

    index: int
    state: str  # one of LIVE or ENDED
    node: str | None = None
    exit_code: int | None = None
    message: str = ""  # the backend's words (why it waits, why it failed)
    started: float | None = None  # seconds since the epoch, the engine's clock
    finished: float | None = None


@dataclass(frozen=True)
class TaskOutput:
    """A finished task's own output, whole, for the result. What is shown comes as
    ``ev.Log`` events keyed by the task's index (live, or this output once the task ends)."""

    index: int
    lines: list[str]
    stream: str = "stdout"
    raw: str = ""


@dataclass(frozen=True)
class JobNote:
    """Something the user should know while it runs (e.g. tasks put back in the queue)."""

    text: str


@dataclass
class TaskResult(StreamTexts):
    """One task of a job: ``params`` (its values), where it ran, how it ended, its output."""

    index: int
    params: dict[str, Any]
    state: str = "pending"
    node: str | None = None
    exit_code: int | None = None
    message: str = ""
    started: float | None = None
    finished: float | None = None
    output_log: TextStore = field(default_factory=TextStore, repr=False)
    stdout_log: TextStore = field(default_factory=TextStore, repr=False)
    stderr_log: TextStore = field(default_factory=TextStore, repr=False)
    tail: deque = field(default_factory=lambda: deque(maxlen=TAIL), repr=False)

    @property
    def label(self) -> str:
        return task_label(self.params, self.index)

    @property
    def output(self) -> str:
        """Everything the task wrote, stdout and stderr as they came."""
        return self.output_log.text()

    @property
    def ok(self) -> bool:
        return self.state == "complete"

    @property
    def duration(self) -> float | None:
        if self.started is None or self.finished is None:
            return None
        return max(0.0, self.finished - self.started)

    def record(self) -> dict[str, Any]:
        return {
            **self.params,
            "index": self.index,
            "node": self.node,
            "state": self.state,
            "exit_code": self.exit_code,
            "duration": self.duration,
            "output": self.output,
        }

    def last_line(self) -> str:
        """Its last line on stderr (where errors go), else on stdout."""
        lines = [(s, t.strip()) for s, t in self.tail if t.strip()]
        errors = [t for s, t in lines if s == "stderr"]
        return (errors or [t for _, t in lines] or [""])[-1]

    def outcome(self) -> str:
        """``exited 7 on node vm (abc123): its last line``, for error lines."""
        where = f" on node {self.node}" if self.node else ""
        if self.state == "failed" and self.exit_code is not None:
            what = f"exited {self.exit_code}"
        elif self.state == "rejected":
            what = f"could not start ({self.message or 'rejected'})"
        elif self.state == "lost":  # the message says where
            what, where = f"was lost: {self.message}" if self.message else "was lost", ""
        else:
            what = self.state + (f" ({self.message})" if self.message else "")
        last = self.last_line()
        if len(last) > 80:
            last = last[:79] + "…"
        return f"{self.label} {what}{where}" + (f": {last}" if last else "")


class JobRecorder:
    """The job's state as its events come: one ``TaskResult`` per task."""

    def __init__(self, spec: JobSpec, image: str) -> None:
        self.spec = spec
        self.image = image
        self.name = spec.name or ""
        self.started = time.monotonic()
        self.tasks = [TaskResult(i, dict(c)) for i, c in enumerate(spec.combos)]
        self.tail: deque[tuple[str, str]] = deque(maxlen=TAIL)  # (stream, "[task] line")
        self.notes: list[str] = []  # e.g. an output that could not be read

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def handle(self, event) -> None:
        if isinstance(event, TaskChanged):
            task = self.tasks[event.index]
            task.state, task.message = event.state, event.message
            task.node = event.node or task.node
            task.exit_code = event.exit_code if event.exit_code is not None else task.exit_code
            task.started = event.started or task.started
            task.finished = event.finished or task.finished
        elif isinstance(event, TaskOutput):
            task = self.tasks[event.index]
            task.output_log.write(event.raw)
            (task.stderr_log if event.stream == "stderr" else task.stdout_log).write(event.raw)
            task.tail.extend((event.stream, line) for line in event.lines[-TAIL:])
        elif isinstance(event, ev.Log) and event.key is not None:
            label = self.tasks[int(event.key)].label
            self.tail.extend((event.stream, f"[{label}] {line}") for line in event.lines[-TAIL:])
        elif isinstance(event, JobNote):
            self.notes.append(event.text)

    def counts(self) -> Counter:
        return Counter(task.state for task in self.tasks)

    def done(self) -> int:
        return sum(task.state in ENDED for task in self.tasks)

    def stop_live(self, reason: str) -> None:
        """The job was cut short: tasks still waiting or running say so."""
        for task in self.tasks:
            if task.state in ("pending", "starting"):
                task.state, task.message = "not started", reason
            elif task.state == "running":
                task.state, task.message = "stopped", reason


class JobResult(SaidOnce):
    """The value of ``%docker_job`` / ``docker_magics.job()``: ``.tasks`` in parameter
    order (``.params``, ``.node``, ``.state``, ``.exit_code``, ``.output``, ``.duration``),
    ``.outputs`` (each task's output), ``.failed`` (the tasks that did not complete),
    ``.records()`` (one dict per task: ``pandas.DataFrame(job.records())``)."""

    SHOWN = 50  # task rows in the HTML repr

    def __init__(self, recorder: JobRecorder, service: str, duration: float) -> None:
        self.name = recorder.name
        self.service = service  # the Swarm service's ID (removed by now)
        self.image = recorder.image  # as the tasks ran it (resolved to a digest)
        self.command = recorder.spec.command
        self.script = recorder.spec.script
        self.tasks: list[TaskResult] = list(recorder.tasks)
        self.duration = duration
        self.nodes = sorted({t.node for t in self.tasks if t.node})
        self.notes = list(recorder.notes)

    def __len__(self) -> int:
        return len(self.tasks)

    def __iter__(self):
        return iter(self.tasks)

    def __getitem__(self, index: int) -> TaskResult:
        return self.tasks[index]

    @property
    def outputs(self) -> list[str]:
        return [task.output for task in self.tasks]

    @property
    def failed(self) -> list[TaskResult]:
        return [task for task in self.tasks if not task.ok]

    @property
    def ok(self) -> bool:
        return not self.failed

    def records(self) -> list[dict[str, Any]]:
        return [task.record() for task in self.tasks]

    def summary(self) -> str:
        counts = Counter(task.state for task in self.tasks)
        states = ", ".join(f"{n} {state}" for state, n in counts.most_common())
        where = f" on {counted(len(self.nodes), 'node')}" if self.nodes else ""
        return (
            f"Job {self.name}: {counted(len(self.tasks), 'task')}{where} in "
            f"{self.duration:.1f}s: {states}"
        )

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        color = "#1a7f37" if self.ok else "#cf222e"
        names = list(dict.fromkeys(k for t in self.tasks for k in t.params))
        head = "".join(
            f"<th style='text-align:left'>{markup.text(c)}</th>"
            for c in [*names, "node", "state", "exit", "time", "last line"]
        )
        rows = []
        for task in self.tasks[: self.SHOWN]:
            last = task.last_line()
            cells = [str(task.params.get(n, "")) for n in names] + [
                task.node or "",
                task.state,
                "" if task.exit_code is None else str(task.exit_code),
                "" if task.duration is None else f"{task.duration:.1f}s",
                last[:80],
            ]
            tds = "".join(f"<td style='text-align:left'>{markup.text(c)}</td>" for c in cells)
            rows.append(f"<tr>{tds}</tr>")
        more = len(self.tasks) - self.SHOWN
        if more > 0:
            rows.append(f"<tr><td colspan=99>… {counted(more, 'more task')} (.records())</td></tr>")
        return (
            f"<b style='color:{color}'>{markup.text(self.summary())}</b>"
            f"<table class='docker-magics'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
        )
