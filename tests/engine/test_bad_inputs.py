"""Bad inputs across all magics (tests/support/bad_inputs.py): each ends in exactly one clear
line, no traceback, and changes nothing (no connection switched, no image, container or tag
created)."""

from __future__ import annotations

import pytest

from docker_magics import api
from tests.support.bad_inputs import BAD

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def state_of(engine):
    client = engine.api()

    def snapshot():
        images = sorted(t for i in client.images(all=True) for t in (i.get("RepoTags") or []))
        containers = [c["Id"] for c in client.containers(all=True)]
        return images, containers

    yield snapshot
    client.close()


@pytest.mark.parametrize("line", BAD, ids=lambda s: s.split("\n")[0][:60])
def test_bad_input_is_one_line_and_changes_nothing(run, engine, busybox, state_of, line):
    assert run(f"%docker_connect {engine.url} --alias keep").error is None
    before = state_of()
    cell = run(line.replace("{B}", busybox))
    message = cell.usage_error  # asserts: one UsageError line, no traceback
    assert 0 < len(message) < 600, message
    # ...and nothing else at all: no progress, no "FAILED after", no partial output.
    assert cell.out == "" and cell.err == f"UsageError: {message}\n", (cell.out, cell.err)
    assert "typed-secret" not in cell.err + cell.out
    assert state_of() == before
    assert api.SESSION.current().alias == "keep"
    assert [c.alias for c in api.SESSION.connections()] == ["keep"]
