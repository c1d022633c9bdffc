"""Pure: what a failed, interrupted or flooded build leaves in its record and its result,
from a build recorded on the real 20.10 engine (tests/unit/data/classic-run-fails.jsonl:
step 3/4 fails) and the Dockerfile it ran."""

from __future__ import annotations

import json
from pathlib import Path

from docker_magics.builds import dockerfile
from docker_magics.builds.progress import BuildWidget
from docker_magics.builds.result import BuildRecorder
from docker_magics.engine import events as ev

DATA = Path(__file__).parent / "data"
DOCKERFILE = (
    "FROM busybox:latest\nRUN echo before\nRUN echo line1; echo line2; exit 3\nRUN echo never\n"
)


def recorder_of(name: str, *, until: int | None = None) -> BuildRecorder:
    """The recorded build fed to a recorder that knows the Dockerfile's plan (``until``:
    only its first messages)."""
    plan = dockerfile.classic_plan(dockerfile.parse(DOCKERFILE))
    recorder = BuildRecorder("app:1", total=len(plan))
    recorder.planned = [str(ins) for ins in plan]
    parser = ev.ClassicBuildParser()
    for line in (DATA / f"{name}.jsonl").read_text().splitlines()[:until]:
        for event in parser.feed(json.loads(line)):
            recorder.handle(event)
    return recorder


def record_text(recorder: BuildRecorder, error: str, interrupted: bool = False) -> list[str]:
    widget = BuildWidget(recorder)

    class Handle:  # where IPython displayed the widgets
        def update(self, record):
            self.record = record

    widget.display_handle = Handle()
    widget.interrupted = interrupted
    widget.finish(error)
    return widget.display_handle.record.text.splitlines()


def test_a_failed_build_shows_the_steps_it_never_ran():
    recorder = recorder_of("classic-run-fails")
    recorder.fail_current()
    result = recorder.result(error="Step 3/4 failed")
    assert [(s.status, s.label) for s in result.steps] == [
        ("done", "1/4 FROM busybox:latest"),
        ("done", "2/4 RUN echo before"),
        ("failed", "3/4 RUN echo line1; echo line2; exit 3"),
        ("not run", "4/4 RUN echo never"),
    ]
    text = record_text(recorder, "Step 3/4 failed")
    assert text[0].startswith("FAILED after ")
    assert text[4] == f"  not run {'':>7}  4/4 RUN echo never"  # (no time: it never ran)
    assert "not run" in repr(result).splitlines()[4]


def test_an_interrupted_build_says_it_was_stopped_not_that_it_failed():
    recorder = recorder_of("classic-run-fails", until=15)  # step 3 running, lines printed
    assert recorder.current.status == "running"
    error = "Build interrupted at step 3/4 RUN echo line1; echo line2; exit 3; it was stopped"
    recorder.fail_current(interrupted=True)
    result = recorder.result(error=error, interrupted=True)
    assert [s.status for s in result.steps] == ["done", "done", "stopped", "not run"]
    assert result.summary().startswith("Build interrupted after ")
    assert result.summary().endswith(
        " at step 3/4 RUN echo line1; echo line2; exit 3; it was stopped"
    )
    assert "failed" not in result.summary()
    text = record_text(recorder, error, interrupted=True)
    assert text[0].startswith("Interrupted after ")
    assert text[3].startswith("  stopped ") and text[3].endswith(
        "3/4 RUN echo line1; echo line2; exit 3"
    )


def test_a_flooded_steps_record_says_how_many_lines_it_leaves_out():
    recorder = BuildRecorder("app:1", total=1)
    recorder.handle(ev.StepStarted("1", "RUN seq 1 700", 1, 1))
    for start in range(1, 701, 100):
        recorder.handle(ev.Log([f"line {n}" for n in range(start, start + 100)], "1"))
    recorder.handle(ev.StepFinished("1"))
    widget = BuildWidget(recorder)
    shown = widget.panels_text()
    note = "    … 690 more lines (all in the result's log)"
    assert shown[1:] == [note, *(f"    line {n}" for n in range(691, 701))]
    assert "… 690 more lines (all in the result's log)</span>\nline 691" in widget.panels_html()[1]
