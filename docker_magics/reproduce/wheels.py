"""Wheels for the base image's Python, fetched on the notebook's side: the kernel's own pip
(``pip download``, with the kernel's index settings) asks the package index for the exact
versions, choosing wheels by the image's tags, not the kernel's. Engines often cannot reach
the index; the notebook can, so the image installs from these files with the index off.

Wheels are kept in a cache folder (``DOCKER_MAGICS_WHEELS``, else
``~/.cache/docker-magics/wheels``): a freeze whose wheels are all there runs no pip at all.
A distribution with no wheel for the image is built into one here from its source
distribution (``pip wheel``); one that cannot be had is left out, with one warning line.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from docker_magics.errors import FetchFailed, Interrupted
from docker_magics.reproduce.inventory import Dist, canonical
from docker_magics.reproduce.target import Target

_NOT_FOUND = re.compile(r"(?:No matching distribution found for|Could not find a version that "
                        r"satisfies the requirement) ([A-Za-z0-9._-]+)")  # fmt: skip
_NETWORK = (
    "NewConnectionError",
    "ConnectTimeoutError",
    "Max retries exceeded",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "ProxyError",
    "SSLError",
    "Connection refused",
)


def cache_dir() -> Path:
    """Where wheels are kept between freezes."""
    configured = os.environ.get("DOCKER_MAGICS_WHEELS")
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "docker-magics" / "wheels"


def ready_cache() -> Path:
    """The cache folder, made if needed."""
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FetchFailed(
            f"Cannot create the wheel cache {folder} ({exc.strerror})",
            "Set DOCKER_MAGICS_WHEELS to a folder you can write to",
        ) from None
    return folder


@dataclass
class Wheels:
    """What a freeze installs: one wheel per distribution (by normalised name)."""

    files: dict[str, Path] = field(default_factory=dict)
    added: list[Dist] = field(default_factory=list)  # not in the kernel (ALWAYS), resolved
    left_out: dict[str, str] = field(default_factory=dict)  # name -> why (one line each)
    notes: list[str] = field(default_factory=list)  # warnings that are not a leaving out

    def requirements(self, dists: list[Dist]) -> str:
        """``requirements.txt`` of what is installed: exact pins, sorted, no dates (the same
        set gives the same file, so the packages' layer stays cached)."""
        pins = {d.key: d.pin for d in [*dists, *self.added] if d.key in self.files}
        return "".join(f"{pins[key]}\n" for key in sorted(pins))


def _wheel_info(path: Path):
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    try:
        name, version, _, tags = parse_wheel_filename(path.name)
    except InvalidWheelFilename:
        return None
    return str(name), version, {str(t) for t in tags}


def select(folder: Path, dists: list[Dist], tags: list[str]) -> dict[str, Path]:
    """The best wheel in ``folder`` for each of ``dists`` (its exact version, a tag the
    image accepts: the one it ranks first)."""
    from packaging.version import InvalidVersion, Version

    rank = {tag: i for i, tag in enumerate(tags)}
    wanted: dict[str, object] = {}
    for dist in dists:
        try:
            wanted[dist.key] = Version(dist.version)
        except InvalidVersion:
            continue
    best: dict[str, tuple[int, Path]] = {}
    for path in folder.glob("*.whl") if folder.is_dir() else ():
        info = _wheel_info(path)
        if info is None:
            continue
        name, version, wheel_tags = info
        if wanted.get(name) != version:
            continue
        score = min((rank[t] for t in wheel_tags if t in rank), default=None)
        if score is not None and (name not in best or score < best[name][0]):
            best[name] = (score, path)
    return {name: path for name, (_, path) in best.items()}


def _pip(args: list[str], what: str) -> subprocess.CompletedProcess:
    if importlib.util.find_spec("pip") is None:
        raise FetchFailed(
            f"pip is not installed in the kernel's environment ({sys.executable})",
            "Install it there (python -m ensurepip): it fetches the wheels",
        )
    command = [sys.executable, "-m", "pip", *args, "--disable-pip-version-check", "--no-input"]
    try:
        return subprocess.run(command, capture_output=True, text=True, env=_pip_env())
    except KeyboardInterrupt:
        raise Interrupted(f"Interrupted while pip {what}; nothing was built") from None


def _pip_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PIP_REQUIRE_VIRTUALENV", None)  # pip download installs nothing
    env["PIP_PROGRESS_BAR"] = "off"
    return env


def _network_failure(output: str) -> FetchFailed | None:
    if not any(marker in output for marker in _NETWORK):
        return None
    line = next((ln for ln in output.splitlines() if any(m in ln for m in _NETWORK)), "")
    host = re.search(r"host='([^']+)'", line)
    where = f" ({host.group(1)})" if host else ""
    return FetchFailed(
        f"pip could not reach the package index{where} to fetch the wheels",
        "Check the kernel's network and pip's index settings (pip config list)",
    )


def download(dists: list[Dist], target: Target, folder: Path) -> dict[str, str]:
    """Fetch a wheel of each of ``dists`` for ``target`` into ``folder``; what could not be
    fetched: name -> why. pip stops at the first requirement it cannot satisfy, which is
    then set aside and the rest asked again."""
    pending = {d.key: d for d in dists}
    failed: dict[str, str] = {}
    while pending:
        args = ["download", "--no-deps", "--only-binary=:all:", "--retries", "2"]
        args += [*target.pip_options(), "--dest", str(folder)]
        done = _pip(args + [d.pin for d in pending.values()], "fetched wheels")
        if done.returncode == 0:
            return failed
        output = done.stdout + done.stderr
        network = _network_failure(output)
        if network is not None:
            raise network
        names = [canonical(m) for m in _NOT_FOUND.findall(output)]
        culprit = next((n for n in names if n in pending), None)
        if culprit is None:
            last = " ".join(output.strip().splitlines()[-1:])[:300]
            raise FetchFailed(f"pip download failed: {last}", "See the kernel's pip settings")
        dist = pending.pop(culprit)
        failed[culprit] = f"no wheel of {dist.pin} for {target.label} on the package index"
    return failed


def build(dist: Dist, target: Target, folder: Path) -> tuple[Path | None, str]:
    """A wheel built here from ``dist``'s source distribution (``pip wheel``): its path, or
    None and why not."""
    with tempfile.TemporaryDirectory(prefix="wheel-", dir=folder) as tmp:
        done = _pip(["wheel", "--no-deps", "--wheel-dir", tmp, dist.pin], f"built {dist.name}")
        network = _network_failure(done.stdout + done.stderr)
        if network is not None:
            raise network
        built = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not built:
            return None, f"no wheel of {dist.pin} for {target.label}, and none could be built"
        wheel = built[0]
        accepted = set(target.tags())
        info = _wheel_info(wheel)
        if info is None or not info[2] & accepted:
            return None, f"no wheel of {dist.pin} for {target.label} (built here: {wheel.name})"
        final = folder / wheel.name
        os.replace(wheel, final)
        return final, ""


def resolve_added(
    names: list[str], pins: list[Dist], taken: set[str], target: Target, folder: Path
) -> list[Dist]:
    """The versions of ``names`` (not in the kernel) and of what they need beyond the
    ``taken`` distributions, resolved by pip with the kernel's versions (``pins``) as
    constraints; remembered in the cache folder, so it is asked once per environment."""
    constraints = "".join(f"{d.pin}\n" for d in sorted(pins, key=lambda d: d.key))
    asked = json.dumps([names, constraints, sorted(taken), target.tags()[:50]]).encode()
    key = hashlib.sha256(asked).hexdigest()[:16]
    memo = folder / f"resolved-{key}.json"
    if memo.is_file():
        return [Dist(n, v, "index") for n, v in json.loads(memo.read_text())]
    with tempfile.TemporaryDirectory(prefix="resolve-", dir=folder) as tmp:
        (Path(tmp) / "constraints.txt").write_text(constraints)
        args = ["download", "--only-binary=:all:", *target.pip_options(), "--dest", tmp]
        args += ["--constraint", str(Path(tmp) / "constraints.txt"), *names]
        done = _pip(args, f"resolved {', '.join(names)}")
        network = _network_failure(done.stdout + done.stderr)
        if network is not None:
            raise network
        if done.returncode != 0:
            last = " ".join((done.stdout + done.stderr).strip().splitlines()[-1:])[:200]
            raise FetchFailed(
                f"pip could not add {', '.join(names)} to the kernel's packages: {last}",
                "Install them in the kernel (pip install ipykernel nbclient), then freeze",
            )
        added = []
        for wheel in sorted(Path(tmp).glob("*.whl")):
            info = _wheel_info(wheel)
            if info is None:
                continue
            if not (folder / wheel.name).exists():
                os.replace(wheel, folder / wheel.name)
            if info[0] not in taken:
                added.append(Dist(info[0], str(info[1]), "index"))
    memo.write_text(json.dumps([[d.name, d.version] for d in added]))
    return added


def fetch(
    dists: list[Dist],
    added: list[str],
    target: Target,
    say: Callable[[str], object] = print,
    kernel: Sequence[Dist] = (),
) -> Wheels:
    """A wheel for each of ``dists`` (and ``added`` names, resolved at the versions of the
    ``kernel``'s distributions, where it has them), from the cache or fetched; what cannot
    be had is left out with a reason."""
    folder = ready_cache()
    wheels = Wheels()
    fetchable = []
    for dist in dists:
        why = dist.why_not_fetchable()
        if dist.origin == "wheel-file" and Path(dist.location).is_file():
            wheels.files[dist.key] = Path(dist.location)
        elif why is not None or dist.origin == "wheel-file":
            wheels.left_out[dist.key] = why or f"installed from {dist.location}, now gone"
        else:
            fetchable.append(dist)
    if added:
        pins = [d for d in [*kernel] or dists if d.origin == "index"]
        taken = {d.key for d in dists}
        wheels.added = resolve_added(added, pins, taken, target, folder)
        fetchable += wheels.added
    tags = target.tags()
    found = select(folder, fetchable, tags)
    missing = [d for d in fetchable if d.key not in found]
    if missing:
        say(
            f"Fetching {len(missing)} wheel{'s' if len(missing) != 1 else ''} for "
            f"{target.label} with pip ({len(found)} already in {folder})…"
        )
        failed = download(missing, target, folder)
        for key in failed:
            dist = next(d for d in missing if d.key == key)
            built, why = build(dist, target, folder)
            if built is None:
                wheels.left_out[key] = why
            elif not built.name.endswith("-none-any.whl"):
                wheels.notes.append(
                    f"{dist.pin} has no wheel for {target.label} on the index: built "
                    f"{built.name} here, which runs in the image if its system libraries do"
                )
        found = select(folder, fetchable, tags)
    for dist in fetchable:
        if dist.key in found:
            wheels.files[dist.key] = found[dist.key]
        elif dist.key not in wheels.left_out:
            wheels.left_out[dist.key] = f"no wheel of {dist.pin} for {target.label}"
    return wheels
