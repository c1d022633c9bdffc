"""What the tests, the benchmarks and the scripts share: real engines, registries, TLS
material, base images, kernels (``tests.support.kernel``), and process plumbing."""

from tests.support.engines import Dockerd, TLSMaterial
from tests.support.images import (
    apt_mirror,
    build_busybox,
    build_python_image,
    build_python_pip_image,
    build_random_image,
)
from tests.support.processes import (
    Forwarder,
    NetNamespace,
    Sshd,
    as_nobody,
    free_port,
    umount_under,
    unix_http_get,
    wait_for,
)
from tests.support.registries import REGISTRY_USER, Registry

__all__ = [
    "Dockerd",
    "Forwarder",
    "NetNamespace",
    "REGISTRY_USER",
    "Registry",
    "Sshd",
    "TLSMaterial",
    "apt_mirror",
    "as_nobody",
    "build_busybox",
    "build_python_image",
    "build_python_pip_image",
    "build_random_image",
    "free_port",
    "umount_under",
    "unix_http_get",
    "wait_for",
]
