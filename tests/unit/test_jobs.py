"""Pure parts of jobs: --each and --replicas as tasks, {values} expanded as one word, the
options' checks, a job's result and failure line, Swarm's times, and the progress views
kept bounded for a job of many tasks (a fake clock drives them)."""

from __future__ import annotations

import io
import shlex

import pytest

from docker_magics.engine import events as ev
from docker_magics.errors import BadArgument
from docker_magics.jobs import options
from docker_magics.jobs.options import JobSpec, combinations, parse_each
from docker_magics.jobs.progress import JobText, JobWidget, _chosen
from docker_magics.jobs.result import JobRecorder, JobResult, TaskChanged, TaskOutput
from docker_magics.jobs.runner import failure
from docker_magics.jobs.swarm import STATES, _timestamp
from docker_magics.magics.arguments import _expand
from tests.support.timing import Clock

# What these say is in a magic's words (--each, --add); tests/unit/test_wording.py has
# the Python API's.
pytestmark = pytest.mark.usefixtures("in_a_magic")


def test_each_gives_the_product_in_order():
    combos, names = combinations(["X=1,2", "Y=a,b,c"], None)
    assert names == ["X", "Y"]
    assert combos == [{"X": x, "Y": y} for x in ("1", "2") for y in ("a", "b", "c")]
    combos, names = combinations({"LR": [0.1, 0.01], "DEPTH": range(2)}, None)
    assert combos == [
        {"LR": 0.1, "DEPTH": 0},
        {"LR": 0.1, "DEPTH": 1},
        {"LR": 0.01, "DEPTH": 0},
        {"LR": 0.01, "DEPTH": 1},
    ]


def test_each_takes_explicit_combinations_and_array_likes():
    combos, names = combinations([{"A": 1, "B": "x"}, {"A": 2}], None)
    assert combos == [{"A": 1, "B": "x"}, {"A": 2}] and names == ["A", "B"]

    class Array:  # numpy arrays and pandas series have tolist()
        def tolist(self):
            return [1.5, 2.5]

        def __iter__(self):
            raise AssertionError("tolist() is used")

    assert combinations({"X": Array()}, None)[0] == [{"X": 1.5}, {"X": 2.5}]


def test_replicas_and_nothing():
    assert combinations(None, 3) == ([{}, {}, {}], [])
    assert combinations(None, None) == ([{}], [])


def test_each_as_the_magic_expands_a_python_list():
    """``--each X={values}``: the list comes as one word holding a Python literal."""

    class Shell:
        user_ns = {"values": [1, "a b", "it's"], "combos": [{"A": 1}], "n": 3, "nums": (1, 2)}

    line = _expand(Shell(), "--each X={values} --each {combos} -n {n}", None, lists=True)
    words = shlex.split(line)
    assert words[:2] == ["--each", "X=[1, 'a b', \"it's\"]"]
    assert parse_each(words[1]) == ("X", [1, "a b", "it's"])
    assert parse_each(words[3]) == [{"A": 1}]
    assert words[4:] == ["-n", "3"]  # not a list: as IPython expands it
    # Quoted once more by the user: still read (if the values need no quoting themselves).
    line = _expand(Shell(), '--each "X={nums}"', None, lists=True)
    assert parse_each(shlex.split(line)[1]) == ("X", [1, 2])
    # Other magics expand as IPython does.
    assert _expand(Shell(), "-e X={values}", None) == "-e X=[1, 'a b', \"it's\"]"


@pytest.mark.parametrize(
    "each, replicas, message",
    [
        (["X=1"], 2, "--replicas and --each do not go together"),
        (["X"], None, "Invalid --each 'X'"),
        (["X="], None, "--each X= has no values"),
        (["1X=1"], None, "'1X' cannot name an environment variable"),
        (["TASK_COUNT=1"], None, "TASK_COUNT is set by the job itself"),
        (["X=1", "X=2"], None, "--each X is given twice"),
        (["X=[1, None]"], None, "A value of X is NoneType"),
        (["X=[1,"], None, "is not a list of values"),
        (["[1, 2]"], None, "a list here must hold mappings"),
        (["[{'A': 1}]", "B=1"], None, "must be the only --each"),
        ({"X": "abc"}, None, "each['X'] must be a list of values, not str"),
        ({"X": []}, None, "each['X'] has no values"),
        ({"X": [float("nan")]}, None, "A value of X is nan"),
        ([], None, "each is an empty list"),
        (5, None, "each must be a mapping, a string or a list, not int"),
        ({"X": range(101), "Y": range(100)}, None, "10,100 tasks, more than 10,000"),
    ],
)
def test_bad_each_is_one_line(each, replicas, message):
    with pytest.raises(BadArgument) as caught:
        combinations(each, replicas)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_task_environment_and_labels():
    spec = JobSpec("img", [{"X": 1, "FLAG": True}, {"X": 2, "FLAG": False}], swept=["X", "FLAG"])
    assert [options.text(v) for v in (2, False, 0.5, "a b")] == ["2", "false", "0.5", "a b"]
    assert spec.label(0) == "X=1, FLAG=true"
    assert spec.describe() == "2 tasks (X × FLAG)"
    assert JobSpec("img", [{}]).label(0) == "task 0"
    assert options.task_label({"TEXT": "x" * 100}, 0) == "TEXT=" + "x" * 23 + "…"


