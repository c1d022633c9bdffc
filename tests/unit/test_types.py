"""The package type-checks (mypy, configured in pyproject.toml), and the docker-py internals
it calls, typed in ``engine/dockerpy.py`` because docker-py's stubs leave them out, are still
docker-py's."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from docker_magics.engine.dockerpy import Internals

ROOT = Path(__file__).resolve().parents[2]


def test_mypy_is_clean():
    pytest.importorskip("mypy", reason="mypy comes with the test extra")
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "docker_magics"],  # the settings: pyproject.toml
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        pytest.fail(f"mypy found problems:\n{done.stdout}{done.stderr}", pytrace=False)


def _members(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(value)
        for name, value in vars(cls).items()
        if name.startswith("_") and not name.startswith("__") and callable(value)
    }


def test_the_docker_py_internals_used_are_docker_py_s():
    from docker import APIClient

    used = _members(Internals)
    assert "_post" in used and "_raise_for_status" in used
    for name, ours in used.items():
        theirs = inspect.signature(getattr(APIClient, name))
        takes_any = any(p.kind is p.VAR_KEYWORD for p in theirs.parameters.values())
        for parameter in ours.parameters.values():
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                kinds = {p.kind for p in theirs.parameters.values()}
                assert parameter.kind in kinds, f"APIClient.{name} takes no {parameter}"
            else:
                assert parameter.name in theirs.parameters or takes_any, (
                    f"APIClient.{name}{theirs} has no {parameter.name}"
                )
