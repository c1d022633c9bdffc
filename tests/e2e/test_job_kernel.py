"""%docker_job in a real kernel on the test swarm, seen as a notebook frontend sees it:
widget progress, output bounded whatever the tasks print, and an interrupt that stops the
tasks and removes the service."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def kernel(swarm, swarm_image):
    from tests.support.kernel import Kernel

    k = Kernel(env={"DOCKER_HOST": swarm.url, "IMAGE": swarm_image})
    k.run(
        "%load_ext docker_magics\n%docker_connect\nimport os; IMAGE = os.environ['IMAGE']\n"
        "import docker_magics as _dm"
    )
    yield k
    k.shutdown()


@pytest.fixture
def clean(swarm):
    yield swarm
    assert swarm.services() == [], "a job's service was left behind"
    assert swarm.running() == [], "a job's task was left running"


def test_widget_progress_ends_green_with_a_row_per_task(kernel, clean):
    ex = kernel.run(
        "%docker_job --each X=1,2,3 --progress widget {IMAGE} sh -c 'echo hello $X; sleep 1'"
    )
    assert ex.status == "ok", ex.error
    assert len(ex.widgets_of("IntProgressModel")) == 1  # live: a bar
    # At the end a static record replaced the widgets, and said it once (no execute_result).
    (record,) = ex.displays()
    html = record["text/html"]
    assert "docker-magics-bar-success" in html and "width:100.0%" in html
    assert html.count(">complete<") == 3 and "X=2" in html
    assert html.count("Job dm-job-") == 1 and ": 3 complete" in html
    assert record["text/plain"].startswith("Job dm-job-")
    # The value is the cell's all the same, with its table of tasks anywhere else.
    (result,) = kernel.run("_").displays()
    assert "<table" in result["text/html"] and result["text/html"].count(">complete<") == 3


def test_widget_progress_ends_red_on_failure(kernel, clean):
    ex = kernel.run("%docker_job --each X=0,3 --progress widget {IMAGE} sh -c 'exit $X'")
    assert ex.usage_error.startswith("1 of 2 tasks failed: X=3 exited 3 on node ")
    (record,) = ex.displays()  # the record in red; the error line itself once, below it
    html = record["text/html"]
    assert "docker-magics-bar-danger" in html and ">failed<" in html
    assert "1 of 2 tasks failed" not in html


# Six tasks printing 20,000 lines each, in bursts over ~4 s.
FLOOD = (
    "%docker_job --replicas 6 --progress {mode} {{IMAGE}} sh -c "
    "'for i in $(seq 1 8); do seq 1 2500 | sed \"s/^/$TASK_INDEX-line-/\"; sleep 0.5; done'"
)


@pytest.mark.parametrize("mode", ["plain", "widget"])
def test_a_flood_of_output_stays_bounded(kernel, clean, mode):
    ex = kernel.run(FLOOD.format(mode=mode))
    assert ex.status == "ok", ex.error
    assert ex.finished - ex.started > 3
    assert ex.iopub_bytes < 64 * 1024, ex.iopub_bytes
    assert kernel.strays == []
    assert ex.max_in_window() <= 10, ex.max_in_window()
    if mode == "plain":
        assert "more lines (all in the result's log)" in ex.stream()
    check = kernel.run("print([o.count(chr(10)) for o in _.outputs])")
    assert check.stream() == str([20_000] * 6) + "\n"  # every task's whole output is kept


def test_interrupt_stops_the_tasks_and_removes_the_service(kernel, clean):
    ex = kernel.start(
        "%docker_job --replicas 3 --progress plain {IMAGE} sh -c 'echo up; sleep 300'"
    )
    kernel.wait_for_output(ex, "running on", timeout=60)
    deadline = time.monotonic() + 30
    while len(clean.running()) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(clean.running()) == 3
    kernel.interrupt()
    kernel.wait(ex, timeout=60)
    assert ex.usage_error.startswith("Interrupted the job dm-job-")
    assert ex.usage_error.endswith(
        ": its tasks were stopped and its service removed. docker_magics.last_job() has the rest."
    )
    # Stopped by the time the line shows, not later.
    assert clean.running() == [] and clean.services() == []
    check = kernel.run("print([t.state for t in _dm.last_job()], _dm.last_job().outputs)")
    assert check.stream() == str(["stopped"] * 3) + " " + str(["up\n"] * 3) + "\n"
    assert kernel.run("print(6 * 7)").stream() == "42\n"