def test_other_options_are_checked():
    assert options.check_constraint(" node.role == worker ") == "node.role == worker"
    assert options.check_constraint("node.labels.gpu!=true") == "node.labels.gpu!=true"
    with pytest.raises(BadArgument, match="Use NAME==VALUE"):
        options.check_constraint("node.role=worker")
    assert options.check_name("sweep-1.a_b") == "sweep-1.a_b"
    with pytest.raises(BadArgument, match="Invalid job name"):
        options.check_name("-x")
    assert options.parse_memory("512m", "--reserve-memory") == 512 * 1024 * 1024
    assert options.parse_memory(1000, "--reserve-memory") == 1000
    with pytest.raises(BadArgument, match="Invalid --reserve-memory"):
        options.parse_memory("0", "--reserve-memory")
    with pytest.raises(BadArgument, match="X is both a --each parameter and an -e variable"):
        options.check_env({"X": "1"}, ["X"])
    with pytest.raises(BadArgument, match="a script or a command, not both"):
        options.job_spec(
            "img", ["true"], script="echo", shell="sh", each=None, replicas=None, env=[],
            env_files=[], max_concurrent=None, constraints=[], name=None, reserve_cpu=None,
            reserve_memory=None, timeout=None, resolve_image=True,
        )  # fmt: skip


def test_swarm_times_and_states():
    assert _timestamp("2026-12-05T09:55:52.39093961Z") == pytest.approx(1796464552.39093961)
    assert _timestamp("2026-12-05T09:55:52Z") == 1796464552.0
    assert _timestamp("2026-12-05T10:55:52.5+01:00") == 1796464552.5
    assert _timestamp("0001-01-01T00:00:00Z") is None and _timestamp(None) is None
    # Every state a Swarm task can be in (api/types/swarm/task.go) has a meaning here.
    swarm_states = "new allocated pending assigned accepted preparing ready starting running "
    swarm_states += "complete shutdown failed rejected remove orphaned"
    assert set(swarm_states.split()) == set(STATES)


def recorded(n: int, swept: bool = True) -> JobRecorder:
    combos = [{"X": i} for i in range(n)] if swept else [{} for _ in range(n)]
    spec = JobSpec("reg/img:1", combos, swept=["X"] if swept else [], name="sweep")
    return JobRecorder(spec, "reg/img:1@sha256:" + "a" * 64)


def finish(recorder: JobRecorder, index: int, code: int, out: str = "", err: str = "") -> None:
    recorder.handle(TaskChanged(index, "running", "vm (abc)", started=100.0))
    for stream, text in (("stdout", out), ("stderr", err)):
        if text:
            recorder.handle(TaskOutput(index, text.splitlines(), stream, text))
    state = "complete" if code == 0 else "failed"
    recorder.handle(TaskChanged(index, state, "vm (abc)", code, finished=102.5))


def test_a_result_and_its_failure_line():
    recorder = recorded(6)
    recorder.name = "sweep"
    for i in range(6):
        finish(recorder, i, 7 if i in (2, 4, 5) else 0, f"out {i}\n", "boom\n" if i == 2 else "")
    result = JobResult(recorder, "svc", 4.0)
    assert [t.index for t in result.failed] == [2, 4, 5]
    assert result.outputs[2] == "out 2\nboom\n" and result.tasks[2].stderr == "boom\n"
    assert result.tasks[0].duration == 2.5
    assert result.records()[3] == {
        "X": 3, "index": 3, "node": "vm (abc)", "state": "complete", "exit_code": 0,
        "duration": 2.5, "output": "out 3\n",
    }  # fmt: skip
    assert repr(result) == "Job sweep: 6 tasks on 1 node in 4.0s: 3 complete, 3 failed"
    line = str(failure(result))
    assert line == (
        "3 of 6 tasks failed: X=2 exited 7 on node vm (abc): boom; X=4 exited 7 on node vm "
        "(abc): out 4; X=5 exited 7 on node vm (abc): out 5 (docker_magics.last_job() has "
        "every result)."
    )
    assert failure(result).result is result


