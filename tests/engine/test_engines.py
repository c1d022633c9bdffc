"""What differs between engines (Docker Engine 20.10, API 1.41, and 26, API 1.45; the suite
runs on each with --engine-version): API versions pinned across 1.41-1.45, what
%docker_info says of the engine, and an engine 26 keeping its images in containerd's image
store. Each test asserts what its engine does."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

import docker_magics as dm
from tests.support import Dockerd, build_busybox
from tests.support.engines import engine_version

pytestmark = pytest.mark.engine

VERSIONS = ["1.41", "1.42", "1.43", "1.44", "1.45"]


@pytest.fixture
def on_engine(run, engine, busybox, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", engine.url)
    return run


@pytest.mark.parametrize("version", VERSIONS)
def test_pinned_api_version(on_engine, engine, busybox, version):
    """A version the engine speaks works; a newer one is the engine's refusal in one line."""
    newest = engine.api_version
    cell = on_engine(f"%docker_connect {engine.url} --api-version {version}")
    if tuple(map(int, version.split("."))) > newest:
        maximum = ".".join(map(str, newest))
        assert cell.usage_error == (
            f"The engine at {engine.url} does not support API version {version} (client "
            f"version {version} is too new. Maximum supported API version is {maximum}). Use "
            "--api-version auto to negotiate (or unset DOCKER_API_VERSION)."
        )
        return
    assert cell.error is None, cell.err
    assert f", API {version}," in cell.out
    assert dm.engine_info()["API version"].startswith(f"{version} (engine: ")
    result = dm.run(busybox, ["echo", f"on API {version}"], network="none", progress="none")
    assert result.stdout == f"on API {version}\n"


def test_oldest_api_pinned_builds_pushes_and_runs(on_engine, engine, busybox, registry):
    """Pinned to 1.41 (20.10's), everything works on a newer engine too: both builders
    (BuildKit's session included), a push, a run."""
    assert on_engine(f"%docker_connect {engine.url} --api-version 1.41").error is None
    name = f"{registry.host}/dm/pinned-{uuid.uuid4().hex[:6]}"
    dockerfile = f"FROM {busybox}\nRUN echo pinned > /p\n"
    for builder in ("classic", "buildkit"):
        result = dm.build(
            dockerfile,
            tags=f"{name}:{builder}",
            builder=builder,
            network="none",
            no_cache=True,
            progress="none",
        )
        assert result.tags == [f"{name}:{builder}"]
        assert result.builder == builder and " of 2 steps cached" in result.summary()
        pushed = dm.push(f"{name}:{builder}", progress="none")
        assert pushed.digest.startswith("sha256:")
        ran = dm.run(f"{name}:{builder}", ["cat", "/p"], network="none", progress="none")
        assert ran.stdout == "pinned\n"


def test_info_says_image_store_and_default_builder(on_engine, engine):
    assert on_engine(f"%docker_connect {engine.url}").error is None
    info = dm.engine_info()
    driver = engine.api().info()["Driver"]
    assert info["Storage driver"] == driver
    assert info["Image store"] == f"graph driver {driver} (not the containerd image store)"
    # What `docker build` uses: engines from 23 (API 1.42) on say BuildKit in /_ping.
    expected = "BuildKit" if engine.api_version >= (1, 42) else "classic"
    assert info["Default builder"] == f"{expected} (what `docker build` uses on this engine)"


def test_containerd_image_store(run, monkeypatch):
    """Engine 26 with containerd's image store (the default of Docker Desktop and of new
    installs from Docker Engine 29): %docker_info says so; builds name their tags."""
    if engine_version() == "20.10":
        pytest.skip("Docker Engine 20.10 has no containerd image store")
    root = Path("/tmp") / f"dm-ctrd-{uuid.uuid4().hex[:6]}"
    dockerd = Dockerd(root, config={"features": {"containerd-snapshotter": True}}).start()
    try:
        build_busybox(dockerd.url, "dm/bb:1")
        monkeypatch.setenv("DOCKER_HOST", dockerd.url)
        assert run(f"%docker_connect {dockerd.url}").error is None
        info = dm.engine_info()
        assert info["Image store"] == "containerd image store (snapshotter overlayfs)"
        for builder in ("classic", "buildkit"):
            result = dm.build(
                "FROM dm/bb:1\nRUN echo stored > /s\n",
                tags=f"dm-test/ctrd:{builder}",
                builder=builder,
                network="none",
                progress="none",
            )
            assert result.tags == [f"dm-test/ctrd:{builder}"]
            assert result.summary().startswith(f"Built {result.short_id} (dm-test/ctrd:")
            ran = dm.run(f"dm-test/ctrd:{builder}", ["cat", "/s"], network="none", progress="none")
            assert ran.stdout == "stored\n"
    finally:
        dockerd.cleanup()
