"""The real parts the other tests stand on work as claimed."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

pytestmark = pytest.mark.engine


def test_busybox_base_image_runs(engine, busybox):
    import docker

    client = docker.DockerClient(base_url=engine.url, version="auto")
    try:
        out = client.containers.run(
            busybox, ["sh", "-c", "echo hello from $(uname -s)"], remove=True, network_mode="none"
        )
    finally:
        client.close()
    assert out == b"hello from Linux\n"


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_registries_answer(registry, auth_registry):
    assert _status(f"http://{registry.host}/v2/") == 200
    assert _status(f"http://{auth_registry.host}/v2/") == 401


def test_engine_is_the_chosen_version(engine):
    """--engine-version (DOCKER_MAGICS_ENGINE_VERSION) starts that engine, not another."""
    from tests.conftest import EXTERNAL_ENGINE
    from tests.support.engines import engine_version

    if EXTERNAL_ENGINE:
        pytest.skip("an external engine runs whatever version it is")
    version = engine.api().version()["Version"]
    assert version.startswith(engine_version() + "."), version