def test_the_failure_line_stays_short_for_many_failures():
    recorder = recorded(500)
    for i in range(500):
        finish(recorder, i, 1, "x" * 300 + "\n")
    line = str(failure(JobResult(recorder, "svc", 1.0)))
    assert line.startswith("500 of 500 tasks failed: X=0 exited 1 on node vm (abc): xxx")
    assert "; 497 more (docker_magics.last_job() has every result)." in line
    assert len(line) < 600
    html = JobResult(recorder, "svc", 1.0)._repr_html_()
    assert html.count("<tr>") == 52 and "450 more tasks" in html  # head, 50 rows, a note


def test_stopped_jobs_say_which_tasks_ran():
    recorder = recorded(3)
    finish(recorder, 0, 0)
    recorder.handle(TaskChanged(1, "running"))
    recorder.handle(TaskChanged(2, "pending", message="no suitable node"))
    recorder.stop_live("the job was stopped")
    states = [t.state for t in recorder.tasks]
    assert states == ["complete", "stopped", "not started"]
    assert "not started" in str(failure(JobResult(recorder, "svc", 1.0)))
    assert "did not complete" in str(failure(JobResult(recorder, "svc", 1.0)))


def test_text_progress_of_a_small_job_shows_everything():
    clock = Clock()
    recorder = recorded(2)
    out, err = io.StringIO(), io.StringIO()
    view = JobText(recorder, out, err, clock=clock)
    view.start()
    for i, code in ((0, 0), (1, 3)):
        event = TaskChanged(i, "running", "vm (abc)", started=100.0)
        recorder.handle(event), view.handle(event)
        line = ev.Log([f"hello {i}"], str(i), "stdout")
        recorder.handle(line), view.handle(line)
        clock.t += 1
        ended = TaskChanged(i, "complete" if code == 0 else "failed", "vm (abc)", code, "",
                            100.0, 101.5)  # fmt: skip
        output = TaskOutput(i, [f"hello {i}"], "stdout", f"hello {i}\n")
        for event in (output, ended):  # kept, not shown (what shows comes as ev.Log)
            recorder.handle(event), view.handle(event)
    view.finish("2 of 2 failed")
    assert out.getvalue().splitlines() == [
        "Job sweep: 2 tasks (X) of reg/img:1@sha256:aaaaaaaaaaaa…",
        "X=0: running on vm (abc)",
        "[X=0] hello 0",
        "X=0: complete in 1.5s on vm (abc)",
        "X=1: running on vm (abc)",
        "[X=1] hello 1",
    ]
    assert err.getvalue().splitlines() == [
        "X=1: failed (exit code 3) in 1.5s on vm (abc)",
        "FAILED after " + err.getvalue().split("FAILED after ")[1].strip(),
    ]


def test_text_progress_of_a_big_noisy_job_stays_bounded():
    clock = Clock()
    recorder = recorded(2000)
    out = io.StringIO()
    view = JobText(recorder, out, out, clock=clock)
    view.start()
    for i in range(2000):  # 2000 tasks of 100 lines each, over 200 s
        clock.t += 0.1
        for event in (
            TaskChanged(i, "running", "vm (abc)", started=clock.t),
            ev.Log([f"{i} line {n}" for n in range(100)], str(i), "stdout"),
            TaskChanged(i, "complete", "vm (abc)", 0, "", clock.t, clock.t + 1),
        ):
            recorder.handle(event), view.handle(event)
        view.flush()
    view.finish(None)
    shown = out.getvalue()
    assert len(shown.encode()) < 40_000, len(shown)
    assert "more lines (all in the result's log)" in shown
    assert "… 2000/2,000 tasks ended" not in shown  # totals come while it runs
    assert "tasks ended" in shown


def test_the_widget_shows_the_tasks_worth_a_look():
    recorder = recorded(40)
    for i in range(40):
        if i < 20:
            finish(recorder, i, 1 if i in (3, 17) else 0)
        elif i < 25:
            recorder.handle(TaskChanged(i, "running", "vm (abc)"))
    chosen = _chosen(recorder.tasks, 12)
    assert len(chosen) == 12
    assert {3, 17, 20, 21, 22, 23, 24} <= {t.index for t in chosen}
    assert [t.index for t in chosen] == sorted(t.index for t in chosen)
    widget = JobWidget(recorder)
    table, log = widget.panels_html()
    assert table.count("<tr>") == 13 and "28 more tasks" in table
    assert widget.bar_state() == (20, 40)
    assert "20/40 tasks ended, 5 running, 15 pending, 2 failed" in widget.header_html()
