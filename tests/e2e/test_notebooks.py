"""The tutorials, executed top to bottom with nbclient against the real engines and
registries (as CI does), and the Binder "no engine" path. Executed copies are kept under
artifacts/notebooks/ for inspection."""

from __future__ import annotations

import json
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
    if "data-science" in path.name:
        tutorial_env["PYTHON_BASE_IMAGE"] = request.getfixturevalue("python_image")
    if "swarm" in path.name:  # the test swarm's manager; its base image from the registry
        tutorial_env["DOCKER_HOST"] = request.getfixturevalue("swarm").url
        tutorial_env["BASE_IMAGE"] = request.getfixturevalue("swarm_image")
    nb = execute(path, tmp_path, tutorial_env, monkeypatch)  # raises on any cell error
    text = text_of(nb)
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
            "Switched to 'plain'",
            "Closed the connection",
        ],
        "03-data-science-image": ["Lisbon", "°C", "5 cities", "<svg", "{'city': 'Lisbon'"],
        "04-registries-and-credentials": [
            "Layer already exists",
            "requires a login",
            "Login Succeeded",
            "wrong user name or password",
            "not shown: they may be secret",
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
    }[path.stem]
    for expected in checks:
        assert expected in text, (path.stem, expected)
    if "registries" in path.name:
        assert tutorial_env["REGISTRY_PASSWORD"] not in json.dumps(nb)
        assert tutorial_env["API_TOKEN"] not in json.dumps(nb)


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
