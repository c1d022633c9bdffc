"""Pure: BuildKit's progress in plain text, as ``docker buildx build --progress=plain`` prints
it (moby/buildkit ``util/progress/progressui/printer.go``: ``#N ID[ bytes] done`` for a
step's tasks, printed before the step's ``#N DONE``), from builds recorded on the real 20.10
engine: tests/unit/data/bk-session.jsonl (a build over a BuildKit session: the Dockerfile and
context transferred, two stages side by side), bk-success.jsonl (a remote context)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from docker_magics.builds.progress import BuildText
from docker_magics.builds.result import BuildRecorder
from docker_magics.engine import events as ev
from tests.support.recorded import buildkit_events

DATA = Path(__file__).parent / "data"


def text(name: str) -> list[str]:
    recorder = BuildRecorder("rec/bk-session:1", builder="buildkit")
    out = io.StringIO()
    view = BuildText(recorder, out=out, err=out)
    for event in buildkit_events(name):
        recorder.handle(event)
        view.handle(event)
    view.finish(None, "Built it")
    return out.getvalue().splitlines()


@pytest.mark.parametrize("name", ["bk-session", "bk-success", "bk-parallel"])
def test_a_step_ends_after_what_the_engine_said_of_it(name):
    """A step's logs and tasks that come in the message that ends it are its own: they go
    before its end (the exporter's "naming to" came after "#9 DONE")."""
    ended: set[str] = set()
    for event in buildkit_events(name):
        key = getattr(event, "key", None)
        if isinstance(event, (ev.StepFinished, ev.StepError)):
            ended.add(event.key)
        elif isinstance(event, (ev.Log, ev.LayerProgress)) and key is not None:
            assert key not in ended, event


def test_every_line_says_its_step_as_buildx_does():
    lines = text("bk-session")
    assert lines[-1] == "Built it"
    assert [line for line in lines[:-1] if not re.match(r"#\d+ ", line)] == []
    assert "#1 transferring dockerfile: 256B done" in lines  # not "transferring done"
    assert "#2 transferring context: 2B done" in lines
    assert not any("transferring done" in line for line in lines)
    for number in {line.split()[0] for line in lines[:-1]}:
        said = [i for i, line in enumerate(lines) if line.startswith(f"{number} ")]
        assert lines[said[-1]].startswith(f"{number} DONE"), (number, lines)
    assert "#9 naming to docker.io/rec/bk-session:1 done" in lines


def test_the_lines_of_steps_run_side_by_side_say_whose_they_are():
    lines = text("bk-session")
    for stage in "ab":
        number = next(line.split()[0] for line in lines if f"[{stage} 2/2] RUN" in line)
        assert f"{number} from-{stage}" in lines
    # They did run side by side: one started before the other had ended.
    a, b = (next(i for i, line in enumerate(lines) if f"[{s} 2/2] RUN" in line) for s in "ab")
    first, second = sorted((a, b))
    assert not any(line == f"{lines[first].split()[0]} DONE" for line in lines[first:second])


def test_a_remote_context_build_reads_the_same():
    lines = text("bk-success")
    assert [line for line in lines[:-1] if not re.match(r"#\d+ ", line)] == []
    exporter = next(line.split()[0] for line in lines if line.endswith(" exporting to image"))
    after = lines[lines.index(f"{exporter} exporting to image") + 1 :]
    assert after[:3] == [
        f"{exporter} exporting layers done",
        f"{exporter} writing image sha256:94910b0e0edb3973d94225c27d7b667a72ad390a4acd58332eb"
        "f733b56b6a6a8 done",
        f"{exporter} naming to docker.io/rec/bk:1 done",
    ]
    assert after[3].startswith(f"{exporter} DONE ")
