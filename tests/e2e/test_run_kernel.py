"""%docker_run in a real kernel: a flood of output stays bounded, an interrupt stops and
removes the container, and an engine that dies mid-run gives one line."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.engine


@pytest.fixture
def engine_api(no_leftovers):
    return no_leftovers


def test_output_of_100000_lines_is_bounded(kernel, engine_api):
    ex = kernel.run(
        "%docker_run {BASE} sh -c 'for i in $(seq 1 10); do seq 1 10000; sleep 0.2; done'"
    )
    assert ex.status == "ok", ex.error
    duration = ex.finished - ex.started
    assert ex.iopub_bytes < 64 * 1024, ex.iopub_bytes
    assert len(ex.output_messages) <= 10 * duration + 10
    assert "more lines (all in the result's log)" in ex.stream()
    check = kernel.run("print(_.output.count, _.stdout.count(chr(10)))")
    assert check.stream() == "100000 100000\n"


def test_a_long_flood_stays_bounded_by_size(kernel, engine_api):
    """~12 s of 80-character lines: what reaches the notebook grows with the log of the
    time, not with the time (the budget of the progress views)."""
    line = "x" * 72
    ex = kernel.run(
        "%docker_run {BASE} sh -c 'for i in $(seq 1 60); do "
        f"for j in $(seq 1 500); do echo $j-{line}; done; sleep 0.2; done'"
    )
    assert ex.status == "ok", ex.error
    assert ex.finished - ex.started > 10
    assert ex.iopub_bytes < 64 * 1024, ex.iopub_bytes
    assert ex.max_in_window() <= 10
    assert ex.stream().splitlines()[-1] == f"500-{line}"  # the end is shown


def test_following_logs_shows_them_live(kernel, engine_api):
    kernel.run(
        "%docker_run -d --name dm-ticker {BASE} sh -c "
        "'for i in 1 2 3 4 5 6 7 8; do echo tick $i; sleep 0.5; done'"
    )
    try:
        ex = kernel.start("%docker_logs -f dm-ticker")
        kernel.wait_for_output(ex, "tick 2", timeout=30)
        assert ex.finished is None  # shown while the container still runs
        kernel.wait(ex, timeout=60)
        assert ex.status == "ok", ex.error
        assert [f"tick {i}" for i in range(1, 9)] == ex.stream().splitlines()[:8]
    finally:
        engine_api.remove_container("dm-ticker", force=True)


def test_interrupt_stops_and_removes_the_container(kernel, engine_api):
    ex = kernel.start("%docker_run {BASE} sh -c 'echo running; sleep 300'")
    kernel.wait_for_output(ex, "running")
    assert len(engine_api.containers()) == 1
    kernel.interrupt()
    kernel.wait(ex, timeout=30)
    assert ex.usage_error == "Run interrupted; the container was stopped and removed."
    deadline = time.monotonic() + 10
    while engine_api.containers(all=True) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert kernel.run("print(6 * 7)").stream() == "42\n"


def test_engine_dying_mid_run(mortal_engine):
    """A private engine killed (SIGKILL) while a run streams from it."""
    dockerd, k = mortal_engine
    ex = k.start("%docker_run dm/bb:1 sh -c 'echo alive; sleep 300'")
    k.wait_for_output(ex, "alive")
    dockerd.kill()
    k.wait(ex, timeout=60)
    assert ex.usage_error.startswith("Lost the engine during the run: ")
    assert dockerd.url in ex.usage_error
    assert k.run("print('still here')").stream() == "still here\n"
    # The next magic says what is wrong, in one line too.
    nxt = k.run("%docker_ps")
    assert nxt.usage_error.startswith(f"No Docker engine answers at {dockerd.url}")
    # Back up, a fresh %docker_connect still removes the run's container.
    dockerd.start()
    assert k.run("%docker_connect").status == "ok"
    assert dockerd.api().containers(all=True) == []
