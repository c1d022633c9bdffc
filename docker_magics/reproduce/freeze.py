"""``%docker_freeze``: an image that reproduces the kernel's Python environment.

A plan first (which distributions, which files, the Dockerfile: no engine needed, which is
what ``--dockerfile`` shows), then the build: the base's Python is asked and checked, the
wheels are fetched for it on the notebook's side, and the context (the Dockerfile, the
wheels, the ``--include`` files) goes through the ordinary build path, so the progress, the
errors and the ``BuildResult`` are those of ``%%docker_build``.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from docker_magics.builds.options import BuildOptions
from docker_magics.builds.result import BuildResult
from docker_magics.errors import BadArgument, FetchFailed, option, usage
from docker_magics.reproduce import dockerfile, wheels
from docker_magics.reproduce.inventory import Inventory, collect, required
from docker_magics.reproduce.target import check, probe


@dataclass(frozen=True)
class Include:
    """``--include SRC[:DEST]``: a file or folder of the analysis, at DEST in the image's
    working folder (by default its path relative to the kernel's working folder, or its
    name when it lies elsewhere)."""

    src: Path
    dest: str
    text: str

    @classmethod
    def parse(cls, value: str, cwd: str) -> Include:
        src, dest = value, ""
        if not os.path.exists(os.path.expanduser(value)) and ":" in value:
            src, _, dest = value.rpartition(":")
        path = Path(os.path.expanduser(src)).absolute()
        if not path.exists():
            raise BadArgument(
                f"{usage('--include', value)}: {src} does not exist", "Check the path"
            )
        if not dest:
            real, home = os.path.realpath(path), os.path.realpath(cwd)
            inside = real.startswith(home + os.sep)
            dest = os.path.relpath(real, home) if inside else path.resolve().name
        dest = posixpath.normpath(dest.replace(os.sep, "/")).lstrip("/")
        if dest in ("", ".") or dest == ".." or dest.startswith("../") or ":" in dest:
            raise BadArgument(
                f"{usage('--include', value)}: {dest!r} is not a place inside the working folder",
                f"Give a relative DEST without ':' ({usage('--include', 'SRC:DEST')})",
            )
        return cls(path, dest, value)


def _check_overlaps(includes: list[Include]) -> None:
    for i, one in enumerate(includes):
        for other in includes[:i]:
            for a, b in ((one, other), (other, one)):
                if a.dest == b.dest or a.dest.startswith(b.dest + "/"):
                    raise BadArgument(
                        f"{usage('--include', one.text)} and {usage('--include', other.text)} "
                        f"both go to {a.dest} in the image",
                        f"Give one of them another DEST ({usage('--include', 'SRC:DEST')})",
                    )


@dataclass
class FreezePlan:
    """What a freeze would build: the distributions, the files, the Dockerfile. Shown as
    the Dockerfile."""

    inventory: Inventory
    base: str
    workdir: str
    includes: list[Include]
    dockerfile: str
    warnings: list[str] = field(default_factory=list)

    @property
    def requirements(self) -> str:
        """The pins, one a line, as they go to ``wheels/requirements.txt`` (when each has
        a wheel for the base)."""
        return "".join(f"{d.pin}\n" for d in self.inventory.dists)

    def __str__(self) -> str:
        return self.dockerfile

    def __repr__(self) -> str:
        return self.dockerfile

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(self.dockerfile)


def default_base(python: tuple[int, int, int]) -> str:
    """The official Python image of the kernel's major.minor."""
    return f"python:{python[0]}.{python[1]}-slim"


def plan(
    *,
    base: str | None = None,
    packages: str = "all",
    exclude: Iterable[str] = (),
    include: Iterable[str] = (),
    workdir: str | None = None,
    cwd: str | None = None,
) -> FreezePlan:
    """Read the kernel's environment and decide; no engine, no network."""
    cwd = cwd or os.getcwd()
    includes = [Include.parse(item, cwd) for item in include]
    _check_overlaps(includes)
    workdir = workdir or dockerfile.DEFAULT_WORKDIR
    if not workdir.startswith("/"):
        raise BadArgument(
            f"{usage('--workdir', workdir)}: not an absolute path", "Give e.g. /analysis"
        )
    inventory = collect(packages, exclude, cwd=cwd, included=[str(i.src) for i in includes])
    base = base or default_base(inventory.python)
    text = dockerfile.render(
        base,
        python=".".join(map(str, inventory.python)),
        count=len(inventory.dists) + len(inventory.added),
        workdir=workdir,
        files=bool(includes),
    )
    return FreezePlan(inventory, base, workdir, includes, text, list(inventory.warnings))


