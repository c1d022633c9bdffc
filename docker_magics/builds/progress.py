"""What build progress shows: the image, step N/M and its instruction, elapsed time, a bar
over steps, each step's status and time, the last log lines; like ``docker build`` in text."""

from __future__ import annotations

from docker_magics.builds.result import BuildRecorder
from docker_magics.display import markup
from docker_magics.display.progress import (
    RED,
    ProgressText,
    WidgetRenderer,
    cut,
    lines_word,
    make_renderer,
)
from docker_magics.display.tables import counted, human_size
from docker_magics.display.tail import GAP
from docker_magics.engine import events as ev
from docker_magics.registry.result import same_status

# The classic builder's warning for every RUN step on an engine whose host does not forward
# IPv4 (dockerd --ip-forward=false, e.g. one without a bridge network), and what it means.
NO_FORWARDING = "IPv4 forwarding is disabled"
NO_NETWORK_NOTE = (
    "Note: RUN steps have no network on this engine (its IPv4 forwarding is off): downloads "
    "in RUN fail"
)
_TOLD: set[tuple[str, str]] = set()  # (engine, warning): said once per engine and session

STEP_COLORS = {
    "done": "#1a7f37",
    "cached": "#57606a",
    "failed": RED,
    "running": "#0969da",
    "stopped": "#bc4c00",  # interrupted
    "not run": "#8c959f",
}


class BuildText(ProgressText):
    """Like ``docker build --progress=plain`` for the classic builder; like ``docker buildx
    build --progress=plain`` for BuildKit. Step lines always show; the log is sampled
    within the budget, and a step that had lines skipped ends with its last lines."""

    def __init__(self, recorder: BuildRecorder, out=None, err=None, clock=None) -> None:
        super().__init__(recorder, out, err, clock)
        self.layer_status: dict[str, str] = {}
        self.notices_shown: set[str] = set()
        self.numbers: dict[str, int] = {}  # BuildKit: "#N" per step, as buildx numbers them

    def handle(self, event: ev.Event) -> None:
        if isinstance(event, ev.ContextSent):  # the CLI's "Sending build context to Docker daemon"
            size = f"{event.files:,} files, {human_size(event.size)}"
            done = f"Sent build context: {size} in {event.seconds:.1f}s"
            self.say(done if event.done else f"Sending build context: {size} so far…")
        elif self.recorder.builder == "buildkit":
            self._handle_buildkit(event)
        else:
            self._handle_classic(event)

    def _stream(self, event) -> object:
        return self.err if event.stream == "stderr" else self.out

    def _handle_buildkit(self, event: ev.Event) -> None:
        """Every line says which step it is about, so parallel steps read well when
        interleaved."""
        number = self.numbers.get(getattr(event, "key", None) or "")
        if isinstance(event, ev.StepStarted):
            number = self.numbers[event.key] = len(self.numbers) + 1
            self.earn()
            self.say(f"#{number} {event.name}")
        elif isinstance(event, ev.Log):
            self.log([f"#{number} {line}" for line in event.lines], self._stream(event))
        elif isinstance(event, ev.StepCached):
            self.say(f"#{number} CACHED")
        elif isinstance(event, ev.StepFinished):
            step = self.recorder.steps.get(event.key)
            if step is not None and step.status == "done":
                self.end_step()
                self.say(f"#{number} DONE {step.duration or 0:.1f}s")
        elif isinstance(event, ev.StepError):
            self.end_step()
            self.say(f"#{number} ERROR: {event.message}", self.err)
        elif isinstance(event, ev.LayerProgress) and event.status.endswith("done"):
            self.say(_vertex_status(self.numbers.get(event.key or ""), event))
        elif isinstance(event, ev.Notice):
            self._notice(event.text, "WARNING: ")

    def start(self) -> None:
        super().start()
        r = self.recorder
        n = r.expected_total
        self.say(f"Building {r.title} from {r.context}" + (f" ({counted(n, 'step')})" if n else ""))

    def _handle_classic(self, event: ev.Event) -> None:
        if isinstance(event, ev.Log):
            self.log(event.lines, self._stream(event))
        elif isinstance(event, ev.StepStarted):
            self.end_step()
            self.earn()
            number = f"Step {event.number}/{event.total} : " if event.number else ""
            self.say(f"{number}{event.name}")
        elif isinstance(event, ev.StepCached):
            self.say(" ---> Using cache")
        elif isinstance(event, ev.StepFinished):
            self.end_step()
            step = self.recorder.steps.get(event.key)
            if step is not None and step.status == "done" and (step.duration or 0) >= 0.05:
                self.say(f" ---> done in {step.duration:.1f}s")
        elif isinstance(event, ev.Notice):
            self._notice(event.text, "[Warning] ")
        elif isinstance(event, ev.LayerProgress):  # pulling a base image
            previous = self.layer_status.get(event.layer)
            self.layer_status[event.layer] = event.status
            if not same_status(previous, event.status):
                self.say(f"{event.layer}: {event.status}" if event.layer else event.status)

    def _notice(self, text: str, prefix: str) -> None:
        """An engine's warning, once per build; one it repeats for every build (and every
        RUN step) in plain words, once per engine, or not at all where it says nothing
        the user did not ask for."""
        if text in self.notices_shown:
            return
        self.notices_shown.add(text)
        if not text.startswith(NO_FORWARDING):
            self.say(prefix + text)
        elif self.recorder.network not in ("none", "host"):
            told = (self.recorder.engine, NO_FORWARDING)
            if told not in _TOLD:
                _TOLD.add(told)
                self.say(NO_NETWORK_NOTE)

    def final_lines(self, error: str | None, summary: str) -> None:
        step = self.recorder.failed_step or self.recorder.current
        skipping = self.skipped_total or self.unseen > self.END_LINES
        if error is not None and skipping and step is not None and step.tail:
            # Lines were skipped to keep the output bounded: show how the failing step ended.
            self.skip_unseen()
            lines = step.tail.view(step.tail.keep)
            n = sum(line != GAP for line in lines)
            self.queue.append(
                (self.out, f"--- the last {counted(n, 'line')} of step {step.label} ---")
            )
            for stream, text in lines:
                text = "    …" if (stream, text) == GAP else cut(text)
                self.queue.append((self.err if stream == "stderr" else self.out, text))
        super().final_lines(error, summary)


