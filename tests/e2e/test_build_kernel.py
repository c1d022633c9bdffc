"""%%docker_build in a real kernel, seen as a notebook frontend sees it: widget progress,
bounded output for a flood of log lines, and interrupts."""

from __future__ import annotations

import re
import time

import pytest

pytestmark = pytest.mark.engine


@pytest.fixture
def engine_api(no_leftovers):
    return no_leftovers


def test_widget_progress_ends_green_as_a_record_that_says_it_once(kernel):
    ex = kernel.run(
        "%%docker_build -t dm-test/widget --progress widget --no-cache --build-arg BASE={BASE}\n"
        "ARG BASE\nFROM $BASE\nRUN echo one\nRUN echo two && sleep 1\n"
    )
    assert ex.status == "ok", ex.error
    widget = next(m for m in ex.messages if m["msg_type"] == "display_data")
    assert "application/vnd.jupyter.widget-view+json" in widget["content"]["data"]
    assert len(ex.widgets_of("IntProgressModel")) == 1  # live: a bar
    # At the end a static record replaced the widgets: what a saved notebook keeps.
    (shown,) = ex.displays()  # and no execute_result: the record said it
    assert set(shown) == {"text/html", "text/plain"}
    html, text = shown["text/html"], shown["text/plain"]
    assert "docker-magics-bar-success" in html and "width:100.0%" in html
    assert "dm-test/widget" in html and "RUN echo two &amp;&amp; sleep 1" in html
    assert html.count("Built ") == 1 and text.startswith("Built ") and text.count("Built ") == 1
    assert [line.split()[0] for line in text.splitlines()[1:5]] == ["done"] * 4
    assert "Built " not in ex.stream() + ex.stream("stderr")
    # The value is still the cell's: _ and Out, in full in another cell.
    again = kernel.run("r = _\nprint(type(r).__name__, r.tags)\nr")
    assert again.stream() == "BuildResult ['dm-test/widget:latest']\n"
    (result,) = again.displays()
    assert result["text/plain"].startswith("Built ")


def test_widget_progress_ends_red_and_the_error_line_says_why_once(kernel):
    ex = kernel.run(
        "%%docker_build --progress widget --build-arg BASE={BASE}\n"
        "ARG BASE\nFROM $BASE\nRUN echo last words; exit 5\n"
    )
    assert ex.status == "error"
    assert ex.usage_error == (
        "Step 3/3 (RUN echo last words; exit 5) failed with exit code 5: last words"
    )
    assert "Traceback" not in str(ex.error.get("traceback"))
    (shown,) = ex.displays()
    html = shown["text/html"]
    assert "docker-magics-bar-danger" in html and "FAILED after " in html
    assert "last words" in html and ">failed<" in html
    assert "exit code 5" not in html + shown["text/plain"]  # the error line says it, once


# 200,000 lines of 80 characters, in 40 bursts over ~5 s, as a chatty step prints them.
FLOOD = (
    'RUN awk \'BEGIN{p=sprintf("%73s",""); gsub(/ /,"x",p); for(i=1;i<=200000;i++)'
    '{printf "%06d %s\\n", i, p; if(i%5000==0){fflush(); system("sleep 0.1")}}}\'\n'
)


@pytest.mark.parametrize("mode", ["plain", "widget"])
def test_a_flood_of_log_lines_stays_bounded(kernel, mode):
    ex = kernel.run(
        f"%%docker_build -t dm-test/flood --no-cache --progress {mode} --build-arg BASE={{BASE}}\n"
        "ARG BASE\nFROM $BASE\n" + FLOOD
    )
    assert ex.status == "ok", ex.error
    assert ex.finished - ex.started > 3
    # Bounded whatever the log (16 MB here): every IOPub message of the cell, as the
    # kernel's socket delivered it, under 64 KB.
    assert ex.iopub_bytes < 64 * 1024, ex.iopub_bytes
    assert kernel.strays == []  # no output escaped the count by losing its cell
    # At most 10 output or widget messages in any second (creating the widgets aside), the
    # final redraw and the cell's result included.
    assert ex.max_in_window() <= 10, ex.max_in_window()
    if mode == "plain":  # the step's last lines show, then the summary
        out = ex.stream().splitlines()
        assert out[-7:-2] == [f"{n:06d} " + "x" * 73 for n in range(199_996, 200_001)]
        assert out[-1].startswith("Built ")
    else:
        (record,) = ex.displays()
        assert "200000 " + "x" * 73 in record["text/html"]
    check = kernel.run("r = _\nprint(r.log.count, r.log.text().count('\\n'))")
    count, newlines = map(int, check.stream().split())
    assert count >= 200_000 and newlines == count  # the full log is kept


