"""Pure: the Dockerfile of a frozen environment, and where each part of its context goes.

Two stages. The first installs the wheels (sent in the context under ``wheels/``, with
``requirements.txt``) into a virtual environment, index off, no dependency resolution (the
pins are the kernel's whole set), with the pip wheel itself as the installer (so the base
needs no pip, only ``venv``). The image is the base plus that environment copied from the
first stage, so no wheel, pip cache or build leftover reaches its layers. The packages'
layer comes before the analysis' files (``files/``): editing a file and freezing again
rebuilds only the last layers.
"""

from __future__ import annotations

import json

VENV = "/opt/venv"
WHEELS = "wheels"  # in the context
FILES = "files"  # in the context
DEFAULT_WORKDIR = "/analysis"
LABEL_PREFIX = "org.docker-magics.freeze"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def render(
    base: str,
    *,
    python: str,
    count: int,
    workdir: str = DEFAULT_WORKDIR,
    files: bool = False,
) -> str:
    """The Dockerfile of a base, the kernel's Python version, how many distributions it
    installs, the working folder, and whether ``files/`` has the analysis' files."""
    install = " ".join(
        [
            f'{VENV}/bin/python "$(ls /tmp/{WHEELS}/pip-*.whl | head -n 1)/pip" install',
            "--no-index --no-deps --only-binary=:all: --no-cache-dir",
            "--disable-pip-version-check --no-warn-script-location",
            f"--find-links /tmp/{WHEELS} --requirement /tmp/{WHEELS}/requirements.txt",
        ]
    )
    labels = {f"{LABEL_PREFIX}.python": python, f"{LABEL_PREFIX}.packages": str(count)}
    lines = [
        "# Made by docker_magics (%docker_freeze): the Python environment of a Jupyter",
        f"# kernel (Python {python}, {count} distributions pinned in {WHEELS}/requirements.txt),",
        f"# installed from wheels fetched on the notebook's side into {WHEELS}/: no network.",
        f"FROM {base} AS packages",
        f"COPY {WHEELS}/ /tmp/{WHEELS}/",
        f"RUN python3 -m venv --without-pip {VENV} \\",
        f" && {install}",
        "",
        f"FROM {base}",
        f"COPY --from=packages {VENV} {VENV}",
        # An image made by `docker import` may have no PATH: the engine's default then.
        f"ENV VIRTUAL_ENV={VENV} PATH={VENV}/bin:${{PATH:-{DEFAULT_PATH}}}",
        f"WORKDIR {workdir}",
    ]
    if files:
        lines.append(f"COPY {FILES}/ ./")
    lines.append("LABEL " + " ".join(f"{k}={json.dumps(v)}" for k, v in labels.items()))
    return "\n".join(lines) + "\n"
