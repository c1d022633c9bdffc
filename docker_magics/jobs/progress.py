"""What job progress shows: a table of the tasks (values, node, state, time, exit code),
totals and a bar over ended tasks, and the tasks' output as it comes, each line with its
task's values; in text, a line per task that starts or ends and the output, sampled within
the progress views' size budget (see ``display/budget.py``): a job of 10,000 tasks stays as
bounded as one of 10."""

from __future__ import annotations

from docker_magics.display import markup
from docker_magics.display.progress import (
    GREEN,
    RED,
    ProgressText,
    WidgetRenderer,
    cut,
    make_renderer,
)
from docker_magics.display.tables import counted
from docker_magics.engine import events as ev
from docker_magics.jobs.result import ENDED, JobNote, JobRecorder, TaskChanged

COLORS = {"complete": GREEN, "failed": RED, "rejected": RED, "running": "#0969da"}
BONUSES = 10  # the first tasks to start or end earn the view room to show it (a redraw)
BONUS = 1500  # bytes


def _totals(recorder: JobRecorder) -> str:
    counts = recorder.counts()
    ended = recorder.done()
    parts = [f"{ended}/{counted(len(recorder.tasks), 'task')} ended"]
    parts += [f"{counts[s]} {s}" for s in ("running", "starting", "pending") if counts[s]]
    bad = sum(counts[s] for s in ("failed", "rejected", "lost"))
    if bad:
        parts.append(f"{bad} failed")
    return ", ".join(parts)


class JobText(ProgressText):
    """A line when a task starts running and when it ends, its output lines prefixed with
    its values, and the totals now and then; sampled when they come faster than the budget
    allows (everything is in the result)."""

    TOTALS_EVERY = 5.0  # seconds, at least (a fifth of the elapsed time later on)

    def __init__(self, recorder: JobRecorder, out=None, err=None, clock=None) -> None:
        super().__init__(recorder, out, err, clock)
        self.states: dict[int, str] = {}
        self.bonuses = BONUSES
        self.totals_at = self.clock()

    def start(self) -> None:
        super().start()
        r = self.recorder
        self.say(f"Job {r.name}: {r.spec.describe()} of {_image(r.image)}")

    def handle(self, event) -> None:
        r = self.recorder
        if isinstance(event, TaskChanged):
            before = self.states.get(event.index)
            self.states[event.index] = event.state
            if event.state == before:
                return
            task = r.tasks[event.index]
            if event.state == "running" or event.state in ENDED:
                if self.bonuses > 0:
                    self.bonuses -= 1
                    self.earn(BONUS)
                line = _transition(task)
                self.log([line], self.err if event.state in ENDED and not task.ok else self.out)
            self._maybe_totals()
        elif isinstance(event, ev.Log) and event.key is not None:  # (as it came, or whole)
            self._output(int(event.key), event.lines, event.stream)
        elif isinstance(event, JobNote):
            self.say(event.text)

    def _output(self, index: int, lines: list[str], stream: str) -> None:
        label = self.recorder.tasks[index].label
        self.log([f"[{label}] {line}" for line in lines], self.err if stream == "stderr" else None)

    def _maybe_totals(self) -> None:
        now = self.clock()
        if now - self.totals_at >= max(self.TOTALS_EVERY, self.recorder.elapsed() / 5):
            self.totals_at = now
            self.say(f"… {_totals(self.recorder)} ({self.recorder.elapsed():.0f}s)")

    def final_lines(self, error: str | None, summary: str) -> None:
        # On success the result says the rest (its repr is the summary).
        super().final_lines(error, "")


