"""JupyterLab in a real browser (Debian's Chromium driven by Playwright): the progress
widgets as a user sees them, and Dockerfile highlighting in %%docker_build cells. Screenshots
go to artifacts/screenshots/. Also: the wheel, built from the repository, ships the
labextension."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CELLS = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell"  # the open notebook's
EXTENSION = "docker-magics-highlight"
PLUGIN = f"{EXTENSION}:plugin"
DOCKERFILE_MIME = "text/x-dockerfile"
PYTHON_MIME = "text/x-ipython"
STDERR = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
NEWS = "official Jupyter news"  # the toast that asks "notified about official Jupyter news?"


@pytest.fixture(scope="module")
def lab(engine, busybox, registry, tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (scripts/test.sh installs it)")
    from tests.support import free_port, wait_for

    root = tmp_path_factory.mktemp("lab")
    config = root / "config"
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
    env = {**os.environ, "DOCKER_HOST": engine.url, "JUPYTER_CONFIG_DIR": str(config),
           "BASE_IMAGE": busybox, "REGISTRY": registry.host}  # fmt: skip
    env.pop("DOCKER_CONFIG", None)
    env.pop("JUPYTERLAB_SETTINGS_DIR", None)
    log = open(root / "lab.log", "wb")
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
    page = browser.new_page(viewport={"width": 1300, "height": 1200})
    page.goto(f"{url}/lab/tree/{name}?reset")  # a fresh workspace: only this notebook
    page.wait_for_selector(CELLS, timeout=60000)
    # The kernel is ready when its status says idle.
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60000)
    return page


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


def output_text(page, index: int) -> str:
    return page.locator(CELLS).nth(index).locator(".jp-OutputArea").inner_text()


def wait_until(predicate, timeout: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError(f"{what} not met in {timeout}s")


def mime_types(page) -> list[str]:
    """The mime type of each cell's model in the open notebook: what picks its editor mode."""
    return page.evaluate(
        "() => window.jupyterapp.shell.currentWidget.content.widgets.map(c => c.model.mimeType)"
    )


def theme_colors(page) -> dict[str, str]:
    """The colours the editor theme gives keywords, strings and comments, as computed."""
    return page.evaluate("""() => {
        const probe = document.createElement('span');
        document.body.append(probe);
        const colors = {};
        for (const kind of ['keyword', 'string', 'comment']) {
            probe.style.color = `var(--jp-mirror-editor-${kind}-color)`;
            colors[kind] = getComputedStyle(probe).color;
        }
        probe.remove();
        return colors;
    }""")


def tokens(page, index: int) -> dict[str, tuple[str, str]]:
    """CodeMirror's highlighted tokens in a cell's editor: text -> (class, colour)."""
    editor = page.locator(CELLS).nth(index).locator(".cm-content")
    spans = editor.evaluate("""e => [...e.querySelectorAll('.cm-line span')]
        .filter(s => s.className)
        .map(s => [s.textContent, s.className, getComputedStyle(s).color])""")
    return {text: (cls, color) for text, cls, color in spans}


def language(page, index: int) -> str | None:
    return page.locator(CELLS).nth(index).locator(".cm-content").get_attribute("data-language")


def assert_unobstructed(page, locator) -> None:
    """The element is on screen and nothing (a toast, a dialog) lies over its middle."""
    locator.scroll_into_view_if_needed()
    assert locator.is_visible()
    on_top = locator.evaluate("""el => {
        const r = el.getBoundingClientRect();
        return el.contains(document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2));
    }""")
    assert on_top, f"something covers {locator.inner_text()[:60]!r}"


def progress_parts(page, index: int):
    """A progress widget's parts: header, bar, and its HTML panels."""
    box = page.locator(CELLS).nth(index).locator(".docker-magics-progress")
    htmls = box.locator(":scope > .widget-html")
    bar = box.locator(".progress-bar").first
    return htmls.nth(0), bar, [htmls.nth(i) for i in range(1, htmls.count())]


def table_rows(panel) -> list[list[str]]:
    return [[t.strip() for t in row.locator("td").all_inner_texts()]
            for row in panel.locator("tr").all()]  # fmt: skip


def bar_style(bar) -> str:
    return bar.get_attribute("class") or ""


