"""Base images made locally (these machines cannot pull from Docker Hub): busybox from
Debian's busybox-static, Python from debootstrap, and images of random layers for the
benchmarks and the fault tests."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

BUSYBOX = "/bin/busybox"
PYTHON_ROOTFS_CACHE = Path(os.environ.get("DOCKER_MAGICS_CACHE", "/var/cache/docker-magics"))


def build_busybox(engine_url: str, tag: str) -> str:
    """Make a busybox base image from busybox-static (no registry needed). Returns its id."""
    import docker

    dockerfile = (
        b"FROM scratch\nCOPY busybox /bin/busybox\n"
        b'RUN ["/bin/busybox", "--install", "-s", "/bin"]\nCMD ["sh"]\n'
    )
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
        tar.add(BUSYBOX, arcname="busybox")
    buf.seek(0)
    api = docker.APIClient(base_url=engine_url, version="auto")
    try:
        for chunk in api.build(fileobj=buf, custom_context=True, tag=tag, rm=True, decode=True):
            if "error" in chunk:
                raise RuntimeError(f"busybox image build failed: {chunk['error']}")
        return api.inspect_image(tag)["Id"]
    finally:
        api.close()


def apt_mirror() -> str:
    """The machine's Debian mirror (the first URIs line of its apt sources)."""
    for path in ("/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"):
        try:
            for line in Path(path).read_text().splitlines():
                if line.startswith("URIs:"):
                    return line.split()[1]
                if line.startswith("deb ") and "security" not in line:
                    return line.split()[1]
        except OSError:
            continue
    return "http://deb.debian.org/debian"


def build_python_image(engine_url: str, tag: str) -> str:
    """A Debian image with python3 (no Docker Hub needed): a debootstrap minbase root,
    cached as a tarball under /var/cache/docker-magics, imported into the engine."""
    return _debian_image(engine_url, tag, "debian-bookworm-python3.tar", ["python3"], [])


def build_python_pip_image(engine_url: str, tag: str) -> str:
    """The same with pip and venv (``python3-pip``, ``python3-venv``): Python 3.11 and pip
    23.0 from Debian, ``CMD ["python3"]``; cached the same way."""
    packages = ["python3", "python3-pip", "python3-venv"]
    changes = ['CMD ["python3"]']
    return _debian_image(engine_url, tag, "debian-bookworm-python3-pip.tar", packages, changes)


def _debian_image(
    engine_url: str, tag: str, name: str, packages: list[str], changes: list[str]
) -> str:
    import docker

    tarball = PYTHON_ROOTFS_CACHE / name
    if not tarball.exists():
        PYTHON_ROOTFS_CACHE.mkdir(parents=True, exist_ok=True)
        root = Path(tempfile.mkdtemp(prefix="dm-rootfs-"))
        try:
            subprocess.run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    f"--include={','.join(packages)}",
                    "bookworm",
                    str(root),
                    apt_mirror(),
                ],
                check=True,
                capture_output=True,
            )
            # Another process may be making the same tarball: each writes its own partial.
            partial = tarball.with_suffix(f".{os.getpid()}.partial")
            subprocess.run(["tar", "-C", str(root), "-cf", str(partial), "."], check=True)
            partial.rename(tarball)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    api = docker.APIClient(base_url=engine_url, version="auto")
    try:
        repository, _, version = tag.partition(":")
        with open(tarball, "rb") as f:
            api.import_image_from_data(
                f, repository=repository, tag=version or "latest", changes=changes or None
            )
        return api.inspect_image(tag)["Id"]
    finally:
        api.close()


def build_random_image(engine_url: str, tag: str, *, megabytes: int = 200, layers: int = 1) -> str:
    """An image of ``layers`` layers of random bytes (``megabytes`` in all) that no other image
    shares, so pushes and pulls move all of it. Returns its id."""
    import docker

    dockerfile = "FROM scratch\n" + "".join(
        f"COPY part{i}.bin /part{i}.bin\n" for i in range(layers)
    )
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile.encode()))
        for i in range(layers):
            info = tarfile.TarInfo(f"part{i}.bin")
            info.size = megabytes * 1024 * 1024 // layers
            tar.addfile(info, io.BytesIO(os.urandom(info.size)))
    buf.seek(0)
    api = docker.APIClient(base_url=engine_url, version="auto")
    try:
        for chunk in api.build(fileobj=buf, custom_context=True, tag=tag, decode=True):
            if "error" in chunk:
                raise RuntimeError(f"building {tag} failed: {chunk['error']}")
        return api.inspect_image(tag)["Id"]
    finally:
        api.close()