class JobWidget(WidgetRenderer):
    SHOWN_TASKS = 12
    SHOWN_LINES = 10
    LINE_CUT = 140

    def __init__(self, recorder: JobRecorder, **kwargs) -> None:
        super().__init__(recorder, **kwargs)
        self.bonuses = BONUSES

    def handle(self, event) -> None:
        running_or_ended = getattr(event, "state", None) in ("running", *ENDED)
        if isinstance(event, TaskChanged) and running_or_ended and self.bonuses > 0:
            self.bonuses -= 1
            self.earn(BONUS)

    def header_html(self) -> str:
        r = self.recorder
        return (
            f"<b>Job {markup.text(r.name)}</b> &nbsp; {markup.text(_totals(r))} &nbsp; "
            f"<span style='opacity:.7'>{r.elapsed():.1f}s</span>"
        )

    def bar_state(self) -> tuple[int, int]:
        return self.recorder.done(), len(self.recorder.tasks)

    def panels_html(self) -> list[str]:
        return [self._tasks_html(), self._log_html()]

    def _tasks_html(self) -> str:
        tasks = self.recorder.tasks
        shown = _chosen(tasks, self.SHOWN_TASKS)
        rows = []
        for task in shown:
            took = f"{task.duration:.1f}s" if task.duration is not None else ""
            code = "" if task.exit_code is None else str(task.exit_code)
            color = COLORS.get(task.state, "#57606a")
            rows.append(
                f"<tr><td>{markup.text(task.label)}</td><td>{markup.text(task.node or '')}</td>"
                f"<td style='color:{color}'>{markup.text(task.state)}</td>"
                f"<td>{took}</td><td>{code}</td></tr>"
            )
        hidden = len(tasks) - len(shown)
        if hidden > 0:
            rows.append(f"<tr><td colspan=5 style='opacity:.7'>… {counted(hidden, 'more task')}")
        # One rule for every cell, not a style on each: the table is resent on each change.
        return (
            "<style>.dm-job-tasks td{text-align:left;padding:0 1em 0 0}</style>"
            f"<table class='dm-job-tasks' style='font-size:90%'>{''.join(rows)}</table>"
        )

    def _log_html(self) -> str:
        lines = list(self.recorder.tail)[-self.SHOWN_LINES :]
        if not lines:
            return ""
        body = "\n".join(
            f"<span style='color:{RED}'>{markup.text(cut(t, self.LINE_CUT))}</span>"
            if s == "stderr"
            else markup.text(cut(t, self.LINE_CUT))
            for s, t in lines
        )
        return (
            "<pre style='margin:0;max-height:16em;overflow:auto;font-size:85%;"
            f"background:rgba(128,128,128,.08);padding:4px'>{body}</pre>"
        )


def _chosen(tasks: list, limit: int) -> list:
    """The rows worth a look when not all fit: failures, running tasks, the latest to end,
    then the next to start; in parameter order."""
    if len(tasks) <= limit:
        return tasks
    failed = [t for t in tasks if t.state in ENDED and not t.ok][: limit // 3]
    running = [t for t in tasks if t.state in ("running", "starting")]
    ended = sorted(
        (t for t in tasks if t.ok), key=lambda t: t.finished or 0, reverse=True
    )  # fmt: skip
    waiting = [t for t in tasks if t.state == "pending"]
    picked: dict[int, object] = {}
    for group in (failed, running, ended, waiting):
        for task in group:
            if len(picked) >= limit:
                break
            picked.setdefault(task.index, task)
    return [picked[i] for i in sorted(picked)]


def _transition(task) -> str:
    where = f" on {task.node}" if task.node else ""
    if task.state == "running":
        return f"{task.label}: running{where}"
    took = f" in {task.duration:.1f}s" if task.duration is not None else ""
    if task.state == "failed" and task.exit_code is not None:
        return f"{task.label}: failed (exit code {task.exit_code}){took}{where}"
    why = f": {task.message}" if task.message and not task.ok else ""
    return f"{task.label}: {task.state}{took}{where}{why}"


def _image(reference: str) -> str:
    name, at, digest = reference.partition("@")
    return f"{name}@{digest[:19]}…" if at and len(digest) > 19 else reference


def job_renderer(mode: str, recorder: JobRecorder):
    return make_renderer(mode, recorder, JobText, JobWidget)