class BuildWidget(WidgetRenderer):
    SHOWN_STEPS = 8  # while it runs
    FINAL_STEPS = 60  # once it has ended: every step of all but the longest Dockerfiles
    SHOWN_LINES = 10
    LINE_CUT = 140

    def handle(self, event: ev.Event) -> None:
        if isinstance(event, ev.StepStarted):
            self.earn()

    def header_html(self) -> str:
        r = self.recorder
        step = r.current
        running = r.running
        where = f"step {step.number}/{step.total}: " if step and step.number else ""
        doing = markup.text(cut(step.name, 100)) if step else "sending the context"
        if len(running) > 1:  # BuildKit runs independent stages side by side
            where = f"{len(running)} steps running: "
            doing = " · ".join(markup.text(cut(s.name, 60)) for s in running[:3])
        return (
            f"<b>Building {markup.text(r.title)}</b> &nbsp; {where}<code>{doing}</code> "
            f"&nbsp; <span style='opacity:.7'>{r.elapsed():.1f}s</span>"
        )

    def bar_state(self) -> tuple[int, int]:
        return self.recorder.progress()

    def panels_html(self) -> list[str]:
        return [self._steps_html(), self._log_html()]

    def panels_text(self) -> list[str]:
        lines = [f"  {s.status:<7} {_took(s):>7}  {cut(s.label, 120)}" for s in self._steps()[1]]
        tail = self._log_tail()
        shown = tail.view(self.SHOWN_LINES)
        earlier = _earlier(tail, shown)
        lines += [f"    {earlier}"] if earlier else []
        lines += [f"    {cut(t, self.LINE_CUT)}" for _, t in shown]
        return lines

    def _steps(self) -> tuple[int, list]:
        """The steps to show, and how many earlier ones are left out: the latest
        ``SHOWN_STEPS`` while the build runs; when it has ended every one that fits."""
        steps = list(self.recorder.steps.values())
        shown = self.FINAL_STEPS if self.finished else self.SHOWN_STEPS
        hidden = max(0, len(steps) - shown)
        return hidden, steps[hidden:]

    def _steps_html(self) -> str:
        hidden, steps = self._steps()
        rows = []
        if hidden > 0:
            earlier = counted(hidden, "earlier step")
            rows.append(f"<tr><td colspan=3 style='opacity:.7'>… {earlier}</td></tr>")
        for s in steps:
            rows.append(
                f"<tr><td style='color:{STEP_COLORS[s.status]};padding-right:1em'>{s.status}</td>"
                f"<td style='text-align:right;padding-right:1em'>{_took(s)}</td>"
                f"<td style='text-align:left'><code>{markup.text(cut(s.label, 120))}</code>"
                "</td></tr>"
            )
        return f"<table style='font-size:90%'>{''.join(rows)}</table>"

    def _log_tail(self):
        # A failed build shows how its failing step ended (parallel steps may have printed
        # since); each stream's last lines always show (they arrive in no reliable order).
        failed = self.recorder.failed_step
        return failed.tail if failed is not None and failed.tail else self.recorder.tail

    def _log_html(self) -> str:
        tail = self._log_tail()
        lines = tail.view(self.SHOWN_LINES)
        if not lines:
            return ""
        earlier = _earlier(tail, lines)
        note = f"<span style='opacity:.6'>{markup.text(earlier)}</span>\n" if earlier else ""
        body = note + "\n".join(
            f"<span style='color:{RED}'>{markup.text(cut(t, self.LINE_CUT))}</span>"
            if s == "stderr"
            else f"<span style='opacity:.6'>{t}</span>"
            if (s, t) == GAP
            else markup.text(cut(t, self.LINE_CUT))
            for s, t in lines
        )
        return (
            "<pre style='margin:0;max-height:16em;overflow:auto;font-size:85%;"
            f"background:rgba(128,128,128,.08);padding:4px'>{body}</pre>"
        )


def _vertex_status(number: int | None, event: ev.LayerProgress) -> str:
    """A step's finished task as buildx prints it: ``#1 transferring dockerfile: 37B done``,
    ``#8 naming to docker.io/library/app:1 done`` (its ID, the bytes it moved, done)."""
    amount = ""
    if event.total:
        amount = f" {human_size(event.current or 0)} / {human_size(event.total)}"
    elif event.current:
        amount = f" {human_size(event.current)}"
    return f"{'' if number is None else f'#{number} '}{event.layer}{amount} done"


def _earlier(tail, shown: list[tuple[str, str]]) -> str:
    """How many lines of the output are not among those ``shown``, as the text view says."""
    hidden = tail.count - sum(line != GAP for line in shown)
    return f"… {lines_word(hidden)} (all in the result's log)" if hidden > 0 else ""


def _took(step) -> str:
    # A running step's time is in the header: the table changes only on transitions.
    done = step.status in ("done", "failed", "stopped") and step.duration
    return f"{step.duration:.1f}s" if done else ""


def build_renderer(mode: str, recorder: BuildRecorder):
    return make_renderer(mode, recorder, BuildText, BuildWidget)
