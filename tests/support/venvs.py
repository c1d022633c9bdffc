"""Virtual environments for kernels with chosen packages (tests of %docker_freeze, the
benchmarks, tutorial 06): this machine's Python, ipykernel, docker_magics' own dependencies
(docker_magics itself comes from PYTHONPATH, as in every kernel the tests start) and the
packages asked for, at their pinned versions. Made once per machine (pip fetches from the
package index) and cached under /var/cache/docker-magics/venvs."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.images import PYTHON_ROOTFS_CACHE

ROOT = Path(__file__).resolve().parents[2]


def package_dependencies() -> list[str]:
    """docker_magics' own requirements, from pyproject.toml (its ``dependencies`` list:
    quoted strings, comments after them)."""
    text = (ROOT / "pyproject.toml").read_text()
    block = re.search(r"^dependencies = \[(.*?)^\]", text, re.M | re.S)
    return re.findall(r'^\s*"([^"]+)"', block.group(1), re.M) if block else []


def kernel_venv(name: str, packages: list[str]) -> Path:
    """The python of a virtualenv with ipykernel, docker_magics' dependencies and
    ``packages`` (requirement strings); made the first time, reused after."""
    wanted = sorted(["ipykernel", *package_dependencies(), *packages])
    key = hashlib.sha256(json.dumps([sys.version, wanted]).encode()).hexdigest()[:10]
    folder = PYTHON_ROOTFS_CACHE / "venvs" / f"{name}-{key}"
    python = folder / "bin" / "python"
    if (folder / "ready").exists():
        return python
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Made where it will live (a venv's scripts name their interpreter by its path).
    shutil.rmtree(folder, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    try:
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *wanted],
            check=True,
            capture_output=True,
        )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    (folder / "ready").write_text("")
    return python
