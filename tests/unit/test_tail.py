"""Pure: a failing step's last lines, from real engine output where stderr overtook stdout
(tests/unit/data/*-stderr-first.jsonl: a RUN step that prints 15 lines, then its error on
stderr, then exits 4; recorded from the 20.10 engine, classic and BuildKit). The error line
quotes the error, and every view of the step's end shows it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from docker_magics.builds.buildkit.trace import BuildKitParser
from docker_magics.builds.failures import build_failure
from docker_magics.builds.progress import BuildWidget
from docker_magics.builds.result import BuildRecorder
from docker_magics.display.tail import GAP, Tail
from docker_magics.engine import events as ev

DATA = Path(__file__).parent / "data"
RUN = "RUN for i in $(seq 1 15); do echo line $i; done; echo cause-444 >&2; exit 4"


def replay(name: str) -> tuple[BuildRecorder, list[str]]:
    """The recorded build through its parser into a recorder; the lines in arrival order."""
    buildkit = name.startswith("bk-")
    parser = BuildKitParser() if buildkit else ev.ClassicBuildParser()
    recorder = BuildRecorder("t", builder="buildkit" if buildkit else "classic")
    arrived = []
    for line in (DATA / f"{name}.jsonl").read_text().splitlines():
        for event in parser.feed(json.loads(line)):
            recorder.handle(event)
            if isinstance(event, ev.Log):
                arrived += event.lines
    for event in parser.close():
        recorder.handle(event)
    return recorder, arrived


@pytest.mark.parametrize("name", ["classic-stderr-first", "bk-stderr-first"])
def test_the_error_quotes_the_line_stderr_sent_before_the_last_stdout(name):
    recorder, arrived = replay(name)
    # What the engine did: the error arrived before the output printed ahead of it.
    assert arrived.index("cause-444") < arrived.index("line 15") == len(arrived) - 1
    step = recorder.failed_step
    line = build_failure(recorder.failure.message, recorder.failure.code, step)
    where = f"Step [2/2] {RUN}" if name.startswith("bk-") else "Step 2/2 (RUN for i in $(seq 1 15);"
    assert line.startswith(where[:60]) and line.endswith("failed with exit code 4: cause-444")

    # The view of the step's end (the widget's 10 lines) holds it, and each stream's last
    # lines in the order they came.
    view = step.tail.view(10)
    assert ("stderr", "cause-444") in view
    shown = [text for stream, text in view if stream == "stdout"]
    assert shown[-1] == "line 15" and shown == sorted(shown, key=lambda t: int(t.split()[1]))
    assert len([x for x in view if x != GAP]) == 10


def test_the_widget_shows_the_failing_steps_error_whatever_came_after_it():
    recorder, _ = replay("classic-stderr-first")
    recorder.fail_current()
    panel = BuildWidget(recorder).panels_html()[-1]
    assert "cause-444" in panel and "line 15" in panel
    assert panel.index("cause-444") < panel.index("line 15")  # in the order they came


def test_the_view_keeps_each_streams_last_lines_and_marks_what_it_leaves_out():
    tail = Tail(keep=20)
    tail.add("stderr", ["warning: something"])
    tail.add("stdout", [f"line {n}" for n in range(1, 31)])
    view = tail.view(10)
    assert view == [("stderr", "warning: something"), GAP] + [
        ("stdout", f"line {n}") for n in range(22, 31)
    ]
    # Only one stream: simply its last lines.
    only = Tail()
    only.add("stdout", [f"{n}" for n in range(100)])
    assert only.view(3) == [("stdout", "97"), ("stdout", "98"), ("stdout", "99")]
    assert Tail().view(10) == [] and Tail().cause() is None
    # As a deque of pairs: the last lines in order.
    assert list(tail)[-2:] == [("stdout", "line 29"), ("stdout", "line 30")] and len(tail) == 20
    assert tail.count == 31


def test_the_cause_is_recent_stderr_else_the_last_line():
    clock = [0.0]
    tail = Tail(clock=lambda: clock[0])
    tail.add("stderr", ["DeprecationWarning: old API", ""])
    clock[0] = 5.0  # seconds later: a report on stdout, which ends with the verdict
    tail.add("stdout", ["collected 3 items", "=== 1 failed, 2 passed in 4.2s ===", "  "])
    assert tail.cause() == "=== 1 failed, 2 passed in 4.2s ==="
    clock[0] = 5.01  # the error on stderr, overtaken by stdout printed before it
    tail.add("stderr", ["error: no such file"])
    tail.add("stdout", ["done"])
    assert tail.cause() == "error: no such file"
