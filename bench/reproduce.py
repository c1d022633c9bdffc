"""Benchmark case 6: reproducing an analysis (%docker_freeze, %docker_run_notebook), called
by bench/run.py (``--cases 6``) with its engine and its ``row``.

- Freeze time of a kernel with about 20 packages of its own (plus ipykernel's and
  docker_magics'): the first build (the engine has nothing of it; wheels already fetched on
  the notebook's side, as after a first freeze) against ``docker build`` of the very same
  context, and a rebuild after changing one included file (goal <= 3 s).
- Image size against the base plus what is installed (``du`` of the environment and the
  files inside the image): goal no more than 5% over.
- %docker_run_notebook against nbclient running the same notebook locally, in the same
  environment: goal at most 3 s more.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import nbformat

from tests.support import build_python_pip_image
from tests.support.kernel import Kernel
from tests.support.venvs import kernel_venv

BASE = "bench/python-pip:3"
IMAGE = "bench/frozen:1"
# About 20 distributions an analysis brings (with their own requirements).
PACKAGES = [
    "numpy",
    "pandas",
    "tabulate",
    "jinja2",
    "pyyaml",
    "requests",
    "attrs",
    "nbclient",  # the local reference runs the notebook with it
]
NOTEBOOK = [
    "import numpy as np, pandas as pd",
    "n = 200",
    "frame = pd.DataFrame({'x': np.arange(n), 'y': np.random.default_rng(1).normal(size=n)})",
    "frame.describe()",
    "frame['z'] = frame.x * frame.y",
    "print(frame.z.sum().round(3))",
    "import tabulate; print(tabulate.tabulate(frame.head(), headers='keys'))",
    "import jinja2; jinja2.Template('{{ n }} rows').render(n=n)",
    "import yaml; yaml.safe_dump({'rows': n})",
    "frame.groupby(frame.x % 4).y.mean()",
]


def case_reproduce(engine, repeat: int, row) -> None:
    import docker

    case = "6 reproduce an analysis"
    build_python_pip_image(engine.url, BASE)
    python = kernel_venv("bench", PACKAGES)
    folder = Path(tempfile.mkdtemp(prefix="bench-repro-"))
    (folder / "data.csv").write_text("x,y\n1,2\n")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in NOTEBOOK])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, folder / "analysis.ipynb")
    env = {"DOCKER_HOST": engine.url, "DOCKER_MAGICS_WHEELS": str(folder / "wheels")}
    kernel = Kernel(env=env, cwd=str(folder), python=str(python))
    api = docker.APIClient(base_url=engine.url, version="auto")
    cli_env = {
        "DOCKER_HOST": engine.url,
        "DOCKER_BUILDKIT": "0",
        "PATH": "/usr/bin:/bin:/usr/local/bin",
    }
    freeze = f"%docker_freeze -t {IMAGE} --base {BASE} --include data.csv --progress none"
    try:
        check(kernel.run("%load_ext docker_magics\n%docker_connect"))
        count = int(
            kernel.run(
                "import importlib.metadata as m; print(len(list(m.distributions())))"
            ).stream()
        )
        check(kernel.run(freeze, timeout=1800))  # fetches the wheels (into the cache)
        context = folder / "context"
        check(kernel.run(_write_context(context, BASE), timeout=600))
        what = f"{case}: a kernel of {count} distributions"

        def forget() -> None:  # the engine has nothing of the frozen image
            for image in api.images(filters={"dangling": True}, quiet=True):
                api.remove_image(image, force=True)
            for tag in (IMAGE, "bench/cli:1"):
                try:
                    api.remove_image(tag, force=True)
                except docker.errors.NotFound:
                    pass

        cli, ours = [], []
        for i in range(max(2, repeat // 2)):
            for tool in ["cli", "ours"] if i % 2 == 0 else ["ours", "cli"]:
                forget()
                if tool == "cli":
                    started = time.perf_counter()
                    command = ["docker", "build", "-q", "-t", "bench/cli:1", str(context)]
                    subprocess.run(command, check=True, env=cli_env, capture_output=True)
                    cli.append(time.perf_counter() - started)
                else:
                    ex = check(kernel.run(freeze, timeout=1800))
                    ours.append(ex.finished - ex.started)
        runs = len(ours)
        first_cli, first = statistics.median(cli), statistics.median(ours)
        row(what, "first build: docker build of the same context", first_cli, "s", runs=runs)
        note = "the same Dockerfile and wheels, built from scratch: the engine's install dominates"
        row(what, "first build: %docker_freeze", first, "s", first_cli, note=note, runs=runs)

        rebuilds = []
        for i in range(repeat):
            with open(folder / "data.csv", "a") as f:
                f.write(f"{i},{i}\n")
            ex = check(kernel.run(freeze))
            rebuilds.append(ex.finished - ex.started)
        again = statistics.median(rebuilds)
        row(
            what,
            "rebuild after changing one included file",
            again,
            "s",
            target="target <= 3 s",
            runs=repeat,
        )

        base, image = api.inspect_image(BASE)["Size"], api.inspect_image(IMAGE)["Size"]
        du = _in_image(api, IMAGE, "du -sb /opt/venv /analysis")
        installed = sum(int(line.split()[0]) for line in du.splitlines())
        note = (
            "ratio to the base's size plus the bytes installed (du -sb of /opt/venv and the "
            f"files): {base / 1e6:.1f} MB + {installed / 1e6:.1f} MB"
        )
        row(
            what,
            "image size",
            image / 1e6,
            "MB",
            (base + installed) / 1e6,
            "target <= 1.05",
            note,
            runs=1,
        )

        local, inside = [], []
        run = f"%docker_run_notebook analysis.ipynb --image {IMAGE} --progress none"
        for i in range(repeat):
            for tool in ["local", "inside"] if i % 2 == 0 else ["inside", "local"]:
                if tool == "local":
                    started = time.perf_counter()
                    subprocess.run(
                        [str(python), "-c", _LOCAL], cwd=folder, check=True, capture_output=True
                    )
                    local.append(time.perf_counter() - started)
                else:
                    ex = check(kernel.run(run, timeout=600))
                    inside.append(ex.finished - ex.started)
        overhead = statistics.median(inside) - statistics.median(local)
        what = f"{case}: a notebook of {len(NOTEBOOK)} cells (numpy, pandas...)"
        row(
            what,
            "nbclient, locally in the same environment",
            statistics.median(local),
            "s",
            runs=repeat,
        )
        inside_median = statistics.median(inside)
        row(what, "%docker_run_notebook in the frozen image", inside_median, "s", runs=repeat)
        note = "median inside less median local"
        row(
            what,
            "%docker_run_notebook overhead",
            overhead,
            "s",
            target="target <= 3 s",
            note=note,
            runs=repeat,
        )
    finally:
        kernel.shutdown()
        api.close()
        shutil.rmtree(folder, ignore_errors=True)


_LOCAL = """
import nbformat
from nbclient import NotebookClient
nb = nbformat.read("analysis.ipynb", as_version=4)
NotebookClient(nb, kernel_name="python3", resources={"metadata": {"path": "."}}).execute()
nbformat.write(nb, "analysis.local.ipynb")
"""


def _write_context(context: Path, base: str) -> str:
    """Kernel code writing the context a freeze sends (Dockerfile, wheels/, files/) to a
    folder, for ``docker build``."""
    return f"""
import shutil
from pathlib import Path
from docker_magics import api
from docker_magics.reproduce import freeze
context = Path({str(context)!r})
(context / "files").mkdir(parents=True)
(context / "wheels").mkdir()
plan = freeze.plan(base={base!r}, include=["data.csv"])
text = freeze.stage(api.current(), plan, context / "wheels", progress="none")
(context / "Dockerfile").write_text(text)
shutil.copy("data.csv", context / "files" / "data.csv")
"""


def _in_image(api, image: str, script: str) -> str:
    container = api.create_container(image, ["sh", "-c", script], network_disabled=True)
    try:
        api.start(container)
        api.wait(container)
        return api.logs(container, stderr=False).decode().strip()
    finally:
        api.remove_container(container, force=True)


def check(ex):
    if ex.status != "ok":
        raise RuntimeError(f"cell failed: {ex.error} {ex.stream('stderr')[-2000:]}")
    return ex
