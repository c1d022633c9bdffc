"""What a build leaves behind: a recorder that folds events into state (read by the
renderers while the build runs), the full log (spilled to a temp file when large), and the
``BuildResult`` value with its text and HTML reprs."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from docker_magics.display import markup
from docker_magics.display.logstore import LogStore
from docker_magics.display.once import SaidOnce
from docker_magics.display.tables import counted, human_size
from docker_magics.display.tail import Tail
from docker_magics.engine import events as ev

_STAGE_STEP = re.compile(r"^\[(?:(?P<stage>[^\]\s]+) )?(?P<n>\d+)/(?P<m>\d+)\] ")


@dataclass
class Step:
    key: str
    name: str
    number: int | None = None
    total: int | None = None
    status: str = "running"  # running | cached | done | failed | stopped | not run
    started: float = field(default_factory=time.monotonic)
    duration: float | None = None
    tail: Tail = field(default_factory=Tail, repr=False)  # its last lines, per stream too
    lines: int = 0

    @property
    def label(self) -> str:
        if self.name.startswith("["):  # BuildKit names carry their own "[stage N/M]"
            return self.name
        n = f"{self.number}/{self.total} " if self.number and self.total else ""
        return f"{n}{self.name}"

    def elapsed(self) -> float:
        if self.duration is not None:
            return self.duration
        return time.monotonic() - self.started


class BuildRecorder:
    """Folds events into the state of a build; renderers read it, ``result()`` freezes it."""

    def __init__(
        self, title: str, *, total: int | None = None, context: str = "", builder: str = "classic"
    ) -> None:
        self.title = title
        self.builder = builder
        self.context = context
        self.expected_total = total
        self.planned: list[str] = []  # the classic builder's steps, by number (their names)
        self.started = time.monotonic()
        self.steps: dict[str, Step] = {}
        self.current: Step | None = None
        self.log = LogStore()
        self.tail = Tail()  # the last lines of all steps
        self.notices: list[str] = []
        self.image_id: str | None = None
        self.tags: list[str] = []
        self.failure: ev.EngineFailure | None = None
        self.failed_step: Step | None = None  # the step that failed, once one has
        self.containers: set[str] = set()
        self.version = 0  # bumped on every change the renderers may want to show
        self.layers: dict[str, ev.LayerProgress] = {}
        self.engine = ""  # the engine's URL, and the build's --network: what some of the
        self.network: str | None = None  # engine's warnings mean depends on them
        # The Dockerfile's steps for the summary, when they are not the steps seen (BuildKit)
        self.dockerfile_steps: int | None = None

    @property
    def total(self) -> int | None:
        return (self.current.total if self.current and self.current.total else None) or (
            self.expected_total
        )

    def progress(self) -> tuple[int, int]:
        """(done, total) for a progress bar; (0, 0) while nothing is known.

        Classic: the Dockerfile's steps. BuildKit: the positions of its numbered steps, as
        ``[stage n/m]`` names tell them (m per stage); position n of a stage is done once its
        step n, or a later one, ended (BuildKit shares a step that several stages have in
        common, e.g. their FROM, so some positions never show a step of their own); and the
        positions before a running step. Its internal steps are not counted."""
        steps = list(self.steps.values())
        if self.builder != "buildkit":
            return self.done_count, self.total or len(steps)
        stages: dict[str, list[int]] = {}  # stage -> [m, positions done]
        for s in steps:
            m = _STAGE_STEP.match(s.name)
            if not m:
                continue
            n, total = int(m["n"]), int(m["m"])
            stage = stages.setdefault(m["stage"] or "", [total, 0])
            stage[0] = max(stage[0], total)
            reached = n if s.status in ("done", "cached") else n - 1
            stage[1] = max(stage[1], min(reached, total))
        return sum(d for _, d in stages.values()), sum(t for t, _ in stages.values())

    @property
    def done_count(self) -> int:
        return sum(1 for s in list(self.steps.values()) if s.status in ("done", "cached"))

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def handle(self, event: ev.Event) -> None:
        self.version += 1
        if isinstance(event, ev.StepStarted):
            started = Step(event.key, event.name, event.number, event.total)
            self.steps[event.key] = started
            self.current = started
            self.log.append(f"Step {started.label}" if started.number else started.name)
        elif isinstance(event, ev.StepCached):
            step = self.steps.get(event.key)
            if step:
                step.status = "cached"
                self.log.append(" ---> Using cache")
        elif isinstance(event, ev.StepError):
            step = self.steps.get(event.key)
            if step is not None:
                step.status = "failed"
                step.duration = time.monotonic() - step.started
                self.failed_step = step
                self.log.append(f"ERROR: {event.message}")
        elif isinstance(event, ev.StepContainer):
            self.containers.add(event.container_id)
        elif isinstance(event, ev.StepFinished):
            step = self.steps.get(event.key)
            if step and step.duration is None:
                step.duration = time.monotonic() - step.started
                if step.status == "running":
                    step.status = "done"
        elif isinstance(event, ev.Log):
            self.log.extend(event.lines)
            self.tail.add(event.stream, event.lines)
            step = self.steps.get(event.key) if event.key else None
            if step is not None:
                step.tail.add(event.stream, event.lines)
                step.lines += len(event.lines)
        elif isinstance(event, ev.Notice):
            if event.text not in self.notices:
                self.notices.append(event.text)
                self.log.append(f"[Warning] {event.text}")
        elif isinstance(event, ev.LayerProgress):
            self.layers[event.layer] = event
        elif isinstance(event, ev.ImageId):
            self.image_id = event.image_id
        elif isinstance(event, ev.Tagged):
            if event.tag not in self.tags:
                self.tags.append(event.tag)
        elif isinstance(event, ev.EngineFailure):
            self.failure = event
            self.log.append(f"ERROR: {event.message}")
            if self.failed_step is None and self.current is not None:
                if self.current.duration is None:
                    self.current.status = "failed"
                    self.current.duration = time.monotonic() - self.current.started
                self.failed_step = self.current

    @property
    def running(self) -> list[Step]:
        return [s for s in list(self.steps.values()) if s.status == "running"]

    def fail_current(self, *, interrupted: bool = False) -> None:
        """The build ended early: the running steps failed (a lost connection) or were
        ``stopped`` (an interrupt); the planned steps it never reached did ``not run``."""
        for step in self.running:
            step.status = "stopped" if interrupted else "failed"
            step.duration = time.monotonic() - step.started
        reached = {s.number for s in self.steps.values() if s.number}
        total = len(self.planned)
        for number, name in enumerate(self.planned, 1):
            if number not in reached and (not reached or number > max(reached)):
                key = f"not run {number}"
                self.steps[key] = Step(key, name, number, total, status="not run")
        self.version += 1

    def result(
        self, *, size: int | None = None, error: str | None = None, interrupted: bool = False
    ) -> BuildResult:
        return BuildResult(
            image_id=self.image_id,
            tags=list(self.tags),
            size=size,
            duration=self.elapsed(),
            steps=list(self.steps.values()),
            log=self.log,
            context=self.context,
            error=error,
            interrupted=interrupted,
            builder=self.builder,
            total_steps=self.dockerfile_steps,
        )


BUILDER_NAMES = {"classic": "the classic builder", "buildkit": "BuildKit"}


@dataclass
class BuildResult(SaidOnce):
    """The value of ``%%docker_build`` (and of ``docker_magics.build()``)."""

    image_id: str | None
    tags: list[str]
    size: int | None
    duration: float
    steps: list[Step]
    log: LogStore
    context: str = ""
    error: str | None = None
    interrupted: bool = False  # (the error says where)
    builder: str = "classic"  # the builder that ran: classic or buildkit
    # The Dockerfile's steps (BuildKit: the instructions of the stages it ran; its own
    # internal steps are in ``steps`` but not counted); None: ``len(steps)``.
    total_steps: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.image_id is not None

    @property
    def short_id(self) -> str:
        if not self.image_id:
            return ""
        return self.image_id.split(":", 1)[-1][:12]

    @property
    def cached_steps(self) -> int:
        """The Dockerfile's steps the engine took from its cache (BuildKit's internal steps,
        which have no ``[stage n/m]`` number, are not the Dockerfile's)."""
        return sum(1 for s in self.steps if s.status == "cached" and s.number)

    def summary(self) -> str:
        if not self.ok and self.interrupted:
            where = (self.error or "").removeprefix("Build interrupted")
            return f"Build interrupted after {self.duration:.1f}s{where}"
        if not self.ok:
            return f"Build failed after {self.duration:.1f}s: {self.error}"
        tags = ", ".join(self.tags) or "no tag"
        n = len(self.steps) if self.total_steps is None else self.total_steps
        cached = f", {self.cached_steps} of {counted(n, 'step')} cached" if n else ""
        size = f", {human_size(self.size)}" if self.size is not None else ""
        by = BUILDER_NAMES.get(self.builder, self.builder)
        return f"Built {self.short_id} ({tags}) with {by}{size} in {self.duration:.1f}s{cached}"

    def __repr__(self) -> str:
        lines = [self.summary()]
        for s in self.steps:
            took = f"{s.duration:.1f}s" if s.duration is not None else ""
            lines.append(f"  {s.status:<7} {took:>7}  {s.label}")
        if self.context:
            lines.append(f"  context: {self.context}")
        lines.append(f"  log: {counted(self.log.count, 'line')} (result.log.text())")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        color = "#1a7f37" if self.ok else "#cf222e"
        context = f"<div>context: {markup.text(self.context)}</div>" if self.context else ""
        rows = "".join(
            f"<tr><td>{markup.text(s.status)}</td>"
            f"<td style='text-align:right'>{'' if s.duration is None else f'{s.duration:.1f}s'}"
            f"</td><td style='text-align:left'><code>{markup.text(s.label)}</code></td></tr>"
            for s in self.steps
        )
        return (
            f"<div class='docker-magics-result'><b style='color:{color}'>"
            f"{markup.text(self.summary())}</b>"
            f"<details><summary>{counted(len(self.steps), 'step')}, "
            f"{counted(self.log.count, 'log line')}</summary>"
            f"<table>{rows}</table>{context}</details></div>"
        )
