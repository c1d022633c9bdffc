"""JupyterLab in a real browser (Debian's Chromium driven by Playwright): the progress
widgets as a user sees them, and Dockerfile highlighting in %%docker_build cells. Screenshots
go to artifacts/screenshots/."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.engine

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CELLS = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell"  # the open notebook's


@pytest.fixture(scope="module")
def lab(engine, busybox, registry, tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (scripts/test.sh installs it)")
    from harness import free_port, wait_for

    root = tmp_path_factory.mktemp("lab")
    config = root / "config"
    config.mkdir()
    # No news or update checks: they would reach for the internet.
    (config / "jupyter_server_config.json").write_text(json.dumps({
        "LabApp": {"news_url": None,
                   "check_for_updates_class":
        "jupyterlab.handlers.announcements.NeverCheckForUpdate"},
    }))  # fmt: skip
    port = free_port()
    env = {**os.environ, "DOCKER_HOST": engine.url, "JUPYTER_CONFIG_DIR": str(config),
           "BASE_IMAGE": busybox, "REGISTRY": registry.host}  # fmt: skip
    env.pop("DOCKER_CONFIG", None)
    log = open(root / "lab.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
         f"--port={port}", "--ServerApp.ip=127.0.0.1", "--ServerApp.token=",
         "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True",
         f"--ServerApp.root_dir={root}"],
        env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip

    def ready():
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab", timeout=2) as r:
            return r.status == 200

    try:
        wait_for(ready, 90, "jupyter lab", proc)
        yield f"http://127.0.0.1:{port}", root
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-quic"],
        )  # fmt: skip
        yield b
        b.close()


def notebook(root: Path, name: str, cells: list[str]) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}  # fmt: skip
    nbformat.write(nb, root / name)


def open_notebook(browser, url: str, name: str):
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    page.goto(f"{url}/lab/tree/{name}?reset")  # a fresh workspace: only this notebook
    page.wait_for_selector(CELLS, timeout=60000)
    # The kernel is ready when its status says idle.
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60000)
    news = page.get_by_role("button", name="No")  # "notified about official Jupyter news?"
    try:
        news.click(timeout=3000)
    except Exception:  # noqa: BLE001 - the question is not always asked
        pass  # fmt: skip
    return page


def run_cell(page, index: int, wait_for: str | None = None, timeout: float = 60000) -> None:
    """Shift+Enter in a cell, as a user would; retried if JupyterLab was not listening yet
    (the cell's prompt shows [*] or a number once it has been sent)."""
    cell = page.locator(CELLS).nth(index)
    prompt = cell.locator(".jp-InputPrompt")
    for _ in range(5):
        cell.scroll_into_view_if_needed()  # the notebook renders only what is in view
        cell.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        try:
            wait_until(lambda: re.search(r"\[(\d+|\*)\]", prompt.inner_text()), timeout=3)
            break
        except AssertionError:
            continue
    if wait_for:
        cell.locator(wait_for).first.wait_for(timeout=timeout)


def output_text(page, index: int) -> str:
    return page.locator(CELLS).nth(index).locator(".jp-OutputArea").inner_text()


def wait_until(predicate, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError("condition not met in time")


def test_build_progress_and_highlighting(lab, browser, busybox):
    url, root = lab
    notebook(root, "e2e-build.ipynb", [
        "%load_ext docker_magics\n%docker_connect",
        f"%%docker_build -t dm-test/e2e:1 --no-cache\nFROM {busybox}\n"
        "RUN echo hello from the browser test\nRUN sleep 1 && echo second step\n",
        f"%%docker_build --no-cache\nFROM {busybox}\nRUN echo going down; exit 3\n",
    ])  # fmt: skip
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = open_notebook(browser, url, "e2e-build.ipynb")
    try:
        # Dockerfile highlighting: the instruction keywords of the build cell are tokens.
        build_cell = page.locator(CELLS).nth(1)
        keyword = build_cell.locator(".cm-line span", has_text="FROM").first
        keyword.wait_for(timeout=20000)
        assert (keyword.get_attribute("class") or "").strip(), "FROM is not a token"
        color = "el => getComputedStyle(el).color"
        line = build_cell.locator(".cm-line", has_text="FROM").first
        assert keyword.evaluate(color) != line.evaluate(color)  # coloured as a keyword
        run = build_cell.locator(".cm-line span", has_text="RUN").first
        assert run.evaluate(color) == keyword.evaluate(color)
        # An ordinary Python cell keeps Python highlighting: no Dockerfile keywords there.
        plain_cell = page.locator(CELLS).nth(0)
        assert plain_cell.locator(".cm-line span", has_text="FROM").count() == 0

        run_cell(page, 0, ".jp-OutputArea-output")
        run_cell(page, 1, ".docker-magics-progress")
        cell = page.locator(CELLS).nth(1)
        wait_until(lambda: "Built " in output_text(page, 1))
        text = output_text(page, 1)
        assert "dm-test/e2e:1" in text and "RUN echo hello from the browser test" in text
        assert "done" in text
        bar = cell.locator(".progress-bar").first
        wait_until(lambda: "progress-bar-success" in (bar.get_attribute("class") or ""))
        page.screenshot(path=str(SHOTS / "build-success.png"), full_page=True)

        run_cell(page, 2, ".docker-magics-progress")
        failing = page.locator(CELLS).nth(2)
        wait_until(lambda: "UsageError" in output_text(page, 2))
        text = output_text(page, 2)
        assert "ERROR: Step 2/2 (RUN echo going down; exit 3) failed with exit code 3" in text
        assert "going down" in text and "failed" in text
        assert "Traceback" not in text
        bar = failing.locator(".progress-bar").first
        assert "progress-bar-danger" in (bar.get_attribute("class") or "")
        page.screenshot(path=str(SHOTS / "build-failure.png"), full_page=True)
    finally:
        page.close()


def test_push_shows_layer_rows(lab, browser, busybox, registry):
    url, root = lab
    notebook(root, "e2e-push.ipynb", [
        "%load_ext docker_magics\n%docker_connect",
        f"%docker_tag {busybox} {registry.host}/dm/e2e-push:1",
        f"%docker_push {registry.host}/dm/e2e-push:1",
    ])  # fmt: skip
    page = open_notebook(browser, url, "e2e-push.ipynb")
    try:
        run_cell(page, 0, ".jp-OutputArea-output")
        run_cell(page, 1, ".jp-OutputArea-output")
        run_cell(page, 2, ".docker-magics-progress")
        wait_until(lambda: "digest: sha256:" in output_text(page, 2))
        text = output_text(page, 2)
        rows = page.locator(CELLS).nth(2).locator(".widget-html table tr")
        assert rows.count() >= 1
        assert "Pushed" in text or "Layer already exists" in text
        page.screenshot(path=str(SHOTS / "push.png"), full_page=True)
    finally:
        page.close()