def instructions(dockerfile: str) -> list[str]:
    """The build steps of a Dockerfile (one instruction a line here)."""
    lines = (line.strip() for line in dockerfile.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


PYTHON_CELL = 'FROM = "busybox"  # a Python name\nif FROM:\n    print(FROM)\n'
KEYWORDS = ("FROM", "AS", "ENV", "RUN")  # the instructions of HIGHLIGHTED (and FROM's AS)
HIGHLIGHTED = (
    "%%docker_build -t dm-test/highlight\n# the base image\nFROM busybox AS base\n"
    'ENV GREETING="hello"\nRUN echo $GREETING && exit 0\n'
)


@pytest.mark.engine
def test_dockerfile_highlighting(lab, browser):
    url, root = lab
    notebook(root, "e2e-highlight.ipynb", [PYTHON_CELL, HIGHLIGHTED, ""])
    page = open_notebook(browser, url, "e2e-highlight.ipynb")
    try:
        assert page.evaluate(f"() => window.jupyterapp.isPluginActivated('{PLUGIN}')")
        # The build cell's editor is in Dockerfile mode; the Python cells stay Python (the
        # notebook resets mime types when the kernel starts: checked after that).
        want = [PYTHON_MIME, DOCKERFILE_MIME, PYTHON_MIME]
        wait_until(lambda: mime_types(page) == want, 20, f"mime types {want}")
        assert language(page, 0) == "python" and language(page, 1) != "python"

        colors = theme_colors(page)
        assert len(set(colors.values())) == 3, colors  # tells the kinds apart
        # The Python cell: `if` is a keyword token, the name FROM is no token at all.
        python = tokens(page, 0)
        keyword_class, keyword_color = python["if"]
        assert keyword_color == colors["keyword"], python
        assert "FROM" not in python, python
        assert python['"busybox"'][1] == colors["string"], python
        # The Dockerfile: every instruction is a token of that keyword class and colour;
        # strings and comments have their own.
        build = tokens(page, 1)
        for word in KEYWORDS:
            assert build.get(word) == (keyword_class, keyword_color), f"{word} in {build}"
        string, comment = build.get('"hello"', ("", "")), build.get("# the base image", ("", ""))
        assert string[1] == colors["string"] and comment[1] == colors["comment"], build
        assert len({keyword_class, string[0], comment[0]}) == 3, build

        # Typing the magic into a cell switches it to Dockerfile mode, and removing it back.
        page.locator(CELLS).nth(2).locator(".cm-content").click()
        page.keyboard.type("%%docker_build\nFROM busybox\n")
        wait_until(lambda: mime_types(page)[2] == DOCKERFILE_MIME, 10, "Dockerfile mode")
        wait_until(lambda: tokens(page, 2).get("FROM", ("",))[0] == keyword_class, 10)
        screenshot(page, "highlighting.png")
        page.keyboard.press("Control+a")
        page.keyboard.type("FROM = 1\n")
        wait_until(lambda: mime_types(page)[2] == PYTHON_MIME, 10, "Python mode again")
        assert "FROM" not in tokens(page, 2)
    finally:
        page.close()


@pytest.mark.engine
def test_build_progress(lab, browser, busybox, engine_api):
    url, root = lab
    good = (
        f"# the browser test's image\nFROM {busybox}\n"
        'ENV GREETING="hello from the browser test"\n'
        'RUN echo "$GREETING"\nRUN sleep 1 && echo second step\n'
    )
    bad = f"FROM {busybox}\nRUN for i in $(seq 1 20); do echo line $i; done; exit 3\n"
    notebook(root, "e2e-build.ipynb", [
        "%load_ext docker_magics\n%docker_connect",
        f"%%docker_build -t dm-test/e2e:1 --no-cache\n{good}",
        f"%%docker_build --no-cache\n{bad}",
    ])  # fmt: skip
    page = open_notebook(browser, url, "e2e-build.ipynb")
    try:
        run_cell(page, 0, ".jp-OutputArea-output")

        # Success: every step done, the summary, a green bar.
        run_cell(page, 1, ".docker-magics-progress")
        header, bar, (steps_panel, log_panel) = progress_parts(page, 1)
        wait_until(lambda: "progress-bar-success" in bar_style(bar), 60, "a green bar")
        steps = instructions(good)
        rows = table_rows(steps_panel)
        assert len(rows) == len(steps), rows
        for n, (row, step) in enumerate(zip(rows, steps, strict=True), 1):
            status, took, label = row
            assert label == f"{n}/{len(steps)} {step}"
            assert status == "done" or (status == "cached" and not step.startswith("RUN"))
            assert re.fullmatch(r"\d+\.\ds", took) or (status == "cached" and not took), row
        image = engine_api.inspect_image("dm-test/e2e:1")["Id"].split(":")[1][:12]
        summary = header.inner_text().strip()
        assert re.fullmatch(
            rf"Built {image} \(dm-test/e2e:1\) with the classic builder, \S+ in \d+\.\ds, "
            rf"0 of {len(steps)} steps cached",
            summary,
        ), summary
        log = log_panel.inner_text()
        assert "hello from the browser test" in log and "second step" in log
        result = page.locator(CELLS).nth(1).locator(".docker-magics-result")
        assert result.locator("b").inner_text().strip() == summary  # the cell's value
        assert page.locator(CELLS).nth(1).locator(STDERR).count() == 0
        assert_unobstructed(page, header)
        screenshot(page, "build-success.png")

        # Failure: a red bar, the failing step marked failed, its last lines, one UsageError.
        run_cell(page, 2, ".docker-magics-progress")
        failing = page.locator(CELLS).nth(2)
        header, bar, (steps_panel, log_panel) = progress_parts(page, 2)
        wait_until(lambda: failing.locator(STDERR).count() > 0, 60, "the UsageError")
        wait_until(lambda: "progress-bar-danger" in bar_style(bar), 10, "a red bar")
        rows = table_rows(steps_panel)
        assert [(r[0], r[2]) for r in rows] == [
            ("done", f"1/2 FROM {busybox}"),
            ("failed", f"2/2 {instructions(bad)[1]}"),
        ], rows
        # The step's last lines, in order (stdout only: the engine may reorder stderr).
        log = log_panel.inner_text().strip().splitlines()
        assert 3 <= len(log) < 20 and log == [f"line {i}" for i in range(21 - len(log), 21)], log
        assert_unobstructed(page, log_panel)
        headline = header.inner_text().strip()
        assert headline.startswith("ERROR: Step 2/2 (RUN for i in"), headline
        assert "failed with exit code 3" in headline
        errors = failing.locator(STDERR)
        assert errors.count() == 1
        error = errors.inner_text().strip()
        assert error == "UsageError: " + headline.removeprefix("ERROR: "), error
        assert "\n" not in error  # one line, no traceback
        assert "Traceback" not in output_text(page, 2)
        assert_unobstructed(page, errors)
        screenshot(page, "build-failure.png")
    finally:
        page.close()


@pytest.mark.engine
def test_push_shows_layer_rows(lab, browser, busybox, registry, engine_api):
    url, root = lab
    repo = f"{registry.host}/dm/e2e-push"
    layers = len(engine_api.inspect_image(busybox)["RootFS"]["Layers"])
    assert layers >= 2  # the base image: several layers, so several rows
    notebook(root, "e2e-push.ipynb", [
        "%load_ext docker_magics\n%docker_connect",
        f"%docker_tag {busybox} {repo}:1",
        f"%docker_push {repo}:1",
    ])  # fmt: skip
    page = open_notebook(browser, url, "e2e-push.ipynb")
    try:
        run_cell(page, 0, ".jp-OutputArea-output")
        run_cell(page, 1, ".jp-OutputArea-output")
        run_cell(page, 2, ".docker-magics-progress")
        header, bar, (statuses, layers_panel) = progress_parts(page, 2)
        wait_until(lambda: "progress-bar-success" in bar_style(bar), 60, "a green bar")

        rows = table_rows(layers_panel)
        assert len(rows) == layers, rows  # one row a layer
        for layer_id, status, _progress in rows:
            assert re.fullmatch(r"[0-9a-f]{12}", layer_id), rows
            assert status in ("Pushed", "Layer already exists"), rows
        pushed = sum(status == "Pushed" for _, status, _ in rows)
        headline = header.inner_text().strip()
        assert re.fullmatch(
            rf"Pushed {re.escape(repo)} \(1\) in \d+\.\ds: {pushed} layers uploaded, "
            rf"{layers - pushed} already there",
            headline,
        ), headline

        # The digest line names what the registry now holds.
        request = urllib.request.Request(
            f"http://{registry.host}/v2/dm/e2e-push/manifests/1",
            headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
        )
        with urllib.request.urlopen(request, timeout=10) as r:
            digest, size = r.headers["Docker-Content-Digest"], len(r.read())
        lines = statuses.inner_text().strip().splitlines()
        assert lines == [
            f"The push refers to repository [{repo}]",
            f"1: digest: {digest} size: {size}",
        ], lines
        assert_unobstructed(page, layers_panel)
        screenshot(page, "push.png")
    finally:
        page.close()


def test_wheel_ships_the_labextension(tmp_path):
    """Build the wheel from the repository's files as pip does, the labextension built with
    npm from the npm registry: it installs the extension where JupyterLab finds it, with the
    plugin from labextension/lib. About 10 s when the tree's labextension/node_modules (from
    `pip install -e .`) can be reused, 30-70 s with a fresh `npm install`."""
    files = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    src = tmp_path / "src"
    try:
        for name in filter(None, files):  # a copy: nothing built lands in the working tree
            if (ROOT / name).is_file():
                (src / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, src / name)
        modules = ROOT / "labextension" / "node_modules"
        if modules.is_dir():  # hard links: `npm install` then has (almost) nothing to do
            subprocess.run(["cp", "-al", str(modules), str(src / "labextension")], check=False)
        build = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check",
             "-q", "-w", str(tmp_path / "dist"), str(src)],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert build.returncode == 0, build.stdout + build.stderr
        (wheel,) = (tmp_path / "dist").glob("docker_magics-*.whl")
        with zipfile.ZipFile(wheel) as z:
            shared = [n for n in z.namelist() if f"/share/jupyter/labextensions/{EXTENSION}/" in n]
            assert shared, "no labextension in the wheel"
            base = shared[0].split(f"/{EXTENSION}/")[0] + f"/{EXTENSION}/"
            assert base.endswith(f".data/data/share/jupyter/labextensions/{EXTENSION}/"), base
            meta = json.loads(z.read(base + "package.json"))
            assert meta["name"] == EXTENSION
            entry = base + meta["jupyterlab"]["_build"]["load"]  # what JupyterLab loads
            assert entry in shared, (entry, shared)
            code = "".join(z.read(n).decode() for n in shared if n.endswith(".js"))
            assert PLUGIN in code and DOCKERFILE_MIME in code and "docker_build" in code
    finally:
        shutil.rmtree(src, ignore_errors=True)  # node_modules: hundreds of MB
