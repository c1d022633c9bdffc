"""Text as JupyterLab shows it (Chromium, Playwright): what a Dockerfile or a command says
shows as written, never typeset as maths (JupyterLab runs MathJax over HTML outputs), and
the columns of a record line up. Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import pytest

from tests.support.lab import CELLS, notebook, open_notebook, run_cell, screenshot, wait_idle

pytestmark = pytest.mark.engine

DOLLARS = "$HOME and $PATH"
MATH = "mjx-container"  # what MathJax puts where it typeset a formula


def typeset_done(page, index: int) -> None:
    """MathJax has run over the cell's output: it typeset the formula the cell shows on
    purpose (MathJax works after the output is in the page, cell after cell)."""
    page.locator(CELLS).nth(index).locator(MATH).first.wait_for(timeout=60000)


def test_dollars_show_as_written_in_tables_charts_summaries_and_records(lab, browser, busybox):
    url, root = lab
    image = "dm-test/dollars"
    notebook(root, "e2e-dollars.ipynb", [
        "%load_ext docker_magics\n%docker_connect\nimport docker_magics as dm",
        f"%%docker_build -t {image} --progress widget\nFROM {busybox}\n"
        f'RUN echo "{DOLLARS}" > /x && head -c 20000 /dev/urandom > /y\n',
        f"%docker_history {image}",
        f"%docker_run {busybox} sh -c 'echo {DOLLARS}'",
        f"%%docker_build --progress widget\nFROM {busybox}\nRUN echo '{DOLLARS}' >&2; exit 3\n",
        "dm.last_build()",
        # The control: MathJax is on, and has been over the cells above when this shows.
        "from IPython.display import HTML\nHTML('<div>a formula: $x^2$</div>')",
    ])  # fmt: skip
    page = open_notebook(browser, url, "e2e-dollars.ipynb")
    try:
        for index in range(7):
            run_cell(page, index, ".jp-OutputArea-output")
            wait_idle(page, index)
        typeset_done(page, 6)
        cells = page.locator(CELLS)

        record = cells.nth(1).locator(".docker-magics-record")
        assert f'RUN echo "{DOLLARS}"' in record.inner_text()

        history = cells.nth(2).locator(".docker-magics-history")
        instructions = history.locator("tbody tr td:nth-child(3)").all_inner_texts()
        assert any(f'echo "{DOLLARS}"' in t for t in instructions), instructions
        labels = history.locator("svg text").all_text_contents()
        assert any(f'echo "{DOLLARS}"' in t for t in labels), labels

        assert f"sh -c 'echo {DOLLARS}'" in cells.nth(3).locator(".jp-OutputArea").inner_text()

        failed = cells.nth(4).locator(".docker-magics-record")
        assert f"RUN echo '{DOLLARS}'" in failed.inner_text()
        summary = cells.nth(5).locator(".docker-magics-result b").inner_text()
        assert summary.startswith("Build failed after ") and DOLLARS in summary, summary

        for index in range(6):
            assert cells.nth(index).locator(MATH).count() == 0, f"cell {index} shows maths"
        cells.nth(2).scroll_into_view_if_needed()
        screenshot(page, "dollars.png")
    finally:
        page.close()


def test_a_push_records_layer_statuses_in_one_column(lab, browser, busybox, registry):
    """JupyterLab right-aligns table cells: "Pushed" stood apart from "Mounted from ..."."""
    url, root = lab
    base, image = f"{registry.host}/dm/aligned-base:1", f"{registry.host}/dm/aligned:1"
    notebook(root, "e2e-aligned.ipynb", [
        "%load_ext docker_magics\n%docker_connect",
        f"%docker_tag {busybox} {base}\n%docker_push {base} --progress none",
        f"%%docker_build -t {image} --progress none\nFROM {busybox}\nRUN echo new > /new\n",
        f"%docker_push {image} --progress widget",
    ])  # fmt: skip
    page = open_notebook(browser, url, "e2e-aligned.ipynb")
    try:
        for index in range(4):
            run_cell(page, index, ".jp-OutputArea-output")
            wait_idle(page, index)
        record = page.locator(CELLS).nth(3).locator(".docker-magics-record")
        statuses = record.locator("tr td:nth-child(2)")
        texts = statuses.all_inner_texts()
        assert "Pushed" in texts and any(t.startswith("Mounted from ") for t in texts), texts
        lefts = {round(statuses.nth(i).evaluate(LEFT_OF_TEXT)) for i in range(len(texts))}
        assert len(lefts) == 1, (texts, lefts)  # one column, read from the left
        record.scroll_into_view_if_needed()
        screenshot(page, "push-aligned.png")
    finally:
        page.close()


# Where a cell's text starts on the page (not the cell's box: its text may sit at its right).
LEFT_OF_TEXT = """td => {
    const range = document.createRange();
    range.selectNodeContents(td);
    return range.getBoundingClientRect().left;
}"""
