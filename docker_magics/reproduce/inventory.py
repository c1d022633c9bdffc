"""What the running interpreter has installed, read from its own metadata
(``importlib.metadata``), never guessed: each distribution's name, version, where it came
from (PEP 610's ``direct_url.json``) and what it requires; and which of them a freeze takes.

Two choices: ``all`` (every distribution the interpreter sees, as ``pip freeze --all``
lists them) or ``imported`` (the distributions whose modules the session has imported, and
what they require, markers and extras evaluated). ipykernel and nbclient are always added,
so that notebooks can run in the image; so is pip, which installs the rest there.
"""

from __future__ import annotations

import json
import os
import re
import site
import sys
import sysconfig
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from docker_magics.errors import BadArgument, option, usage

MODES = ("all", "imported")
ALWAYS = ("ipykernel", "nbclient", "pip")  # notebooks run inside; pip installs the rest
# Imported by the session for its own sake, not the analysis': not a reason to take a package.
TOOLING = ("docker_magics",)


def canonical(name: str) -> str:
    """PEP 503's normalised name: ``Foo.Bar_baz`` -> ``foo-bar-baz``."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Dist:
    """One installed distribution, as its metadata says."""

    name: str
    version: str
    origin: str  # index | editable | directory | vcs | wheel-file | url
    location: str = ""  # the file, folder or URL it was installed from (not index)
    requires: tuple[str, ...] = field(default=(), repr=False)

    @property
    def key(self) -> str:
        return canonical(self.name)

    @property
    def pin(self) -> str:
        return f"{self.name}=={self.version}"

    def why_not_fetchable(self) -> str | None:
        """Why pip cannot fetch this one from the index, or None."""
        return {
            "editable": f"an editable install of {self.location}",
            "directory": f"installed from the folder {self.location}",
            "vcs": f"installed from {self.location}",
            "url": f"installed from {self.location}",
        }.get(self.origin)


@dataclass
class Inventory:
    """The distributions a freeze takes, and the warnings that go with the choice."""

    python: tuple[int, int, int]
    implementation: str
    dists: list[Dist]
    added: list[str]  # ALWAYS names the interpreter lacks: pip resolves them
    warnings: list[str] = field(default_factory=list)
    installed: list[Dist] = field(default_factory=list)  # all of the kernel's, taken or not


def installed(path: list[str] | None = None) -> dict[str, Dist]:
    """Every distribution on ``path`` (default ``sys.path``), by normalised name; the first
    found wins, as the import system's does."""
    found: dict[str, Dist] = {}
    for dist in _found(path):
        name = dist.metadata["Name"]
        if not name or canonical(name) in found:
            continue
        found[canonical(name)] = _describe(dist, name)
    return found


def _describe(dist: metadata.Distribution, name: str) -> Dist:
    origin, location = "index", ""
    try:
        direct = json.loads(dist.read_text("direct_url.json") or "null")
    except ValueError:
        direct = None
    if isinstance(direct, dict) and isinstance(direct.get("url"), str):
        url = direct["url"]
        location = url.removeprefix("file://")
        if "vcs_info" in direct:
            vcs = direct["vcs_info"]
            origin = "vcs"
            location = f"{vcs.get('vcs', 'vcs')}+{url}@{vcs.get('commit_id', '')[:12]}"
        elif "dir_info" in direct:
            origin = "editable" if direct["dir_info"].get("editable") else "directory"
        elif url.startswith("file://") and url.endswith(".whl"):
            origin = "wheel-file"
        else:
            origin = "url"  # an sdist file, or a remote archive
    elif _outside_site(dist):
        origin, location = "editable", str(_dist_path(dist).parent)  # setup.py develop
    return Dist(name, dist.version, origin, location, tuple(dist.requires or ()))


def _dist_path(dist: metadata.Distribution) -> Path:
    return Path(str(getattr(dist, "_path", "") or dist.locate_file("")))


def _site_dirs() -> list[str]:
    dirs = list(site.getsitepackages()) if hasattr(site, "getsitepackages") else []
    dirs += [site.getusersitepackages(), sysconfig.get_paths()["purelib"]]
    dirs += [sysconfig.get_paths()["platlib"]]
    return [os.path.realpath(d) for d in dirs if d]


def _outside_site(dist: metadata.Distribution) -> bool:
    """An ``.egg-info`` beside a project's sources (``setup.py develop``, old editables)."""
    path = _dist_path(dist)
    if path.suffix != ".egg-info":
        return False
    parent = os.path.realpath(path.parent)
    return not any(parent == d or parent.startswith(d + os.sep) for d in _site_dirs())


def required(dist: Dist, extras: Iterable[str] = ()) -> list[tuple[str, tuple[str, ...]]]:
    """What ``dist`` requires here (markers evaluated for this interpreter, with the
    ``extras`` asked of it): (normalised name, extras asked of that one)."""
    from packaging.requirements import InvalidRequirement, Requirement

    wanted = [""] + sorted(extras)
    out = []
    for text in dist.requires:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue
        if req.marker is not None and not any(
            req.marker.evaluate({"extra": extra}) for extra in wanted
        ):
            continue
        out.append((canonical(req.name), tuple(sorted(req.extras))))
    return out


def closure(roots: dict[str, set[str]], dists: dict[str, Dist]) -> dict[str, set[str]]:
    """``roots`` (name -> extras) and everything they require that is installed."""
    taken: dict[str, set[str]] = {}
    pending = [(name, set(extras)) for name, extras in roots.items()]
    while pending:
        name, extras = pending.pop()
        if name not in dists:
            continue
        known = taken.get(name)
        if known is not None and extras <= known:
            continue
        taken[name] = (known or set()) | extras
        for dep, dep_extras in required(dists[name], taken[name]):
            pending.append((dep, set(dep_extras)))
    return taken