def warn(lines: Iterable[str]) -> None:
    for line in lines:
        print(f"Warning: {line}", file=sys.stderr)


def stage(conn, frozen: FreezePlan, folder: Path, progress: str = "auto") -> str:
    """Check the base and fetch the wheels into ``folder`` (with ``requirements.txt``);
    the Dockerfile that installs them. Warnings (one line each) go to stderr."""
    say: Callable[[str], None] = print if progress != "none" else (lambda _text: None)
    inventory = frozen.inventory
    warn(frozen.warnings)
    target = probe(conn, frozen.base, progress)
    check(target, inventory.python, inventory.implementation)
    found = wheels.fetch(inventory.dists, inventory.added, target, say, inventory.installed)
    _left_out(inventory, found)
    installed = [d for d in inventory.dists if d.key in found.files] + found.added
    if "pip" not in found.files:
        raise FetchFailed(
            f"No pip wheel for {target.label}: the image would have no installer",
            f"pip: {found.left_out.get('pip', 'not found')}",
        )
    python = ".".join(map(str, inventory.python))
    say(f"Freezing {len(installed)} distributions of Python {python} onto {frozen.base}")
    _link_wheels(found, folder, found.requirements(inventory.dists))
    return dockerfile.render(
        frozen.base,
        python=python,
        count=len(installed),
        workdir=frozen.workdir,
        files=bool(frozen.includes),
    )


def freeze(
    conn,
    frozen: FreezePlan,
    options: BuildOptions,
    *,
    builder: str = "classic",
    progress: str = "auto",
) -> BuildResult:
    """Stage the wheels, then build through the ordinary build path: the context is the
    Dockerfile, ``wheels/`` and the ``--include`` files under ``files/``."""
    from docker_magics.builds import builder as building
    from docker_magics.builds.dockerfile import classic_steps

    # Beside the cache: the context's wheels are hard links into it.
    folder = Path(tempfile.mkdtemp(prefix="context-", dir=wheels.ready_cache()))
    try:
        text = stage(conn, frozen, folder, progress)
        adds = [f"{folder}:{dockerfile.WHEELS}"]
        adds += [f"{i.src}:{dockerfile.FILES}/{i.dest}" for i in frozen.includes]
        built, instructions = building.prepare_context(text, file=None, context_dir=None, adds=adds)
        return building.run_build(
            conn,
            built,
            options,
            total_steps=classic_steps(instructions, None, len(options.labels)),
            progress=progress,
            builder=builder,
            instructions=instructions,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _left_out(inventory: Inventory, found: wheels.Wheels) -> None:
    """One warning line per distribution left out, and per one that needs it; an error
    when nothing is left."""
    by_key = {d.key: d for d in [*inventory.dists, *found.added]}
    lines = [f"{by_key[k].pin} is left out: {why}" for k, why in sorted(found.left_out.items())]
    for dist in inventory.dists:
        if dist.key in found.left_out:
            continue
        for dep, _ in required(dist):
            if dep in found.left_out:
                lines.append(f"{dist.name} needs {by_key[dep].name}, which is left out")
    warn(lines + found.notes)
    if inventory.dists and len(found.left_out) == len(inventory.dists):
        raise FetchFailed(
            f"None of the kernel's {len(inventory.dists)} distributions can be installed in "
            "the image (see the warnings above)",
            f"Check the {option('--base')} image's platform and the package index",
        )


def _link_wheels(found: wheels.Wheels, folder: Path, requirements: str) -> None:
    """The context's ``wheels/``: the chosen wheels (hard links into the cache when it can)
    and ``requirements.txt``."""
    for path in found.files.values():
        target = folder / path.name
        try:
            os.link(path, target)
        except OSError:
            shutil.copy2(path, target)
    (folder / "requirements.txt").write_text(requirements)
