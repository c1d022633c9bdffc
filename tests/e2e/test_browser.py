"""JupyterLab in a real browser (Debian's Chromium driven by Playwright): the progress
widgets as a user sees them, and Dockerfile highlighting in %%docker_build cells. Screenshots
go to artifacts/screenshots/. Also: the wheel, built from the repository, ships the
labextension."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import urllib.request
import zipfile

import pytest

from tests.support.lab import (  # noqa: F401 - the helpers the tests here share
    CELLS,
    ROOT,
    STDERR,
    assert_unobstructed,
    notebook,
    open_notebook,
    output_text,
    run_cell,
    screenshot,
    wait_until,
)

EXTENSION = "docker-magics-highlight"
PLUGIN = f"{EXTENSION}:plugin"
DOCKERFILE_MIME = "text/x-dockerfile"
PYTHON_MIME = "text/x-ipython"


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


def highlighted(page, index: int, texts: list[str], timeout: float = 20) -> None:
    """Wait until each of ``texts`` is a highlighted token in the cell's editor."""
    wait_until(lambda: all(t in tokens(page, index) for t in texts), timeout, f"tokens {texts}")


def language(page, index: int) -> str | None:
    return page.locator(CELLS).nth(index).locator(".cm-content").get_attribute("data-language")


def record_parts(page, index: int):
    """The record a finished progress view leaves (in place of its widgets): header, bar,
    and its panels."""
    record = page.locator(CELLS).nth(index).locator(".docker-magics-record")
    panels = record.locator(".docker-magics-panel")
    return (
        record.locator(".docker-magics-header"),
        record.locator(".docker-magics-bar"),
        [panels.nth(i) for i in range(panels.count())],
    )


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
        # An editor takes its new mime type's language once that language has loaded (a
        # script fetched on first use), and highlights once it has parsed: wait for both.
        wait_until(lambda: language(page, 0) == "python", 20, "the Python editor's language")
        assert language(page, 1) != "python"
        highlighted(page, 0, ["if", '"busybox"'])
        highlighted(page, 1, [*KEYWORDS, '"hello"', "# the base image"])

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
        wait_until(lambda: language(page, 2) == "python", 10, "the Python editor's language")
        highlighted(page, 2, ["1"])  # a number token: Python's highlighting has run
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
    # Its last words on stderr, which the engine often delivers before the 20 lines before.
    bad = (
        f"FROM {busybox}\n"
        "RUN for i in $(seq 1 20); do echo line $i; done; echo cause-444 >&2; exit 3\n"
    )
    notebook(root, "e2e-build.ipynb", [
        "%load_ext docker_magics\n%docker_connect",
        f"%%docker_build -t dm-test/e2e:1 --no-cache\n{good}",
        f"%%docker_build --no-cache\n{bad}",
    ])  # fmt: skip
    page = open_notebook(browser, url, "e2e-build.ipynb")
    try:
        run_cell(page, 0, ".jp-OutputArea-output")

        # Live: the widgets; at the end, a record of the last state in their place, with
        # every step done, the summary and a green bar.
        run_cell(page, 1, ".docker-magics-progress .progress-bar")  # the live widget's bar
        page.locator(CELLS).nth(1).locator(".docker-magics-record").wait_for(timeout=60000)
        header, bar, (steps_panel, log_panel) = record_parts(page, 1)
        assert "docker-magics-bar-success" in bar_style(bar)
        assert page.locator(CELLS).nth(1).locator(".progress-bar").count() == 0
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
        # Said once: no result under it (the value is the cell's all the same).
        assert output_text(page, 1).count("Built ") == 1
        assert page.locator(CELLS).nth(1).locator(".jp-OutputArea-executeResult").count() == 0
        assert page.locator(CELLS).nth(1).locator(STDERR).count() == 0
        assert_unobstructed(page, header)
        screenshot(page, "build-success.png")

        # Failure: a red bar, the failing step marked failed, its last lines with the line
        # that says why, and that line in the one error line, said once.
        run_cell(page, 2, ".docker-magics-progress")
        failing = page.locator(CELLS).nth(2)
        wait_until(lambda: failing.locator(STDERR).count() > 0, 60, "the UsageError")
        failing.locator(".docker-magics-record").wait_for(timeout=10000)
        header, bar, (steps_panel, log_panel) = record_parts(page, 2)
        assert "docker-magics-bar-danger" in bar_style(bar)
        rows = table_rows(steps_panel)
        assert [(r[0], r[2]) for r in rows] == [
            ("done", f"1/2 FROM {busybox}"),
            ("failed", f"2/2 {instructions(bad)[1]}"),
        ], rows
        log = log_panel.inner_text().strip().splitlines()
        assert "cause-444" in log and log[-1] in ("line 20", "cause-444"), log
        stdout = [line for line in log if line.startswith("line ")]
        assert stdout == [f"line {i}" for i in range(21 - len(stdout), 21)], log  # in order
        assert_unobstructed(page, log_panel)
        assert re.fullmatch(r"FAILED after \d+\.\ds", header.inner_text().strip())
        errors = failing.locator(STDERR)
        assert errors.count() == 1
        error = errors.inner_text().strip()
        assert error == (
            f"UsageError: Step 2/2 ({instructions(bad)[1]}) failed with exit code 3: cause-444"
        )
        assert output_text(page, 2).count("exit code 3") == 1  # not in the header too
        assert "Traceback" not in output_text(page, 2)
        assert_unobstructed(page, errors)
        screenshot(page, "build-failure.png")
    finally:
        page.close()