def test_interrupt_stops_the_build_on_the_engine(kernel, engine_api):
    kernel.run("import os; BASE = os.environ['BASE']")
    ex = kernel.start(
        "%%docker_build --progress plain --no-cache --build-arg BASE={BASE}\n"
        "ARG BASE\nFROM $BASE\nRUN echo started; sleep 120; echo never\n"
    )
    kernel.wait_for_output(ex, "\nstarted\n")  # the RUN's output: its container runs
    assert len(engine_api.containers(all=True)) == 1  # the RUN step's container
    kernel.interrupt()
    kernel.wait(ex, timeout=30)
    assert ex.usage_error == (
        "Build interrupted at step 3/3 RUN echo started; sleep 120; echo never; it was stopped "
        "on the engine."
    )
    assert ex.finished - ex.started < 20
    deadline = time.monotonic() + 10
    while engine_api.containers(all=True) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert engine_api.containers(all=True) == []
    assert kernel.run("print(6 * 7)").stream() == "42\n"  # the kernel is still usable
    # The log up to the interrupt is kept.
    kept = kernel.run("import docker_magics; print(docker_magics.last_build().log.text())")
    assert "started" in kept.stream().splitlines()  # the RUN's own output, not its header


def test_an_interrupted_widget_build_leaves_a_red_record(kernel, engine_api):
    ex = kernel.start(
        "%%docker_build --progress widget --no-cache --build-arg BASE={BASE}\n"
        "ARG BASE\nFROM $BASE\nRUN echo started; sleep 120\n"
    )
    deadline = time.monotonic() + 60
    while not engine_api.containers() and time.monotonic() < deadline:
        time.sleep(0.2)  # the RUN step's container runs
    kernel.interrupt()
    kernel.wait(ex, timeout=30)
    assert ex.usage_error.startswith("Build interrupted at step 3/3 RUN echo started")
    (record,) = ex.displays()
    assert (
        "Interrupted after " in record["text/html"]
        and "docker-magics-bar-danger" in (record["text/html"])
    )
    assert record["text/plain"].startswith("Interrupted after ")
    # The step was stopped, not failed; the result says it was interrupted.
    assert re.search(r"^  stopped +[\d.]+s  3/3 RUN echo started", record["text/plain"], re.M)
    summary = kernel.run("import docker_magics; print(docker_magics.last_build().summary())")
    summary = summary.stream()
    assert summary.startswith("Build interrupted after "), summary
    assert summary.rstrip().endswith(
        " at step 3/3 RUN echo started; sleep 120; it was stopped on the engine."
    )
    while engine_api.containers(all=True) and time.monotonic() < deadline:
        time.sleep(0.2)


def test_interrupt_stops_a_loop_of_api_builds(kernel, engine_api):
    """`except Exception` around dm.build() in a loop must not swallow Ctrl-C: Interrupted
    is a KeyboardInterrupt, so the loop stops at the first interrupt."""
    ex = kernel.start(
        "import os\n"
        "import docker_magics as dm\n"
        "attempts = 0\n"
        "for i in range(3):\n"
        "    attempts += 1\n"
        "    try:\n"
        "        dm.build(\n"
        "            f\"FROM {os.environ['BASE']}\\nRUN echo started {i}; sleep 120\\n\",\n"
        "            no_cache=True, progress='plain',\n"
        "        )\n"
        "    except Exception as exc:\n"
        "        print('swallowed', type(exc).__name__)\n"
    )
    kernel.wait_for_output(ex, "\nstarted 0\n")
    kernel.interrupt()
    kernel.wait(ex, timeout=30)
    assert ex.status == "error" and ex.error["ename"] == "Interrupted", ex.error
    assert ex.error["evalue"].startswith("Build interrupted at step 2/2 RUN echo started 0")
    assert "swallowed" not in ex.stream()
    assert kernel.run("print(attempts)").stream() == "1\n"
    deadline = time.monotonic() + 10
    while engine_api.containers(all=True) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert engine_api.containers(all=True) == []
