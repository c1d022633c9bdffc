"""The unit tests need no engine and no Jupyter kernel: run alone (``pytest tests/unit``),
they must not have started a dockerd nor imported jupyter_client."""

from __future__ import annotations

import sys

import pytest


def pytest_sessionfinish(session, exitstatus):
    alone = session.items and all("/tests/unit/" in str(item.path) for item in session.items)
    if alone and exitstatus == 0 and "jupyter_client" in sys.modules:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        print("\nERROR: a unit test imported jupyter_client (kernels belong in tests/e2e)")


@pytest.fixture
def in_a_magic():
    """Messages in a magic's words (``--add``, ``%docker_login``), as the magics show them;
    elsewhere they speak the Python API's (``add=``, ``docker_magics.login()``)."""
    from docker_magics.errors import in_magic

    with in_magic():
        yield
