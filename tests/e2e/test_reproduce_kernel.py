"""%docker_freeze and %docker_run_notebook in a real kernel whose environment has a few
pinned packages (a virtualenv made with pip from the package index), against the real
engine, with a Python base image made locally (debootstrap: python3, pip, venv)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.engine

PINNED = {"six": "1.16.0", "tabulate": "0.8.10", "attrs": "23.1.0"}  # none the latest
FROZEN = "repro/env:1"


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("analysis")


def start_kernel(engine, base: str, folder: Path, wheels: Path):
    """A kernel of a virtualenv with the PINNED packages, connected, BASE set."""
    from tests.support.kernel import Kernel
    from tests.support.venvs import kernel_venv

    python = kernel_venv("freeze", [f"{n}=={v}" for n, v in PINNED.items()])
    env = {"DOCKER_HOST": engine.url, "BASE": base, "DOCKER_MAGICS_WHEELS": str(wheels)}
    k = Kernel(env=env, cwd=str(folder), python=str(python))
    ex = k.run("%load_ext docker_magics\n%docker_connect\nimport os; BASE = os.environ['BASE']")
    assert ex.status == "ok", ex.error
    return k


@pytest.fixture(scope="module")
def kernel(engine, python_pip_image, folder):
    """Wheels are cached for the machine, as a user's are."""
    from tests.support.images import PYTHON_ROOTFS_CACHE

    k = start_kernel(engine, python_pip_image, folder, PYTHON_ROOTFS_CACHE / "wheels")
    yield k
    k.shutdown()


@pytest.fixture(scope="module")
def frozen(kernel, folder):
    (folder / "data.csv").write_text("city,t\nLisbon,18\nOslo,6\n")
    ex = kernel.run(f"%docker_freeze -t {FROZEN} --base {{BASE}} --include data.csv", timeout=900)
    assert ex.status == "ok", (ex.error, ex.stream("stderr")[-3000:])
    return ex


def in_image(engine_api, image: str, code: str) -> str:
    """Run python3 -c CODE in the image with no network; its output."""
    container = engine_api.create_container(
        image,
        ["python3", "-c", code],
        host_config=engine_api.create_host_config(network_mode="none"),
    )
    try:
        engine_api.start(container)
        assert engine_api.wait(container)["StatusCode"] == 0, engine_api.logs(container)
        return engine_api.logs(container, stderr=False).decode()
    finally:
        engine_api.remove_container(container, force=True)


def test_freeze_gives_the_kernels_versions_without_network(kernel, frozen, engine_api):
    assert "Built " in frozen.stream() and "(repro/env:1)" in frozen.stream()
    result = kernel.run("r = _\nprint(type(r).__name__, r.ok, r.tags)")
    assert result.stream() == "BuildResult True ['repro/env:1']\n"
    asked = kernel.run(f"import importlib.metadata as m; print(*map(m.version, {list(PINNED)}))")
    assert asked.stream().split() == list(PINNED.values())
    code = f"import {', '.join(PINNED)}; print({', '.join(f'{n}.__version__' for n in PINNED)})"
    assert in_image(engine_api, FROZEN, code).split() == list(PINNED.values())
    # What the kernel has installed is there, version for version.
    kernel_dists = kernel.run(
        "import importlib.metadata as m, json\n"
        "print(json.dumps(sorted({d.metadata['Name'].lower(): d.version "
        "for d in m.distributions()}.items())))"
    )
    image_dists = in_image(
        engine_api,
        FROZEN,
        "import importlib.metadata as m, json\n"
        "print(json.dumps(sorted({d.metadata['Name'].lower(): d.version "
        "for d in m.distributions()}.items())))",
    )
    assert set(map(tuple, json.loads(kernel_dists.stream()))) <= set(
        map(tuple, json.loads(image_dists))
    )


def test_the_image_keeps_no_wheels_and_no_pip_cache(frozen, engine_api, python_pip_image):
    scan = (
        "import os\n"
        "print(sorted(os.path.join(d, f) for top in ('/usr', '/opt', '/tmp', '/root', '/var', "
        "'/home', '/analysis') for d, _, fs in os.walk(top) for f in fs "
        "if f.endswith('.whl') or '/.cache/pip' in d))"
    )
    # Debian's python3-venv keeps pip's and setuptools' wheels: the base's, not ours.
    assert in_image(engine_api, FROZEN, scan) == in_image(engine_api, python_pip_image, scan)
    history = " ".join(layer["CreatedBy"] for layer in engine_api.history(FROZEN))
    assert "/tmp/wheels" not in history  # the install stage is not in the image's layers
    assert in_image(
        engine_api, FROZEN, "import os; print(os.getcwd(), open('data.csv').read())"
    ) == ("/analysis city,t\nLisbon,18\nOslo,6\n\n")


