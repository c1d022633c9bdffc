"""The tutorials, executed top to bottom with nbclient against the real engines and
registries (as CI does), and the Binder "no engine" path. Executed copies are kept under
artifacts/notebooks/ for inspection."""

from __future__ import annotations

import json
import re
import secrets
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.engine


ROOT = Path(__file__).resolve().parents[2]


NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


ARTIFACTS = ROOT / "artifacts" / "notebooks"


@pytest.fixture(scope="session")
def python_image(engine):
    from tests.support import build_python_image

    tag = "docker-magics-test/python:3"
    build_python_image(engine.url, tag)
    return tag


def execute(path: Path, workdir: Path, env: dict[str, str], monkeypatch) -> nbformat.NotebookNode:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    shutil.copy(path, workdir / path.name)
    nb = nbformat.read(workdir / path.name, as_version=4)
    client = NotebookClient(
        nb, kernel_name="python3", timeout=600, resources={"metadata": {"path": str(workdir)}}
    )
    try:
        client.execute()
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, ARTIFACTS / path.name)
    return nb


def plain_of(cell) -> str:
    """What a cell shows as text: its streams and the text/plain of its displays, each once."""
    parts = []
    for out in cell.get("outputs", []):
        parts.append(out.get("text", ""))
        parts.append(out.get("data", {}).get("text/plain", ""))
        parts += out.get("traceback", [])
    return "\n".join(parts)


def said_once(nb) -> None:
    """Each summary (a build's, a push's, a pull's) shows once in its cell: in the progress
    view, not again as the cell's result."""
    for cell in nb.cells:
        text = plain_of(cell)
        for summary in (r"^Built [0-9a-f]{12} ", r"^Pushed \S+:\S+ in ", r"^Pulled \S+ "):
            assert len(re.findall(summary, text, re.M)) <= 1, (cell.source, text)


def text_of(nb) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            parts += [str(v) for v in out.get("data", {}).values()]
            parts += out.get("traceback", [])
    return "\n".join(parts)


@pytest.fixture
def tutorial_env(engine, tls_engine, busybox, registry, auth_registry, tmp_path, docker_env):
    from tests.support import REGISTRY_USER

    return {
        "DOCKER_HOST": engine.url,
        "DOCKER_CONFIG": str(docker_env),
        "BASE_IMAGE": busybox,
        "REGISTRY": registry.host,
        "AUTH_REGISTRY": auth_registry.host,
        "REGISTRY_USER": REGISTRY_USER,
        "REGISTRY_PASSWORD": auth_registry.users[REGISTRY_USER],
        "API_TOKEN": "tutorial-token-" + secrets.token_hex(8),
        "TCP_ENGINE": engine.tcp_url or "",
        "TLS_ENGINE": tls_engine.url,
        "TLS_CERT_PATH": str(tls_engine.certs.client_dir),
    }


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_tutorial_runs_top_to_bottom(path, tutorial_env, tmp_path, monkeypatch, request):
    if "data-science" in path.name or "reproduce" in path.name:
        tutorial_env["PYTHON_BASE_IMAGE"] = request.getfixturevalue("python_image")
    if "reproduce" in path.name:  # the machine's wheel cache, as a user's own cache
        from tests.support.images import PYTHON_ROOTFS_CACHE

        tutorial_env["DOCKER_MAGICS_WHEELS"] = str(PYTHON_ROOTFS_CACHE / "wheels")
    if "swarm" in path.name:  # the test swarm's manager; its base image from the registry
        tutorial_env["DOCKER_HOST"] = request.getfixturevalue("swarm").url
        tutorial_env["BASE_IMAGE"] = request.getfixturevalue("swarm_image")
    nb = execute(path, tmp_path, tutorial_env, monkeypatch)  # raises on any cell error
    text = text_of(nb)
    if "reproduce" in path.name:  # the image has the kernel's jinja2, on its major.minor
        here = re.search(r"here:  jinja2 (\S+) on Python (\d+\.\d+)\.", text)
        assert here, text
        assert f"image: jinja2 {here[1]} on Python {here[2]}." in text
    assert "Traceback" not in text
    assert "UsageError" not in text or "show_error" in json.dumps(nb.cells)
    checks = {
        "01-quickstart": [
            "Connected to",
            "Built ",
            "built by docker_magics",
            "inside the container",
            ": digest: sha256:",
            "Pulled ",
            "Layer sizes of ",  # %docker_history's chart
            "Engine disk usage: ",  # %docker_df
        ],
        "02-remote-and-tls-engines": [
            "as 'plain'",
            "as 'tls-env'",
            "TLS on (verified)",
            "UsageError: The engine at",
            "expects TLS, but this connection is plain HTTP",
            "does not speak TLS",
            "requires a client certificate",
            "does not support API version 1.99",
            "Switched to 'plain' (",
            "Closed the connection",
        ],
        "03-data-science-image": ["Lisbon", "°C", "5 cities", "<svg", "{'city': 'Lisbon'"],
        "04-registries-and-credentials": [
            "Layer already exists",
            "requires a login",
            "Login Succeeded",
            "wrong user name or password",
            "delete it from the cell",
            "no such repository or tag",
            "There is no image",
            "cannot be reached",
            "Forgot the login",
            "bytes: ******",
            "token in the image: False",
            "token in its history: False",
        ],
        "05-scale-out-with-swarm": [
            "Swarm nodes",
            "12 tasks (N × SEED)",
            "N=1000000 SEED=3 pi=3.1",
            "<svg",
            "shard 2 of 3",
            "UsageError: 1 of 2 tasks failed: N=0, SEED=1 exited 1 on node",
            "Division by zero",
            "is only on this engine, not in a registry: the 2 other nodes could not pull it",
        ],
        "06-reproduce-your-analysis": [
            "FROM docker-magics-test/python:3 AS packages",
            "COPY --from=packages /opt/venv /opt/venv",
            "Built ",
            "(weather-env:1)",
            "image: jinja2",
            "Running weather-report.ipynb in weather-env:1",
            "'injected-parameters'",
            "Oslo: 60 days, mean",
            "°F",
            "weather-report.ipynb failed in cell 4 of 6 (values = by_city[city]): KeyError:",
            "The executed notebook, up to that cell, is in",
            "(weather-env:2)",
            "Oslo: 61 days, mean",
        ],
    }[path.stem]
    for expected in checks:
        assert expected in text, (path.stem, expected)
    said_once(nb)
    if "registries" in path.name:
        assert tutorial_env["REGISTRY_PASSWORD"] not in json.dumps(nb)
        assert tutorial_env["API_TOKEN"] not in json.dumps(nb)