def _found(path: list[str] | None, name: str | None = None) -> Iterable[metadata.Distribution]:
    if path is None:
        return metadata.distributions(name=name)
    return metadata.distributions(name=name, path=path)


def _owners(path: list[str] | None) -> dict[str, list[str]]:
    """Top-level module names -> the distributions that provide them, as Python 3.11's
    ``importlib.metadata.packages_distributions`` finds them (``top_level.txt``, else the
    ``.py`` files listed), on ``path``."""
    owners: dict[str, list[str]] = {}
    for dist in _found(path):
        tops = (dist.read_text("top_level.txt") or "").split()
        if not tops:
            files = [f for f in dist.files or () if f.suffix == ".py"]
            tops = sorted({f.parts[0] if len(f.parts) > 1 else f.stem for f in files})
        for top in tops:
            owners.setdefault(top, []).append(dist.metadata["Name"])
    return owners


def imported_roots(
    dists: dict[str, Dist],
    modules: Iterable[str],
    path: list[str] | None = None,
    owners: dict[str, list[str]] | None = None,
) -> set[str]:
    """The distributions that provide the ``modules`` (dotted names) the session imported.
    A top-level name several distributions share (a namespace such as ``google``) is told
    apart by the next part of the module's name."""
    owners = _owners(path) if owners is None else owners
    roots: set[str] = set()
    for module in modules:
        top, _, rest = module.partition(".")
        if top in TOOLING or top not in owners:
            continue
        names = {canonical(n) for n in owners[top]} & dists.keys()
        if len(names) > 1 and rest:
            sub = rest.partition(".")[0]
            names = {n for n in names if _provides(n, top, sub, path)} or names
        roots |= names
    return roots


def _provides(name: str, top: str, sub: str, path: list[str] | None) -> bool:
    dist = next(iter(_found(path, name=name)), None)
    files = (dist.files or []) if dist is not None else []
    prefixes = (f"{top}/{sub}/", f"{top}/{sub}.")
    return any(str(f).startswith(prefixes) for f in files)


def local_modules(
    modules: Mapping[str, object], cwd: str, owned: Iterable[str] = ()
) -> dict[str, str]:
    """Top-level modules the session imported from the working folder that no distribution
    provides (``owned``: the top-level names distributions do): the analysis' own code.
    Name -> what to include: the module's file, or its package's folder."""
    found: dict[str, str] = {}
    cwd = os.path.realpath(cwd)
    skip = set(owned) | set(TOOLING)
    for name, module in list(modules.items()):
        if "." in name or name in found or name in skip or name.startswith("_"):
            continue
        path = getattr(module, "__file__", None)
        if not isinstance(path, str):
            continue
        real = os.path.realpath(path)
        if real.startswith(cwd + os.sep) and not any(
            real.startswith(d + os.sep) for d in _site_dirs()
        ):
            found[name] = os.path.dirname(real) if real.endswith("__init__.py") else real
    return found


def collect(
    packages: str = "all",
    exclude: Iterable[str] = (),
    *,
    modules: Mapping[str, object] | None = None,
    cwd: str | None = None,
    included: Iterable[str] = (),
    path: list[str] | None = None,
) -> Inventory:
    """The distributions to freeze (``packages``: all or imported), less ``exclude``.
    ``modules``: the session's (``sys.modules``); ``included``: the real paths
    ``--include`` sends (local modules inside them need no warning); ``path``: where
    distributions are looked for (``sys.path``)."""
    if packages not in MODES:
        raise BadArgument(f"Unknown {option('--packages')} {packages!r}", "Use all or imported")
    dists = installed(path)
    session = sys.modules if modules is None else modules
    warnings: list[str] = []
    excluded = {canonical(e) for e in exclude}
    for name in sorted(excluded - dists.keys()):
        warnings.append(f"{usage('--exclude', name)}: the kernel has no distribution of that name")
    owners = _owners(path)
    roots: dict[str, set[str]]
    if packages == "all":
        roots = {key: set() for key in dists}
    else:
        roots = {key: set() for key in imported_roots(dists, list(session), path, owners)}
    roots |= {canonical(n): set() for n in ALWAYS if canonical(n) in dists}
    chosen = closure({k: v for k, v in roots.items() if k not in excluded}, dists)
    taken = [dists[k] for k in sorted(chosen) if k not in excluded]
    added = [n for n in ALWAYS if canonical(n) not in dists and canonical(n) not in excluded]
    for key in sorted(chosen):
        if key in excluded:
            continue
        for dep, _ in required(dists[key], chosen[key]):
            if dep in excluded and dep in dists:
                warnings.append(
                    f"{dists[key].name} needs {dists[dep].name}, which {option('--exclude')} "
                    "leaves out"
                )
    inside = [os.path.realpath(p) for p in included]
    for name, where in sorted(local_modules(session, cwd or os.getcwd(), owners).items()):
        if not any(where == p or where.startswith(p + os.sep) for p in inside):
            shown = os.path.relpath(where, cwd or os.getcwd())
            warnings.append(
                f"The session imported {name} from {shown}, which no installed package "
                f"provides: {usage('--include', shown)} to have it in the image"
            )
    version = sys.version_info
    return Inventory(
        (version.major, version.minor, version.micro),
        sys.implementation.name,
        taken,
        added,
        warnings,
        list(dists.values()),
    )
