"""The Python API of reproducing an analysis: :func:`freeze` (an image of the kernel's
Python environment), :func:`freeze_plan` (what it would build) and :func:`run_notebook`
(a notebook executed in a container). Part of :mod:`docker_magics.api`, which re-exports
them; a module of its own so that the facade stays small."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from docker_magics import normalise
from docker_magics.errors import BadArgument, how

if TYPE_CHECKING:  # pragma: no cover
    from docker_magics.builds.result import BuildResult
    from docker_magics.reproduce.freeze import FreezePlan
    from docker_magics.reproduce.result import NotebookResult


def freeze_plan(
    *,
    base: str | None = None,
    packages: str = "all",
    exclude: str | Iterable[str] = (),
    include: str | Iterable[str] = (),
    workdir: str | None = None,
) -> FreezePlan:
    """What :func:`freeze` would build, without building it (no engine, no network): a
    plan shown as its Dockerfile, with the distributions (``.inventory.dists``), their pins
    (``.requirements``) and the ``.warnings``."""
    from docker_magics.reproduce import freeze as freezing

    for name, value in {"base": base, "packages": packages, "workdir": workdir}.items():
        normalise.text(value, name)
    return freezing.plan(
        base=base,
        packages=packages,
        exclude=normalise.strings(exclude, "exclude"),
        include=normalise.strings(include, "include", paths=True),
        workdir=workdir,
    )


def freeze(
    tags: str | Iterable[str],
    *,
    base: str | None = None,
    packages: str = "all",
    exclude: str | Iterable[str] = (),
    include: str | Iterable[str] = (),
    workdir: str | None = None,
    labels: Mapping[str, str] | str | Iterable[str] | None = None,
    network: str | None = "none",
    cache_from: str | Iterable[str] = (),
    no_cache: bool = False,
    pull: bool = False,
    builder: str = "classic",
    progress: str = "auto",
) -> BuildResult:
    """Build an image that reproduces this kernel's Python environment; it is a build, with
    the progress and errors of :func:`~docker_magics.build`, and its value a ``BuildResult``.

    ``packages``: ``"all"`` the distributions installed here (default), or ``"imported"``:
    those whose modules the session imported, and what they require; ``exclude`` leaves
    some out by name. ipykernel, nbclient and pip are always added, so that
    :func:`run_notebook` works in the image. Versions are the kernel's own, from its
    metadata; the kernel's pip fetches the wheels for the base image's platform, and the
    build installs them with no network (``network="none"``). The image is ``base``
    (default: the official ``python:X.Y-slim`` of the kernel's version; its Python must be
    the kernel's major.minor, which is checked first) with the packages in a virtual
    environment at /opt/venv (first on PATH), then the ``include`` files (``SRC[:DEST]``)
    in ``workdir`` (default /analysis): the packages' layer stays cached when only files
    change. What cannot be installed (editable installs, local folders, no wheel for the
    image) is left out with one warning line each. :func:`freeze_plan` shows the
    Dockerfile without building."""
    from docker_magics import api
    from docker_magics.builds.options import BuildOptions, parse_pairs
    from docker_magics.reproduce import freeze as freezing

    progress = normalise.progress(progress)
    tags = normalise.strings(tags, "tags")
    if not tags:
        raise BadArgument("The frozen image needs a name", "Give one with -t NAME[:TAG]")
    normalise.text(network, "network")
    normalise.flags(no_cache=no_cache, pull=pull)
    if builder not in ("classic", "buildkit", "auto"):
        raise BadArgument(f"Unknown builder {builder!r:.40}", "Use classic, buildkit or auto")
    frozen = freeze_plan(
        base=base, packages=packages, exclude=exclude, include=include, workdir=workdir
    )
    options = BuildOptions(
        tags=tags,
        labels=parse_pairs(normalise.pairs(labels, "labels"), "--label"),
        network=network,
        cache_from=normalise.strings(cache_from, "cache_from"),
        no_cache=no_cache,
        pull=pull,
    )
    api._last_build = None
    try:
        api._last_build = freezing.freeze(
            api.current(), frozen, options, builder=builder, progress=progress
        )
    except BaseException as exc:  # Interrupted is a KeyboardInterrupt
        api._last_build = getattr(exc, "result", None)
        raise
    return api._last_build


def run_notebook(
    notebook: str | os.PathLike,
    image: str,
    *,
    parameters: Mapping[str, object] | str | Iterable[str] | None = None,
    raw_parameters: str | Iterable[str] = (),
    output: str | os.PathLike | None = None,
    timeout: float | None = None,
    kernel: str | None = None,
    env: Mapping[str, str] | str | Iterable[str] | None = None,
    network: str | None = None,
    add: str | Iterable[str] = (),
    get: str | Iterable[str] = (),
    progress: str = "auto",
) -> NotebookResult:
    """Execute a notebook inside a container of ``image`` (one made by :func:`freeze`, or
    any image with ipykernel and nbclient), papermill-style: ``parameters`` (a dict of
    values, or ``NAME=VALUE`` strings typed as papermill's ``-p`` types them;
    ``raw_parameters``: ``NAME=VALUE`` kept as strings) go into a cell after the one tagged
    ``parameters``. Shows progress per cell, writes the executed notebook to ``output``
    (default: beside the input, ``NAME.executed.ipynb``) and returns a
    :class:`~docker_magics.NotebookResult` (each cell's status and time).

    ``timeout``: seconds per cell. ``add`` copies files into the image's working folder
    first (``SRC[:DEST]``), ``get`` copies results out after a run that succeeded
    (``PATH[:DEST]``). A failing cell raises ``NotebookFailed``, one line naming the cell;
    the executed copy up to it is written all the same (its ``.result`` says where). The
    container is removed whatever happens; an interrupt stops it."""
    from docker_magics import api
    from docker_magics.reproduce import notebooks
    from docker_magics.reproduce import parameters as params
    from docker_magics.runs.options import parse_env

    path = normalise.path(notebook, "notebook")
    if not path:
        raise BadArgument("notebook is required", "Give the path of an .ipynb file")
    if not normalise.text(image, "image"):
        made = how("%docker_freeze", "docker_magics.freeze()")
        raise BadArgument("image is required", f"Give an image made by {made}")
    output = normalise.path(output, "output")
    for name, value in {"kernel": kernel, "network": network}.items():
        normalise.text(value, name)
    seconds = None
    if timeout is not None:
        seconds = math.ceil(normalise.number(timeout, "timeout", minimum=1, maximum=1e7))
    if not isinstance(parameters, Mapping):
        parameters = normalise.strings(parameters, "parameters")
    values = params.parse(parameters, normalise.strings(raw_parameters, "raw_parameters"))
    env_items = normalise.pairs(env, "env")
    if isinstance(env_items, dict):
        env_items = [f"{k}={v}" for k, v in env_items.items()]
    gets = normalise.strings(get, "get")
    progress = normalise.progress(progress)
    job = notebooks.prepare(path, values, output, normalise.strings(add, "add", paths=True))
    return notebooks.run_notebook(
        api.current(),
        job,
        image,
        timeout=seconds,
        kernel=kernel,
        env=parse_env(env_items),
        network=network,
        gets=gets,
        progress=progress,
    )
