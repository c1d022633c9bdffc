"""Fixtures: real private engines and registries, started once per session and removed at
the end, and a real IPython shell with the extension loaded.

Set ``DOCKER_MAGICS_TEST_ENGINE`` (e.g. ``unix:///var/run/docker.sock``) to run the tests
that need one ordinary engine against an existing one (Docker Desktop, a CI service...)
instead of a private dockerd; tests that need the private TLS/tcp engines are then skipped.

``--engine-version 20.10|26`` (or ``DOCKER_MAGICS_ENGINE_VERSION``; default 20.10) picks the
Docker Engine every private engine runs: Debian 12's 20.10 or Debian 13's 26.1
(``tests/support/engines.py``).
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import REGISTRY_USER, Dockerd, Registry, TLSMaterial, build_busybox, free_port
from tests.support.engines import ENGINE_VERSIONS, engine_version

EXTERNAL_ENGINE = os.environ.get("DOCKER_MAGICS_TEST_ENGINE")
BUSYBOX_TAG = "docker-magics-test/busybox:latest"
DOCKER_ENV = (
    "DOCKER_HOST",
    "DOCKER_CONTEXT",
    "DOCKER_TLS",
    "DOCKER_TLS_VERIFY",
    "DOCKER_CERT_PATH",
    "DOCKER_API_VERSION",
    "DOCKER_CONFIG",
)


def pytest_addoption(parser):
    parser.addoption(
        "--engine-version",
        choices=ENGINE_VERSIONS,
        default=None,
        help="the Docker Engine the private test engines run (default: "
        "$DOCKER_MAGICS_ENGINE_VERSION, else 20.10)",
    )


def pytest_configure(config):
    # Through the environment, so every Dockerd (fixtures, tests, kernels) starts the same.
    chosen = config.getoption("--engine-version")
    if chosen:
        os.environ["DOCKER_MAGICS_ENGINE_VERSION"] = chosen
    engine_version()  # an unknown version in the environment fails here, once


def pytest_report_header(config):
    if EXTERNAL_ENGINE:
        return f"engine: {EXTERNAL_ENGINE} (DOCKER_MAGICS_TEST_ENGINE)"
    return f"engine: private dockerd, Docker Engine {engine_version()}"


def _short_root(name: str) -> Path:
    # Unix socket paths are limited to 108 bytes: keep engine roots short.
    root = Path("/tmp") / f"dm-{name}-{uuid.uuid4().hex[:6]}"
    root.mkdir()
    return root


@dataclass
class EngineHandle:
    """What tests need to know about an engine."""

    url: str  # unix:// socket
    tcp_url: str | None = None  # plain tcp://127.0.0.1:PORT, private engines only
    dockerd: Dockerd | None = None

    def api(self):
        import docker

        return docker.APIClient(base_url=self.url, version="auto")

    @property
    def api_version(self) -> tuple[int, int]:
        """The engine's newest API version, e.g. (1, 41) for 20.10, (1, 45) for 26: for the
        few tests where engines differ (each asserts what its engine does)."""
        client = self.api()
        try:
            major, minor = client.version()["ApiVersion"].split(".")
        finally:
            client.close()
        return int(major), int(minor)


def _require_private():
    if EXTERNAL_ENGINE:
        pytest.skip("needs the private test engines (DOCKER_MAGICS_TEST_ENGINE is set)")


@pytest.fixture(scope="session")
def engine():
    """The main engine: a unix socket and a plain tcp://127.0.0.1 port."""
    if EXTERNAL_ENGINE:
        yield EngineHandle(EXTERNAL_ENGINE)
        return
    port = free_port()
    d = Dockerd(_short_root("main"), tcp=[f"tcp://127.0.0.1:{port}"]).start()
    try:
        yield EngineHandle(d.url, f"tcp://127.0.0.1:{port}", d)
    finally:
        d.cleanup()


@pytest.fixture(scope="session")
def tls_material(tmp_path_factory) -> TLSMaterial:
    return TLSMaterial(tmp_path_factory.mktemp("tls"))


@dataclass
class TLSEngineHandle:
    url: str  # tcp://127.0.0.1:PORT, certificate valid for this name
    wrong_name_url: str  # tcp://127.0.0.2:PORT, same engine, certificate not valid
    certs: TLSMaterial
    dockerd: Dockerd


@pytest.fixture(scope="session")
def tls_engine(tls_material):
    """An engine that requires TLS with client certificates (dockerd --tlsverify)."""
    _require_private()
    good, wrong = free_port(), free_port()
    d = Dockerd(
        _short_root("tls"),
        tcp=[f"tcp://127.0.0.1:{good}", f"tcp://127.0.0.2:{wrong}"],
        tls=tls_material,
    ).start()
    try:
        yield TLSEngineHandle(
            f"tcp://127.0.0.1:{good}", f"tcp://127.0.0.2:{wrong}", tls_material, d
        )
    finally:
        d.cleanup()


@pytest.fixture(scope="session")
def busybox(engine) -> str:
    """A busybox base image made locally (these machines cannot pull from Docker Hub)."""
    build_busybox(engine.url, BUSYBOX_TAG)
    return BUSYBOX_TAG


@pytest.fixture(scope="session")
def python_pip_image(engine) -> str:
    """Debian's Python 3.11 with pip and venv, made locally (debootstrap, cached)."""
    from tests.support import build_python_pip_image

    tag = "docker-magics-test/python-pip:3"
    build_python_pip_image(engine.url, tag)
    return tag


