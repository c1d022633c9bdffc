"""The base image's Python, asked in a container of it (``python3 -c``, no network) before
anything is built: its version (it must be the kernel's major.minor), its C library and
machine, from which the wheel tags it accepts follow, as pip's and ``packaging.tags``' own
rules derive them. Remembered per image id for the session."""

from __future__ import annotations

import json
from dataclasses import dataclass

from docker_magics.errors import (
    BadArgument,
    ConnectFailed,
    DockerMagicsError,
    Interrupted,
    option,
)

# Runs in the base image: the standard library only, any Python 3.
PROBE = r"""
import glob, json, platform, re, subprocess, sys
libc, version = platform.libc_ver()
if not libc:
    for loader in glob.glob("/lib/ld-musl-*.so.1"):
        said = subprocess.run([loader], capture_output=True, text=True).stderr
        found = re.search(r"Version ([0-9.]+)", said)
        libc, version = "musl", found.group(1) if found else "1.1"
print(json.dumps({
    "version": list(sys.version_info[:3]),
    "implementation": sys.implementation.name,
    "machine": platform.machine(),
    "libc": libc,
    "libc_version": version,
}))
"""

# manylinux's first glibc per machine (PEP 600: x86 from 2.5, the others from 2.17), and the
# legacy names of glibc 2.5, 2.12 and 2.17 (PEP 513, 571, 599).
_OLDEST_GLIBC = {"x86_64": 5, "i686": 5}
_LEGACY = {5: "manylinux1", 12: "manylinux2010", 17: "manylinux2014"}
_LEGACY_MACHINES = {
    5: {"x86_64", "i686"},
    12: {"x86_64", "i686"},
    17: {"x86_64", "i686", "aarch64", "armv7l", "ppc64", "ppc64le", "s390x"},
}


@dataclass(frozen=True)
class Target:
    """What the base image's Python accepts."""

    image: str
    version: tuple[int, int, int]
    implementation: str  # cpython, pypy
    machine: str  # x86_64, aarch64
    libc: str  # glibc, musl, or "" (unknown)
    libc_version: str

    @property
    def platforms(self) -> list[str]:
        """Platform tags, most specific first, as ``packaging.tags.platform_tags`` gives them
        on that system."""
        arch = self.machine
        numbers = [int(p) for p in self.libc_version.split(".")[:2] if p.isdigit()]
        tags = []
        if self.libc == "glibc" and len(numbers) == 2 and numbers[0] == 2:
            for minor in range(numbers[1], _OLDEST_GLIBC.get(arch, 17) - 1, -1):
                tags.append(f"manylinux_2_{minor}_{arch}")
                if minor in _LEGACY and arch in _LEGACY_MACHINES[minor]:
                    tags.append(f"{_LEGACY[minor]}_{arch}")
        elif self.libc == "musl" and len(numbers) == 2 and numbers[0] == 1:
            tags += [f"musllinux_1_{minor}_{arch}" for minor in range(numbers[1], -1, -1)]
        return [*tags, f"linux_{arch}"]

    @property
    def interpreter(self) -> str:
        short = {"cpython": "cp", "pypy": "pp"}.get(self.implementation, self.implementation)
        return f"{short}{self.version[0]}{self.version[1]}"

    def tags(self) -> list[str]:
        """Every wheel tag it accepts, best first (``packaging.tags``, given this system)."""
        from packaging import tags

        version = self.version[:2]
        platforms = self.platforms
        if self.implementation == "cpython":
            found = tags.cpython_tags(version, [self.interpreter], platforms)
        else:
            found = tags.generic_tags(self.interpreter, None, platforms)
        generic = tags.compatible_tags(version, self.interpreter, platforms)
        return [str(t) for t in [*found, *generic]]

    def pip_options(self) -> list[str]:
        """``pip download`` options that choose wheels for this Python, not the kernel's."""
        options = ["--python-version", f"{self.version[0]}.{self.version[1]}"]
        options += ["--implementation", self.interpreter[:2], "--abi", self.interpreter]
        for platform in self.platforms:
            options += ["--platform", platform]
        return options

    @property
    def label(self) -> str:
        name = {"cpython": "Python", "pypy": "PyPy"}.get(self.implementation, self.implementation)
        version = ".".join(map(str, self.version))
        return f"{name} {version} ({self.libc or 'unknown libc'}, {self.machine})"


_PROBED: dict[str, Target] = {}


def probe(conn, image: str, progress: str = "auto") -> Target:
    """Ask ``image``'s Python (pulling the image if the engine lacks it)."""
    from docker_magics.runs import runner
    from docker_magics.runs.options import RunSpec

    image_id = _image_id(conn, image, progress)
    if image_id in _PROBED:
        return _PROBED[image_id]
    spec = RunSpec(image=image, entrypoint=["python3"], command=["-c", PROBE], network="none")
    try:
        result = runner.run(conn, spec, progress="none")
        facts = json.loads(result.stdout.strip().splitlines()[-1])
    except (Interrupted, ConnectFailed):
        raise
    except (DockerMagicsError, ValueError, IndexError) as exc:
        reason = str(exc)[:1].lower() + str(exc)[1:] if str(exc) else "no answer"
        raise BadArgument(
            f"Cannot ask the base image {image} for its Python ({reason.rstrip('.')})",
            f"Give a {option('--base')} image with python3 on its PATH",
        ) from None
    target = Target(
        image,
        tuple(facts["version"]),
        facts["implementation"],
        facts["machine"],
        facts.get("libc") or "",
        facts.get("libc_version") or "",
    )
    _PROBED[image_id] = target
    return target


def _image_id(conn, image: str, progress: str) -> str:
    from docker.errors import NotFound

    api = conn.client.api
    try:
        return api.inspect_image(image)["Id"]
    except NotFound:
        pass
    from docker_magics.registry import transfers

    transfers.pull_missing(
        conn,
        image,
        progress,
        what="base image",
        hint=f"Give a {option('--base')} image the engine has (with Python of the kernel's "
        "major.minor)",
    )
    return api.inspect_image(image)["Id"]


def check(target: Target, python: tuple[int, int, int], implementation: str) -> None:
    """The base must run the kernel's Python major.minor (and implementation)."""
    if target.version[:2] != python[:2] or target.implementation != implementation:
        kernel = ".".join(map(str, python))
        raise BadArgument(
            f"The base image {target.image} has {target.label.split(' (')[0]}, the kernel "
            f"runs {'Python' if implementation == 'cpython' else implementation} {kernel}",
            f"Give a {option('--base')} image with Python {python[0]}.{python[1]} "
            f"(e.g. python:{python[0]}.{python[1]}-slim)",
        )
