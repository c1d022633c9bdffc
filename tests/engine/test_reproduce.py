"""%docker_freeze and %docker_run_notebook's failures against the real engine, in an
in-process IPython: each is one line, and nothing is left behind (no image, no container)."""

from __future__ import annotations

import nbformat
import pytest

pytestmark = pytest.mark.engine


@pytest.fixture
def connected(run, engine):
    assert run(f"%docker_connect {engine.url}").error is None
    return run


def write_notebook(path, *sources) -> str:
    nbformat.write(
        nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources]), path
    )
    return str(path)


def test_a_base_without_python_is_one_line_and_builds_nothing(connected, busybox, no_leftovers):
    cell = connected(f"%docker_freeze -t repro/nopython:1 --base {busybox}")
    assert cell.usage_error == (
        f"Cannot ask the base image {busybox} for its Python (python3 cannot be run in "
        f"{busybox} (executable file not found in $PATH). Check the command, or use an image "
        "that has it). Give a --base image with python3 on its PATH."
    )
    assert no_leftovers.images(name="repro/nopython") == []


def test_a_base_that_cannot_be_had_is_one_line(connected, no_leftovers):
    cell = connected("%docker_freeze -t repro/x:1 --base 127.0.0.1:9/nothere:3 -q")
    assert cell.usage_error.startswith(
        "The base image 127.0.0.1:9/nothere:3 is not on the engine and cannot be pulled: "
    )
    assert cell.usage_error.endswith(
        "Give a --base image the engine has (with Python of the kernel's major.minor)."
    )


def test_a_name_is_needed_and_asked_before_connecting(run):
    assert run("%docker_freeze --base x").usage_error == (
        "The frozen image needs a name. Give one with -t NAME[:TAG]."
    )


def test_an_image_without_python_cannot_run_a_notebook(connected, busybox, tmp_path, no_leftovers):
    notebook = write_notebook(tmp_path / "a.ipynb", "print(1)")
    cell = connected(f"%docker_run_notebook {notebook} --image {busybox}")
    assert cell.usage_error == (
        f"python3 cannot be run in {busybox} (executable file not found in $PATH). Check the "
        "command, or use an image that has it."
    )
    assert not (tmp_path / "a.executed.ipynb").exists()


def test_an_image_without_nbclient_says_how_to_get_one(
    connected, python_pip_image, tmp_path, no_leftovers
):
    notebook = write_notebook(tmp_path / "a.ipynb", "print(1)")
    cell = connected(f"%docker_run_notebook {notebook} --image {python_pip_image}")
    assert cell.usage_error == (
        f"{python_pip_image} cannot run notebooks: No module named 'nbformat'. Freeze a kernel "
        "into it with %docker_freeze (it adds ipykernel and nbclient), or install nbclient and "
        "ipykernel in the image."
    )


def test_notebook_mistakes_are_one_line(connected, busybox, tmp_path, no_leftovers):
    cell = connected(f"%docker_run_notebook {tmp_path}/none.ipynb --image {busybox}")
    assert cell.usage_error == (
        f"No notebook at {tmp_path}/none.ipynb. Give the path of an .ipynb file."
    )
    notebook = write_notebook(tmp_path / "a.ipynb", "print(1)")
    cell = connected(f"%docker_run_notebook {notebook} --image {busybox} -p 2x=1")
    assert cell.usage_error == (
        "-p: '2x' is not a Python variable name. Use NAME=VALUE with a name such as alpha or "
        "n_runs."
    )
    cell = connected(f"%docker_run_notebook {notebook} --image {busybox} -o {tmp_path}/no/x.ipynb")
    assert cell.usage_error == f"-o {tmp_path}/no/x.ipynb: the folder {tmp_path}/no does not exist."
