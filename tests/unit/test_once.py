"""Each message once, seen through IPython's own display machinery (a real shell, no
kernel): a result whose summary the progress view showed is not shown again in that cell,
and shows in full anywhere else; the record that replaces a widget view at its end."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell

from docker_magics.builds.progress import BuildWidget
from docker_magics.builds.result import BuildRecorder
from docker_magics.display.once import said
from docker_magics.engine import events as ev
from docker_magics.registry.result import PushResult


@pytest.fixture
def shell():
    return InteractiveShell.instance()


def pushed() -> PushResult:
    return PushResult("r/x", ["1"], [ev.Pushed("1", "sha256:ab", 525)], {"a": "Pushed"}, 1.0)


def test_said_in_this_cell_shows_nothing_more_and_in_full_elsewhere(shell, capsys):
    value = pushed()
    format = shell.display_formatter.format
    full = format(value)[0]
    assert full["text/plain"].startswith("Pushed r/x:1 in 1.0s: 1 layer uploaded")
    assert "text/html" in full  # not said: shown as usual

    said(value)
    assert format(value) == ({}, {})  # in this cell: nothing
    # (a terminal has printed "Out[n]:" already: a short line says where the summary is)
    assert capsys.readouterr().out == "<PushResult: shown above>\n"
    shell.execution_count += 1  # another cell
    assert format(value)[0] == full
    # As part of another value it is shown: only the cell's own result is left out.
    shell.execution_count -= 1
    assert "Pushed r/x:1" in format([value])[0]["text/plain"]


def test_the_record_of_a_finished_build_is_its_last_state(shell):
    recorder = BuildRecorder("app:1", total=2)
    for event in (
        ev.StepStarted("1", "FROM base", 1, 2),
        ev.StepFinished("1"),
        ev.StepStarted("2", "RUN make", 2, 2),
        ev.Log(["compiling"], "2"),
        ev.StepFinished("2"),
    ):
        recorder.handle(event)
    widget = BuildWidget(recorder)

    class Handle:  # where IPython displayed the widgets
        def update(self, record):
            self.record = record

    widget.display_handle = Handle()
    widget.finish(None, "Built abc (app:1)")
    record = widget.display_handle.record
    data = shell.display_formatter.format(record)[0]
    assert set(data) == {"text/plain", "text/html"}
    assert data["text/plain"].splitlines() == [
        "Built abc (app:1)",
        "  done       0.0s  1/2 FROM base",
        f"  done    {recorder.steps['2'].duration:>6.1f}s  2/2 RUN make",
        "    compiling",
    ]
    html = data["text/html"]
    assert "docker-magics-record" in html and "docker-magics-bar-success" in html
    assert html.index("Built abc") < html.index("1/2 FROM base") < html.index("compiling")


def test_push_summaries_name_the_image_as_name_and_tag():
    one = pushed()
    assert one.summary().startswith("Pushed r/x:1 in 1.0s")
    several = PushResult(
        "127.0.0.1:5000/demo",
        [],
        [ev.Pushed(t, "sha256:ab", 525) for t in ("1", "2", "latest")],
        {"a": "Layer already exists"},
        0.4,
    )
    assert several.summary() == (
        "Pushed 127.0.0.1:5000/demo:1, :2 and :latest in 0.4s: 0 layers uploaded, 1 already there"
    )
    # The result's own view: the summary, the layers, then the digest lines (as the CLI).
    html = several._repr_html_()
    assert html.index("Pushed") < html.index("<details>") < html.index("1: digest: sha256:ab")


def test_a_terminal_shows_no_out_prompt_for_a_value_said_in_its_cell(shell, capsys):
    """IPython prints ``Out[n]:`` before it asks the formatters; the display hook leaves
    such a value out, and it is still ``_`` and the cell's result."""
    from docker_magics.display.once import quiet_in_terminals, show_in_terminals

    def make():
        value = pushed()
        said(value)
        return value

    shell.user_ns["make"] = make
    before = shell.run_cell("make()", store_history=True)
    assert "Out[" in capsys.readouterr().out  # IPython's own hook: "Out[n]: <... above>"
    quiet_in_terminals(shell)
    try:
        quiet_in_terminals(shell)  # (once)
        ran = shell.run_cell("make()", store_history=True)
        assert capsys.readouterr().out == ""
        assert isinstance(ran.result, PushResult) and shell.user_ns["_"] is ran.result
        assert shell.user_ns[f"_{ran.execution_count}"] is ran.result
        first = ran.result
        ran = shell.run_cell("make();", store_history=True)
        assert capsys.readouterr().out == "" and ran.result is None  # as IPython does
        later = shell.run_cell("_", store_history=True)
        assert "Pushed r/x:1 in 1.0s" in capsys.readouterr().out  # elsewhere: in full
        assert later.result is first and first is not before.result
    finally:
        show_in_terminals(shell)
    shell.run_cell("make()", store_history=True)
    assert "Out[" in capsys.readouterr().out