@pytest.fixture
def engine_api(engine):
    """A docker-py client of the engine, for checking what the magics did."""
    client = engine.api()
    yield client
    client.close()


@pytest.fixture
def no_leftovers(engine_api):
    """Afterwards, no container may be left on the engine (any found is removed, and fails)."""
    yield engine_api
    left = engine_api.containers(all=True)
    for c in left:
        engine_api.remove_container(c["Id"], force=True)
    assert left == [], "a container was left behind"


@pytest.fixture(scope="module")
def engine_kernel(engine, busybox):
    """A real kernel with the extension loaded and connected; BASE is the busybox image."""
    from tests.support.kernel import Kernel

    k = Kernel(env={"DOCKER_HOST": engine.url, "BASE": busybox})
    k.run("%load_ext docker_magics\n%docker_connect\nimport os; BASE = os.environ['BASE']")
    yield k
    k.shutdown()


@pytest.fixture
def mortal_engine(busybox):
    """A private engine a test may kill and restart, with busybox as ``dm/bb:1``, and a
    kernel connected to it: ``(dockerd, kernel)``."""
    from tests.support.kernel import Kernel

    dockerd = Dockerd(_short_root("mortal")).start()
    k = None
    try:
        build_busybox(dockerd.url, "dm/bb:1")
        k = Kernel(env={"DOCKER_HOST": dockerd.url})
        k.run("%load_ext docker_magics\n%docker_connect")
        yield dockerd, k
    finally:
        if k is not None:
            k.shutdown()
        dockerd.cleanup()


@pytest.fixture(scope="session")
def registry():
    """A loopback registry without authentication (the engine treats 127.0.0.0/8 as
    insecure, so plain HTTP works)."""
    reg = Registry(_short_root("registry")).start()
    try:
        yield reg
    finally:
        reg.cleanup()


@pytest.fixture(scope="session")
def auth_registry():
    """A loopback registry with htpasswd (bcrypt) authentication; ``.users`` has the
    password, generated per session so it can be searched for in outputs."""
    import secrets

    reg = Registry(_short_root("authreg"), users={REGISTRY_USER: secrets.token_urlsafe(18)})
    reg.start()
    try:
        yield reg
    finally:
        reg.cleanup()


@pytest.fixture
def docker_env(monkeypatch, tmp_path):
    """A clean Docker environment: no DOCKER_* variables, an empty Docker config dir."""
    for name in DOCKER_ENV:
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "docker-config"
    config.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    return config


@pytest.fixture
def ip(docker_env):
    """A real IPython shell with ``%load_ext docker_magics`` done; no connection open."""
    from IPython.core.interactiveshell import InteractiveShell

    from docker_magics import api

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "docker_magics")
    try:
        yield shell
    finally:
        shell.run_line_magic("unload_ext", "docker_magics")
        shell.config.pop("DockerMagics", None)  # %config values outlive the extension
        api.SESSION.close_all()


@dataclass
class CellRun:
    out: str
    err: str
    error: BaseException | None
    value: object

    @property
    def line(self) -> str:
        """The first line printed (e.g. the connection summary, before any Out[n])."""
        return self.out.splitlines()[0] if self.out else ""

    @property
    def usage_error(self) -> str:
        """The single ``UsageError:`` line the user saw (asserting there was exactly one)."""
        from IPython.core.error import UsageError

        assert isinstance(self.error, UsageError), (self.error, self.out, self.err)
        assert "Traceback" not in self.err + self.out
        lines = self.err.splitlines()
        # Progress may have gone to stderr before; the error itself is the one last line.
        assert lines and lines[-1].startswith("UsageError: "), self.err
        assert sum(line.startswith("UsageError") for line in lines) == 1, self.err
        return lines[-1][len("UsageError: ") :]


@pytest.fixture
def run(ip, capsys):
    """``run(code)`` executes a cell as a user would and captures what they see."""

    def run_cell(code: str) -> CellRun:
        capsys.readouterr()
        result = ip.run_cell(code, store_history=True)
        out, err = capsys.readouterr()
        return CellRun(out, err, result.error_before_exec or result.error_in_exec, result.result)

    return run_cell


@pytest.fixture
def docker_cli():
    """The docker CLI, used as the reference tool (and to create real contexts)."""
    path = shutil.which("docker")
    if path is None:
        pytest.skip("the docker CLI is not installed")
    return path


# -- A Docker Swarm of three private engines (jobs) ---------------------------------------------


@pytest.fixture(scope="session")
def swarm():
    """A swarm of three private engines on loopback (``tests.support.swarm``): a manager and
    two workers, each with its own swarm port, of the engine version the tests run on; they
    leave the swarm before they are removed."""
    _require_private()
    from tests.support.swarm import Swarm

    cluster = Swarm().start()
    try:
        yield cluster
    finally:
        cluster.cleanup()


@pytest.fixture(scope="session")
def swarm_image(swarm, registry) -> str:
    """busybox in the loopback registry, which every node of the swarm pulls from."""
    import docker

    local = "dm-test/swarm-bb:1"
    build_busybox(swarm.url, local)
    api = docker.APIClient(base_url=swarm.url, version="auto")
    try:
        api.tag(local, f"{registry.host}/dm-test/swarm-bb", "1")
        for message in api.push(f"{registry.host}/dm-test/swarm-bb", "1", stream=True, decode=True):
            if "error" in message:
                raise RuntimeError(f"pushing the swarm's image failed: {message['error']}")
    finally:
        api.close()
    return f"{registry.host}/dm-test/swarm-bb:1"
