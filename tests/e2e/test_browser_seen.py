"""What a person sees in JupyterLab (Chromium, Playwright), beyond the progress views of
test_browser.py: a saved notebook reopened in a fresh JupyterLab keeps a readable record of
its builds, pushes and runs; %docker_logs shows its lines once; %docker_history and
%docker_df draw tables and charts whose labels fit; tutorial 03's chart fits its labels.
Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import nbformat
import pytest

from docker_magics.display.charts import TOP_COLOR
from tests.support.lab import (
    CELLS,
    STDERR,
    clipped_texts,
    notebook,
    open_notebook,
    output_text,
    run_cell,
    running_lab,
    screenshot,
    wait_idle,
    wait_until,
)

pytestmark = pytest.mark.engine

ROOT = Path(__file__).resolve().parents[2]
WIDGET = "application/vnd.jupyter.widget-view+json"


def saved_outputs(path: Path) -> list[list[dict]]:
    return [cell.get("outputs", []) for cell in json.loads(path.read_text())["cells"]]


def test_a_saved_notebook_reopened_in_a_fresh_jupyterlab_keeps_its_records(
    lab, browser, busybox, registry, engine
):
    url, root = lab
    repo = f"{registry.host}/dm/e2e-record"
    notebook(root, "e2e-record.ipynb", [
        "%load_ext docker_magics\n%docker_connect",
        f"%%docker_build -t {repo}:1 --no-cache\nFROM {busybox}\nRUN echo built here\n",
        f"%docker_push {repo}:1",
        f"%docker_run {busybox} echo ran here",
        f"%%docker_build --no-cache\nFROM {busybox}\nRUN echo about to fail >&2; exit 2\n",
    ])  # fmt: skip
    page = open_notebook(browser, url, "e2e-record.ipynb")
    try:
        run_cell(page, 0, ".jp-OutputArea-output")
        for index in (1, 2):
            run_cell(page, index, ".docker-magics-record")
        run_cell(page, 3, ".jp-OutputArea-output")
        wait_idle(page, 3)
        run_cell(page, 4, STDERR)
        wait_idle(page, 4)
        page.keyboard.press("Control+s")
        path = root / "e2e-record.ipynb"
        wait_until(lambda: len(saved_outputs(path)[4]) >= 2, 30, "the notebook saved")
    finally:
        page.close()

    # The file: a static record (HTML and text) where the widgets were, nothing to render
    # with a kernel.
    outputs = saved_outputs(path)
    for index, said in ((1, "Built "), (2, f"Pushed {repo}:1 in "), (4, "FAILED after ")):
        (record,) = [o for o in outputs[index] if o["output_type"] == "display_data"]
        assert set(record["data"]) == {"text/html", "text/plain"}, record["data"].keys()
        assert "".join(record["data"]["text/plain"]).startswith(said)
    assert WIDGET not in json.dumps(outputs)
    assert not any(o["output_type"] == "execute_result" for o in outputs[1] + outputs[2])

    # A fresh JupyterLab (no widget ever existed there) shows the record.
    env = {"DOCKER_HOST": engine.url}
    with running_lab(root, env) as fresh:
        page = open_notebook(browser, fresh, "e2e-record.ipynb")
        try:
            shown = []
            for cell in range(1, 5):  # (JupyterLab renders the cells in view)
                page.locator(CELLS).nth(cell).scroll_into_view_if_needed()
                # All of the cell's saved outputs, not just its first: each is rendered
                # on its own.
                rendered = page.locator(CELLS).nth(cell).locator(".jp-OutputArea-output")
                wait_until(
                    lambda: rendered.count() == len(outputs[cell]),  # noqa: B023 - called here
                    30,
                    f"cell {cell}'s {len(outputs[cell])} outputs",
                )
                shown.append(output_text(page, cell))
            text = "\n".join(shown)
            assert "Error displaying widget" not in text and "Loading widget" not in text
            assert not re.search(r"[VH]Box\(", text)
            built, pushed, ran, failed = shown
            assert built.startswith("Built ") and "built here" in built
            assert pushed.startswith(f"Pushed {repo}:1 in ") and "1: digest: sha256:" in pushed
            assert "ran here" in ran and "Exited with code 0" in ran
            assert failed.startswith("FAILED after ") and "\nabout to fail\n" in failed
            assert failed.count("exit code 2") == 1  # the error line, once
            screenshot(page, "reopened-notebook.png")
        finally:
            page.close()


def test_logs_show_their_lines_once(lab, browser, busybox):
    url, root = lab
    notebook(root, "e2e-logs.ipynb", [
        "%load_ext docker_magics\n%docker_connect",
        f"%docker_run --rm=false --name dm-e2e-logs {busybox} sh -c 'echo one; echo two'",
        "%docker_logs dm-e2e-logs",
        "log = _\nprint(type(log).__name__, log.count, log.stdout.split())",
        "%docker_rm dm-e2e-logs",
    ])  # fmt: skip
    page = open_notebook(browser, url, "e2e-logs.ipynb")
    try:
        for index in range(5):
            run_cell(page, index, ".jp-OutputArea-output")
            wait_idle(page, index)
        assert output_text(page, 2).split() == ["one", "two"]  # once, and nothing else
        assert page.locator(CELLS).nth(2).locator(".jp-OutputArea-executeResult").count() == 0
        assert output_text(page, 3).strip() == "ContainerLog 2 ['one', 'two']"
        screenshot(page, "logs.png")
    finally:
        page.close()


def test_pictures_of_an_image_and_of_the_disk(lab, browser, busybox):
    url, root = lab
    notebook(root, "e2e-pictures.ipynb", [
        "%load_ext docker_magics\n%docker_connect",
        f"%%docker_build -t dm-test/pictures --progress none\nFROM {busybox}\n"
        "RUN head -c 400000 /dev/urandom > /big\nENV LONG_NAME_FOR_A_LABEL=yes\n"
        "RUN echo a few bytes > /small\n",
        "%docker_history dm-test/pictures",
        "%docker_df",
    ])  # fmt: skip
    page = open_notebook(browser, url, "e2e-pictures.ipynb")
    try:
        run_cell(page, 0, ".jp-OutputArea-output")
        run_cell(page, 1, ".jp-OutputArea-output")
        run_cell(page, 2, ".docker-magics-history svg.docker-magics-chart")
        history = page.locator(CELLS).nth(2)
        rows = history.locator("tbody tr")
        assert rows.count() == 6  # busybox's 3 layers, then the Dockerfile's 3
        instructions = [rows.nth(i).locator("td").nth(2).inner_text() for i in range(6)]
        assert instructions[3:] == [
            "RUN head -c 400000 /dev/urandom > /big",
            "ENV LONG_NAME_FOR_A_LABEL=yes",
            "RUN echo a few bytes > /small",
        ]
        chart = history.locator("svg.docker-magics-chart")
        assert clipped_texts(chart) == []
        # The largest layers stand out: busybox's binary and the 400 kB one.
        top = chart.locator(f"rect[fill='{TOP_COLOR}']")
        assert top.count() == 2
        big = chart.locator("g", has=page.locator(f"rect[fill='{TOP_COLOR}']"))
        big = big.all_text_contents()
        assert any("RUN head -c 400000" in t and "400kB" in t for t in big), big
        screenshot(page, "history.png")

        run_cell(page, 3, ".docker-magics-df svg.docker-magics-chart")
        df = page.locator(CELLS).nth(3)
        kinds = [r.locator("td").first.inner_text() for r in df.locator("tbody tr").all()]
        assert kinds == ["Images", "Containers", "Local Volumes", "Build Cache"]
        chart = df.locator("svg.docker-magics-chart")
        assert clipped_texts(chart) == []
        assert "reclaimable" in chart.text_content()
        df.scroll_into_view_if_needed()
        screenshot(page, "df.png")
    finally:
        page.close()


def test_tutorial_03s_chart_fits_its_labels(browser, tmp_path, monkeypatch):
    """The tutorial's own analysis on its own data (the cells that make them), drawn by the
    browser: no label or value runs past the picture's edge."""
    nb = nbformat.read(ROOT / "notebooks" / "03-data-science-image.ipynb", as_version=4)
    sources = [c.source for c in nb.cells if c.cell_type == "code"]
    analysis = next(s for s in sources if s.startswith("%%writefile ds-work/analysis.py"))
    data = next(s for s in sources if "measurements.csv" in s and "random.seed" in s)
    monkeypatch.chdir(tmp_path)
    work = tmp_path / "ds-work"
    work.mkdir()
    exec(data, {"work": work})  # noqa: S102 - the tutorial's own cell
    namespace: dict = {"__name__": "analysis"}
    exec(analysis.split("\n", 1)[1], namespace)  # noqa: S102 - the module it writes
    summary = namespace["run"](str(work / "measurements.csv"), str(work))
    assert any(len(f"{s['mean']} °C") >= 8 for s in summary)  # e.g. "19.16 °C"
    svg = (work / "plot.svg").read_text()
    page = browser.new_page(viewport={"width": 900, "height": 400})
    try:
        page.set_content(f"<html><body style='margin:0'>{svg}</body></html>")
        assert clipped_texts(page.locator("svg")) == []
        cities = page.locator("svg text").all_text_contents()
        assert {s["city"] for s in summary} <= set(cities)
        screenshot(page, "tutorial-03-chart.png")
    finally:
        page.close()
    assert os.path.getsize(work / "results.csv") > 0
