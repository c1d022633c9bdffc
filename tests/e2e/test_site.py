"""The documentation site, built as `bash scripts/docs.sh` builds it (warnings are errors,
nothing fetched from the internet, no notebook executed): every page of docs/ in the
navigation, a page per magic with its arguments, the API from its docstrings, the tutorials
with the outputs of the executed copies the suite wrote before (tests/e2e/test_notebooks.py
runs first: files are collected in name order)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import docker_magics

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "docs" / "_build" / "html"


def test_the_documentation_builds_with_every_page():
    env = {**os.environ, "DOCKER_MAGICS_VENV": sys.prefix}  # this venv: the docs extra is in
    build = subprocess.run(
        ["bash", str(ROOT / "scripts" / "docs.sh"), "-E"],  # -E: every page, not just changed
        capture_output=True, text=True, env=env, timeout=900,
    )  # fmt: skip
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-5000:]
    assert "WARNING" not in build.stderr, build.stderr[-5000:]

    # Every Markdown page of docs/ is in the navigation (the toctrees' globs).
    index = (HTML / "index.html").read_text()
    for page in sorted((ROOT / "docs").rglob("*.md")):
        name = page.relative_to(ROOT / "docs").with_suffix(".html").as_posix()
        if name.startswith(("_", "README")) or name == "index.html":
            continue
        assert f'href="{name}"' in index, f"{name} is not in the navigation"

    # A page per magic, with each of its options.
    pages = sorted((ROOT / "docs" / "magics").glob("docker_*.md"))
    assert len(pages) >= 15  # the generator's own test checks them against the parsers
    for page in pages:
        html = (HTML / "magics" / page.with_suffix(".html").name).read_text()
        options = re.findall(r"^\| `(-[^`, ]+)", page.read_text(), re.M)
        assert "-h" in options, page.name
        for option in options:
            assert f'<span class="pre">{option}' in html, (page.name, option)

    # The Python API, one entry per function, and the result types.
    api = (HTML / "reference" / "api.html").read_text()
    for name in docker_magics._API:
        assert f'id="docker_magics.api.{name}"' in api, name
    results = (HTML / "reference" / "results.html").read_text()
    for name in docker_magics._RESULTS:
        assert f'id="docker_magics.{name}"' in results, name

    # The tutorials, with the outputs of their executed copies where there is one.
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        html = (HTML / "tutorials" / notebook.with_suffix(".html").name).read_text()
        executed = ROOT / "artifacts" / "notebooks" / notebook.name
        if executed.exists() and cells(executed) == cells(notebook):
            assert "outputs below are from a run of the test suite" in html, notebook.name
            assert html.count('class="cell_output') >= outputs(executed), notebook.name
        else:
            assert "This copy was not executed" in html, notebook.name
            assert 'class="cell_output' not in html, notebook.name


def cells(path: Path) -> list[tuple[str, str]]:
    nb = json.loads(path.read_text())
    return [(c["cell_type"], "".join(c["source"])) for c in nb["cells"]]


def outputs(path: Path) -> int:
    nb = json.loads(path.read_text())
    return sum(1 for c in nb["cells"] if c.get("outputs"))
