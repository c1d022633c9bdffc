"""JupyterLab in a real browser (Debian's Chromium driven by Playwright), for the tests about
what a page shows: a private JupyterLab server, a headless Chromium that never reaches for
the network, and what a user does (open a notebook, Shift+Enter, look). Screenshots go to
artifacts/screenshots/, kept by CI."""

from __future__ import annotations

import contextlib
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

from tests.support.processes import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CELLS = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell"  # the open notebook's
STDERR = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
NEWS = "official Jupyter news"  # the toast that asks "notified about official Jupyter news?"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]


@contextlib.contextmanager
def running_lab(root: Path, env: dict[str, str]):
    """A JupyterLab server on loopback serving ``root`` (kernels get ``env``); yields its
    URL. Each call is a fresh server: its own config folder, no news or update checks."""
    config = root.parent / f"{root.name}-config-{free_port()}"
    config.mkdir()
    # No news or update checks: they would reach for the internet. news_url=None alone still
    # asks "notified about official Jupyter news?" in a toast that covers the outputs; the
    # user setting "Never" (in JUPYTER_CONFIG_DIR/lab/user-settings) stops the question.
    (config / "jupyter_server_config.json").write_text(json.dumps({
        "LabApp": {"news_url": None,
                   "check_for_updates_class":
        "jupyterlab.handlers.announcements.NeverCheckForUpdate"},
    }))  # fmt: skip
    settings = config / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    port = free_port()
    env = {**os.environ, **env, "JUPYTER_CONFIG_DIR": str(config)}
    env.pop("DOCKER_CONFIG", None)
    env.pop("JUPYTERLAB_SETTINGS_DIR", None)
    log = open(config / "lab.log", "wb")
    # expose_app_in_browser: window.jupyterapp, to read the cells' models (mime types).
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
         f"--port={port}", "--ServerApp.ip=127.0.0.1", "--ServerApp.token=",
         "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True",
         "--LabApp.expose_app_in_browser=True", f"--ServerApp.root_dir={root}"],
        env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip

    def ready():
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab", timeout=2) as r:
            return r.status == 200

    try:
        wait_for(ready, 90, "jupyter lab", proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@contextlib.contextmanager
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def notebook(root: Path, name: str, cells: list[str]) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}  # fmt: skip
    nbformat.write(nb, root / name)


def open_notebook(browser, url: str, name: str, *, kernel: bool = True):
    page = browser.new_page(viewport={"width": 1300, "height": 1200})
    slow_down(page)
    page.goto(f"{url}/lab/tree/{name}?reset")  # a fresh workspace: only this notebook
    page.wait_for_selector(CELLS, timeout=120000)
    if kernel:
        # Ready when the notebook's session has a kernel, connected and idle. (The toolbar's
        # execution indicator says "idle" before there is a kernel: Shift+Enter then opens
        # the "Select Kernel" dialog.)
        page.wait_for_function(KERNEL_READY, timeout=120000)
    return page


KERNEL_READY = """() => {
    const kernel = window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel;
    return kernel?.connectionStatus === 'connected' && kernel?.status === 'idle';
}"""


def slow_down(page) -> None:
    """Races hide on a fast, idle machine. E2E_BROWSER_LATENCY=MS delays every request the
    page makes (JupyterLab loads a language's script on first use, for one), and
    E2E_BROWSER_SLOWDOWN=N runs its scripts N times slower, as a loaded machine does: the
    tests must pass either way (docs/project/development.md)."""
    latency = float(os.environ.get("E2E_BROWSER_LATENCY", "0"))
    slowdown = float(os.environ.get("E2E_BROWSER_SLOWDOWN", "1"))
    if latency <= 0 and slowdown <= 1:
        return
    cdp = page.context.new_cdp_session(page)
    if slowdown > 1:
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": slowdown})
    if latency > 0:
        cdp.send("Network.enable")
        cdp.send("Network.emulateNetworkConditions", {
            "offline": False, "latency": latency, "downloadThroughput": -1,
            "uploadThroughput": -1,
        })  # fmt: skip


def screenshot(page, name: str) -> None:
    """A screenshot for a person to look at: nothing may cover the outputs."""
    assert page.get_by_text(NEWS).count() == 0, "the Jupyter news toast is showing"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name), full_page=True)


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


def wait_idle(page, index: int, timeout: float = 120) -> None:
    """Until the cell has run (its prompt shows a number, not [*])."""
    prompt = page.locator(CELLS).nth(index).locator(".jp-InputPrompt")
    wait_until(lambda: re.search(r"\[\d+\]", prompt.inner_text()), timeout, "the cell to end")


def output_text(page, index: int) -> str:
    return page.locator(CELLS).nth(index).locator(".jp-OutputArea").inner_text()


def wait_until(predicate, timeout: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError(f"{what} not met in {timeout}s")


def assert_unobstructed(page, locator) -> None:
    """The element is on screen and nothing (a toast, a dialog) lies over its middle."""
    locator.scroll_into_view_if_needed()
    assert locator.is_visible()
    on_top = locator.evaluate("""el => {
        const r = el.getBoundingClientRect();
        return el.contains(document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2));
    }""")
    assert on_top, f"something covers {locator.inner_text()[:60]!r}"


def clipped_texts(locator) -> list[str]:
    """The texts of an SVG that do not fit inside it, as the browser lays them out."""
    return locator.evaluate("""svg => {
        const width = svg.width.baseVal.value, out = [];
        for (const t of svg.querySelectorAll('text')) {
            const box = t.getBBox();
            if (box.x < 0 || box.x + box.width > width) out.push(t.textContent);
        }
        return out;
    }""")