def test_a_tutorial_run_with_widgets_keeps_a_readable_record(tutorial_env, tmp_path, monkeypatch):
    """Run as in JupyterLab (a Jupyter server's kernel: progress as widgets), saved, and
    converted to HTML (nbconvert, as nbviewer or GitHub show a notebook): where the widgets
    were, a static record of each build and push, never "Error displaying widget" nor a
    ``VBox(...)`` repr; each summary once."""
    from nbconvert import HTMLExporter

    source = tmp_path / "source" / "01-quickstart-widgets.ipynb"
    source.parent.mkdir()
    shutil.copy(NOTEBOOKS[0], source)
    work = tmp_path / "work"
    work.mkdir()
    # What a Jupyter server tells its kernels: progress="auto" picks widgets.
    tutorial_env["JPY_SESSION_NAME"] = str(work / source.name)
    nb = execute(source, work, tutorial_env, monkeypatch)
    outputs = [out for cell in nb.cells for out in cell.get("outputs", [])]
    assert "application/vnd.jupyter.widget-view+json" not in json.dumps(outputs)
    assert "widgets" in nb.metadata  # widgets did run (nbclient kept their state)
    records = [
        o for o in outputs if "docker-magics-record" in o.get("data", {}).get("text/html", "")
    ]
    assert len(records) == 3  # the build, the push and the pull
    plain = [o["data"]["text/plain"] for o in records]
    registry = tutorial_env["REGISTRY"]
    assert plain[0].startswith("Built ") and "built by docker_magics" in plain[0]
    assert plain[1].startswith(f"Pushed {registry}/hello-notebook:1 in ")
    assert plain[2].startswith(f"Pulled {registry}/hello-notebook:1 ")
    said_once(nb)

    html, _ = HTMLExporter().from_notebook_node(nb)
    (ARTIFACTS / "01-quickstart-widgets.html").write_text(html)
    assert "Error displaying widget" not in html and not re.search(r"[VH]Box\(", html)
    assert html.count("docker-magics-record") >= 3
    assert re.search(r"Built [0-9a-f]{12} \(hello-notebook:1\)", html)
    assert "1: digest: sha256:" in html and "Pushed " in html


def test_binder_without_an_engine(tmp_path, monkeypatch):
    """On Binder (BINDER_* variables, no engine): the first magic explains, in words, what is
    missing and how to run the tutorial locally, and every magic ends in one line, never a
    traceback. "Run all" stops at that first magic, as JupyterLab's does."""
    from nbclient.exceptions import CellExecutionError

    env = {
        "BINDER_LAUNCH_HOST": "https://mybinder.org/",
        "BINDER_REQUEST": "v2/gh/x/y/HEAD",
        "BINDER_REPO_URL": "https://github.com/x/y",
        "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    def run(nb, allow_errors):
        client = NotebookClient(
            nb,
            kernel_name="python3",
            timeout=120,
            allow_errors=allow_errors,
            resources={"metadata": {"path": str(tmp_path)}},
        )
        try:
            client.execute()
        except CellExecutionError:
            pass
        return nb

    # "Run all" on each tutorial: it stops at the first magic, which explains.
    for path in NOTEBOOKS:
        nb = run(nbformat.read(path, as_version=4), allow_errors=False)
        text = text_of(nb)
        assert "Traceback" not in text, path.name
        assert text.count("This notebook runs on Binder, which has no Docker engine") == 1
        assert "git clone https://github.com/x/y docker_magics" in text
        assert "pip install '.[lab]'" in text
        assert text.count("UsageError: ") == 1
    # Every cell of every tutorial, run one after the other even when some fail (a reader
    # pressing Shift+Enter through it): one line each, never a traceback.
    failing = []
    for path in NOTEBOOKS:
        nb = run(nbformat.read(path, as_version=4), allow_errors=True)
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            assert "Traceback" not in text_of(nbformat.v4.new_notebook(cells=[cell])), (
                path.name,
                cell.source,
            )
            # (a line may reach the frontend in several stream messages)
            stderr = "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stderr")
            errors = [stderr] if stderr else []
            errors += ["\n".join(o["traceback"]) + "\n" for o in cell.outputs if "traceback" in o]
            # Cells that need no engine just work; the others say one line.
            assert len(errors) <= 1, (path.name, cell.source, errors)
            for error in errors:
                assert error.count("\n") == 1, error
            if errors:
                failing.append(cell)
    assert len(failing) > 20
