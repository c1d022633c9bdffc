"""%docker_run_notebook's pure parts: what the runner said in a real container
(data/notebook-run-failed.jsonl: a parameterised notebook whose cell 6 of 7 raises, as
``inside.py`` reported it from the image; recorded with tests/e2e's freeze image) folded
into cells and shown as text; where the executed copy goes; which cells run."""

from __future__ import annotations

import io
import json
from pathlib import Path

import nbformat
import pytest

from docker_magics.engine import events as ev
from docker_magics.errors import BadArgument
from docker_magics.reproduce.notebooks import executed_path, planned, read
from docker_magics.reproduce.progress import NotebookText
from docker_magics.reproduce.result import NotebookRecorder, NotebookResult

DATA = Path(__file__).parent / "data" / "notebook-run-failed.jsonl"


def recorded_events() -> list[ev.Log]:
    """The container's output as the engine's stream gave it, through the same splitter."""
    splitter = ev.OutputSplitter(keep_raw=True)
    found = []
    for line in DATA.read_text().splitlines():
        message = json.loads(line)
        found += splitter.feed(message["stream"], message["raw"].encode())
    return found + list(splitter.close())


def the_notebook() -> dict:
    sources = [
        "alpha = 1\nn = 3\nlabel = 'x'",
        "# Parameters\npause = 0.2\nlabel = 'hi'\n",
        "import six, tabulate\nprint(six.__version__, tabulate.__version__)",
        "result = [alpha * i for i in range(n)]\nprint(label, result)",
        "import time; time.sleep(float(pause if 'pause' in dir() else 0))",
        "1 / (alpha - 1)",
        "print('after')",
    ]
    cells = [nbformat.v4.new_markdown_cell("# Analysis")]
    cells += [nbformat.v4.new_code_cell(s) for s in sources]
    cells.insert(3, nbformat.v4.new_code_cell("   \n"))  # blank: not run, not counted
    return json.loads(nbformat.writes(nbformat.v4.new_notebook(cells=cells)))


def test_the_cells_to_run_are_the_code_cells_with_code():
    cells = planned(the_notebook())
    assert [(c.number, c.index, c.source) for c in cells][:3] == [
        (1, 1, "alpha = 1"),
        (2, 2, "# Parameters"),
        (3, 4, "import six, tabulate"),
    ]
    assert len(cells) == 7 and all(c.status == "pending" for c in cells)


def test_the_runners_events_become_cells():
    recorder = NotebookRecorder("analysis.ipynb in img", planned(the_notebook()))
    for event in recorded_events():
        recorder.handle(event)
    recorder.finish()
    assert recorder.kernel == "python3"
    assert [c.status for c in recorder.cells] == ["ok"] * 5 + ["failed", "not run"]
    failed = recorder.cells[5]
    assert failed.error == "ZeroDivisionError: division by zero"
    assert failed.source == "1 / (alpha - 1)" and failed.seconds == pytest.approx(0.194)
    assert recorder.failure["number"] == 6
    # The kernel's own warning on stderr is kept as the run's log, not taken for an event.
    assert "Kernel is running over TCP" in recorder.log.text()
    result = NotebookResult("analysis.ipynb", "out.ipynb", "img", {}, recorder.cells, 1.0, "failed")
    assert result.failed_cell is failed and not result.ok
    assert "<td>failed</td>" in result._repr_html_()


def test_text_shows_one_line_per_cell_and_the_failure_on_stderr():
    recorder = NotebookRecorder("analysis.ipynb in img", planned(the_notebook()))
    out, err = io.StringIO(), io.StringIO()
    text = NotebookText(recorder, out, err)
    text.start()
    for event in recorded_events():
        recorder.handle(event)
        text.handle(event)
    text.finish("the error line")
    lines = out.getvalue().splitlines()
    assert lines[0] == "Running analysis.ipynb in img: 7 cells, kernel python3"
    assert [line.split()[0] for line in lines[1:]] == ["[1/7]", "[2/7]", "[3/7]", "[4/7]", "[5/7]"]
    assert lines[5].endswith("s  import time; time.sleep(float(pause if 'pause' in dir() else 0))")
    assert err.getvalue().splitlines()[0] == (
        "[6/7] failed after 0.2s: 1 / (alpha - 1)  -> ZeroDivisionError: division by zero"
    )
    assert "TCP" not in out.getvalue() + err.getvalue()


def test_the_executed_copy_goes_beside_the_input_by_default(tmp_path):
    notebook = tmp_path / "analysis.ipynb"
    assert executed_path(notebook, None) == tmp_path / "analysis.executed.ipynb"
    assert executed_path(notebook, str(tmp_path / "out.ipynb")) == tmp_path / "out.ipynb"
    (tmp_path / "runs").mkdir()
    assert (
        executed_path(notebook, str(tmp_path / "runs"))
        == tmp_path / "runs" / "analysis.executed.ipynb"
    )


def test_only_nbformat_4_notebooks(tmp_path):
    bad = tmp_path / "x.ipynb"
    bad.write_text("{not json")
    with pytest.raises(BadArgument, match="is not a notebook"):
        read(bad)
    bad.write_text(json.dumps({"nbformat": 3, "worksheets": []}))
    with pytest.raises(BadArgument, match="is not an nbformat 4 notebook. Convert it with"):
        read(bad)


def test_widgets_show_the_running_cell_a_bar_and_a_table():
    from docker_magics.reproduce.progress import NotebookWidgets

    recorder = NotebookRecorder("analysis.ipynb in img", planned(the_notebook()))
    widgets = NotebookWidgets(recorder)
    events = iter(recorded_events())
    for event in events:
        recorder.handle(event)
        if recorder.running is not None and recorder.running.number == 5:
            break
    assert "— cell 5 of 7" in widgets.header_html()
    assert widgets.bar_state() == (4, 7)
    table = widgets.panels_html()[0]
    assert table.count("<tr>") == 5 and "running" in table
    for event in events:  # the rest
        recorder.handle(event)
    recorder.finish()
    assert widgets.bar_state() == (5, 7)
    assert "ZeroDivisionError: division by zero" in widgets.panels_html()[0]

    class Handle:  # where IPython displayed the widgets: the record of the end replaces them
        def update(self, record):
            self.record = record

    widgets.display_handle = Handle()
    widgets.finish("the error line")
    record = widgets.display_handle.record._repr_html_()
    assert "docker-magics-bar-danger" in record and "ZeroDivisionError" in record