def test_a_rebuild_after_editing_an_included_file_reuses_the_packages(
    kernel, frozen, folder, engine_api
):
    (folder / "data.csv").write_text("city,t\nLisbon,19\n")
    started = time.monotonic()
    ex = kernel.run(f"r = %docker_freeze -t {FROZEN} --base {{BASE}} --include data.csv -q")
    took = time.monotonic() - started
    assert ex.status == "ok", ex.error
    steps = kernel.run(
        "import json; print(json.dumps([(s.name.split()[0], s.status) for s in r.steps]))"
    )
    statuses = [tuple(s) for s in json.loads(steps.stream())]
    assert ("RUN", "cached") in statuses  # the install
    assert statuses[-2] == ("COPY", "done")  # the files, after the packages
    assert [s for s in statuses if s[0] == "COPY"][:2] == [("COPY", "cached"), ("COPY", "cached")]
    assert in_image(engine_api, FROZEN, "print(open('data.csv').read())") == "city,t\nLisbon,19\n\n"
    assert took < 30  # generous: the benchmark measures it (bench/reproduce.py)


def test_a_parameterised_notebook_runs_inside(kernel, frozen, folder, engine_api, no_leftovers):
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# Analysis"),
            nbformat.v4.new_code_cell("alpha = 1\nlabel = 'x'", metadata={"tags": ["parameters"]}),
            nbformat.v4.new_code_cell(
                "import six, tabulate\nprint(six.__version__, tabulate.__version__)"
            ),
            nbformat.v4.new_code_cell("print(label, [alpha * i for i in range(3)])"),
            nbformat.v4.new_code_cell(
                "import csv\nprint(len(list(csv.DictReader(open('data.csv')))), 'rows')"
            ),
        ]
    )
    nbformat.write(nb, folder / "analysis.ipynb")
    ex = kernel.run(
        "%docker_run_notebook analysis.ipynb --image repro/env:1 -p alpha=2 -p label=hello "
        "--progress plain"
    )
    assert ex.status == "ok", ex.error
    shown = ex.stream()
    assert "Running analysis.ipynb in repro/env:1: 5 cells, kernel python3" in shown
    assert [line.split()[0] for line in shown.splitlines() if line.startswith("[")] == [
        f"[{i}/5]" for i in range(1, 6)
    ]
    done = nbformat.read(folder / "analysis.executed.ipynb", as_version=4)
    outputs = [
        "".join(o.get("text", "") for o in c.outputs) for c in done.cells if c.cell_type == "code"
    ]
    assert outputs == ["", "", "1.16.0 0.8.10\n", "hello [0, 2, 4]\n", "1 rows\n"]
    assert done.cells[2].metadata.tags == ["injected-parameters"]
    assert done.cells[2].source == "# Parameters\nalpha = 2\nlabel = 'hello'\n"
    assert done.metadata.docker_magics.status == "ok"
    result = kernel.run("r = _\nprint(r.ok, [c.status for c in r.cells], r.output)").stream()
    assert result == f"True ['ok', 'ok', 'ok', 'ok', 'ok'] {folder / 'analysis.executed.ipynb'}\n"


def test_a_failing_notebook_is_one_line_and_keeps_its_executed_copy(
    kernel, frozen, folder, no_leftovers
):
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("print('first')"),
            nbformat.v4.new_code_cell("x = 0"),
            nbformat.v4.new_code_cell("y = 1 / x"),
            nbformat.v4.new_code_cell("print('never')"),
        ]
    )
    nbformat.write(nb, folder / "broken.ipynb")
    ex = kernel.run("%docker_run_notebook broken.ipynb --image repro/env:1 -o broken-out.ipynb")
    assert ex.usage_error == (
        "broken.ipynb failed in cell 3 of 4 (y = 1 / x): ZeroDivisionError: division by zero. "
        "The executed notebook, up to that cell, is in broken-out.ipynb."
    )
    assert "Traceback" not in ex.stream() + ex.stream("stderr")
    done = nbformat.read(folder / "broken-out.ipynb", as_version=4)
    assert done.cells[0].outputs[0]["text"] == "first\n"
    assert done.cells[2].outputs[0]["ename"] == "ZeroDivisionError"
    assert done.cells[3].outputs == [] and done.cells[3].execution_count is None
    assert done.metadata.docker_magics.failed_cell == 3