@pytest.mark.engine
def test_a_finished_build_shows_every_step(lab, browser, busybox):
    """While a build runs its view keeps the latest 8 steps; once it ends, all of them."""
    url, root = lab
    runs = "".join(f"RUN echo step {n}\n" for n in range(1, 11))
    notebook(root, "e2e-steps.ipynb", [
        "%load_ext docker_magics\n%docker_connect",
        f"%%docker_build --no-cache --progress widget\nFROM {busybox}\n{runs}",
    ])  # fmt: skip
    page = open_notebook(browser, url, "e2e-steps.ipynb")
    try:
        run_cell(page, 0, ".jp-OutputArea-output")
        run_cell(page, 1, ".docker-magics-record", timeout=120000)
        _, _, (steps_panel, _) = record_parts(page, 1)
        rows = table_rows(steps_panel)
        assert [r[2] for r in rows] == [f"1/11 FROM {busybox}"] + [
            f"{n + 1}/11 RUN echo step {n}" for n in range(1, 11)
        ]
        assert "earlier step" not in steps_panel.inner_text()
        screenshot(page, "build-all-steps.png")
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
        run_cell(page, 2, ".docker-magics-record")
        header, bar, (opening, layers_panel, closing) = record_parts(page, 2)
        assert "docker-magics-bar-success" in bar_style(bar)

        rows = table_rows(layers_panel)
        assert len(rows) == layers, rows  # one row a layer
        for layer_id, status, _progress in rows:
            assert re.fullmatch(r"[0-9a-f]{12}", layer_id), rows
            # (a layer another repository of the registry has is mounted from it: the registry
            # is the session's, other tests pushed to it before)
            assert status in ("Pushed", "Layer already exists") or status.startswith(
                "Mounted from "
            ), rows
        pushed = sum(status == "Pushed" for _, status, _ in rows)
        headline = header.inner_text().strip()
        assert re.fullmatch(
            rf"Pushed {re.escape(repo)}:1 in \d+\.\ds: {pushed} layers uploaded, "
            rf"{layers - pushed} already there",
            headline,
        ), headline
        assert output_text(page, 2).count("Pushed ") == 1  # said once: no result under it

        # As the docker CLI: what is pushed first, the layers, then the digest line, which
        # names what the registry now holds.
        request = urllib.request.Request(
            f"http://{registry.host}/v2/dm/e2e-push/manifests/1",
            headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
        )
        with urllib.request.urlopen(request, timeout=10) as r:
            digest, size = r.headers["Docker-Content-Digest"], len(r.read())
        assert opening.inner_text().strip() == f"The push refers to repository [{repo}]"
        assert closing.inner_text().strip() == f"1: digest: {digest} size: {size}"
        top = [p.bounding_box()["y"] for p in (opening, layers_panel, closing)]
        assert top == sorted(top), top
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
