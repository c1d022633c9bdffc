"""Fixtures of the e2e tests: a kernel for the modules that make none of their own, and for
the browser tests a JupyterLab server whose kernels reach the test engine and registry, and
a headless Chromium (tests.support.lab)."""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def kernel(engine_kernel):
    """The kernel of the tests that need none of their own: the engine's, shared by the
    module (tests/conftest.py). A module that needs another defines ``kernel`` itself."""
    return engine_kernel


@pytest.fixture(scope="module")
def lab(engine, busybox, registry, tmp_path_factory):
    """A JupyterLab server for this module: ``(url, root)``; notebooks go in ``root``."""
    from tests.support.lab import CHROMIUM, running_lab

    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (scripts/test.sh installs it)")
    root = tmp_path_factory.mktemp("lab")
    env = {"DOCKER_HOST": engine.url, "BASE_IMAGE": busybox, "REGISTRY": registry.host}
    with running_lab(root, env) as url:
        yield url, root


@pytest.fixture(scope="module")
def browser():
    from tests.support.lab import chromium

    with chromium() as b:
        yield b