def test_an_interrupt_stops_and_removes_the_container(kernel, frozen, folder, engine_api):
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("print('before')"),
            nbformat.v4.new_code_cell("import time\ntime.sleep(120)"),
            nbformat.v4.new_code_cell("print('after')"),
        ]
    )
    nbformat.write(nb, folder / "slow.ipynb")
    ex = kernel.start("%docker_run_notebook slow.ipynb --image repro/env:1 --progress plain")
    kernel.wait_for_output(ex, "[2/3] running…", timeout=120)
    assert len(engine_api.containers()) == 1
    kernel.interrupt()
    kernel.wait(ex, timeout=60)
    assert ex.usage_error == (
        "Notebook run interrupted in cell 2 of 3; the container was stopped and removed; "
        "what ran is in slow.executed.ipynb."
    )
    assert engine_api.containers(all=True) == []
    done = nbformat.read(folder / "slow.executed.ipynb", as_version=4)
    assert done.cells[0].outputs[0]["text"] == "before\n"
    assert done.metadata.docker_magics.status == "interrupted"


def test_imported_packages_only_fetched_by_pip(engine, python_pip_image, tmp_path, engine_api):
    """``--packages imported`` in a new session, with an empty wheel cache: pip fetches what
    the session imported (six; tabulate is excluded; ipywidgets never imported) with
    ipykernel, and nbclient, which the kernel lacks, resolved by pip with what it needs at
    the kernel's versions (attrs 23.1.0); an editable install is left out with one warning
    line."""
    site = tmp_path / "site"
    info = site / "mine-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mine\nVersion: 0.1\n")
    (info / "RECORD").write_text("mine/__init__.py,,\n")
    (info / "direct_url.json").write_text(
        json.dumps({"url": "file:///src/mine", "dir_info": {"editable": True}})
    )
    (site / "mine").mkdir()
    (site / "mine" / "__init__.py").write_text("")
    kernel = start_kernel(engine, python_pip_image, tmp_path, tmp_path / "wheels")
    try:
        setup = kernel.run(
            f"import sys; sys.path.insert(0, {str(site)!r}); import six, tabulate, mine"
        )
        assert setup.status == "ok", setup.error
        ex = kernel.run(
            "%docker_freeze -t repro/imported:1 --base {BASE} --packages imported "
            "--exclude tabulate --progress plain",
            timeout=900,
        )
    finally:
        kernel.shutdown()
    assert ex.status == "ok", (ex.error, ex.stream("stderr")[-2000:])
    assert re.search(
        r"Fetching \d+ wheels for Python 3\.11\.\d+ \(glibc, \w+\) with pip", ex.stream()
    )
    assert [p.name for p in (tmp_path / "wheels").glob("six-*.whl")] == [
        "six-1.16.0-py2.py3-none-any.whl"
    ]
    warnings = [line for line in ex.stream("stderr").splitlines() if line.startswith("Warning:")]
    assert warnings == ["Warning: mine==0.1 is left out: an editable install of /src/mine"]
    found = in_image(
        engine_api,
        "repro/imported:1",
        "import importlib.util as u, importlib.metadata as m; print([bool(u.find_spec(n)) for n "
        "in ('six', 'tabulate', 'ipywidgets', 'ipykernel', 'nbclient', 'mine')], "
        "m.version('attrs'))",
    )
    assert found.strip() == "[True, False, False, True, True, False] 23.1.0"


def test_a_cell_over_its_timeout_is_one_line(kernel, frozen, folder, no_leftovers):
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("print('quick')"),
            nbformat.v4.new_code_cell("import time\ntime.sleep(60)"),
        ]
    )
    nbformat.write(nb, folder / "timeout.ipynb")
    ex = kernel.run(f"%docker_run_notebook timeout.ipynb --image {FROZEN} --timeout 3")
    assert ex.usage_error == (
        "timeout.ipynb: cell 2 of 2 (import time) did not finish within 3s (the timeout). "
        "The executed notebook, up to that cell, is in timeout.executed.ipynb."
    )
    assert ex.finished - ex.started < 50
    done = nbformat.read(folder / "timeout.executed.ipynb", as_version=4)
    assert done.cells[0].outputs[0]["text"] == "quick\n"
    assert done.metadata.docker_magics.error.kind == "timeout"
