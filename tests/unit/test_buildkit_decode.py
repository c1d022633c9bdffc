"""Pure: BuildKit trace messages recorded from the real engine (tests/unit/data/bk-*.jsonl),
decoded by our wire reader into the shared events."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from docker_magics.builds.buildkit import wire
from docker_magics.builds.buildkit.trace import BuildKitParser, decode, fields
from docker_magics.builds.failures import build_failure
from docker_magics.engine import events as ev
from tests.support.recorded import buildkit_events, buildkit_recorder

DATA = Path(__file__).parent / "data"


def test_wire_format():
    # field 1 varint 150 (the protobuf docs' example), field 2 string "hi", field 3 fixed32
    buf = bytes([0x08, 0x96, 0x01, 0x12, 0x02]) + b"hi" + bytes([0x1D, 1, 0, 0, 0])
    assert list(fields(buf)) == [(1, 150), (2, b"hi"), (3, 1)]
    with pytest.raises(ValueError):
        list(fields(bytes([0x12, 0x05]) + b"ab"))  # truncated
    with pytest.raises(ValueError):
        list(fields(bytes([0x0B])))  # wire type 3 (groups) is not used by BuildKit


def test_decode_a_recorded_message():
    first = json.loads((DATA / "bk-success.jsonl").read_text().splitlines()[0])
    status = decode(first["aux"])
    assert status.vertexes[0].name == "[internal] load remote build context"
    assert status.vertexes[0].digest.startswith("sha256:")


def test_successful_build():
    recorder = buildkit_recorder("bk-success")
    names = [s.name for s in recorder.steps.values()]
    assert "[2/4] RUN echo hello && echo err >&2" in names
    assert "[4/4] RUN cat /data.txt" in names
    run = next(s for s in recorder.steps.values() if s.name.startswith("[2/4]"))
    assert list(run.tail) == [("stdout", "hello"), ("stderr", "err")]
    assert all(s.status == "done" for s in recorder.steps.values())
    assert recorder.image_id.startswith("sha256:") and recorder.tags == ["rec/bk:1"]
    assert (run.number, run.total) == (2, 4)


def test_cached_build():
    statuses = {s.name: s.status for s in buildkit_recorder("bk-cached").steps.values()}
    assert statuses["[2/4] RUN echo hello && echo err >&2"] == "cached"
    assert statuses["[4/4] RUN cat /data.txt"] == "cached"


def test_parallel_stages_overlap():
    started = [
        e
        for e in buildkit_events("bk-parallel")
        if isinstance(e, (ev.StepStarted, ev.StepFinished))
    ]
    keys = {e.key: e.name for e in started if isinstance(e, ev.StepStarted)}
    order = [(type(e).__name__, keys[e.key][:5]) for e in started]
    # Both stages' RUN steps start before either finishes.
    a = order.index(("StepStarted", "[a 2/"))
    b = order.index(("StepStarted", "[b 2/"))
    first_done = min(order.index(("StepFinished", "[a 2/")), order.index(("StepFinished", "[b 2/")))
    assert max(a, b) < first_done


def test_failing_step_names_the_vertex():
    recorder = buildkit_recorder("bk-run-fails")
    step = recorder.failed_step
    assert step.name == "[3/3] RUN echo line1; echo line2 >&2; exit 3"
    assert step.status == "failed" and list(step.tail) == [("stdout", "line1"), ("stderr", "line2")]
    assert build_failure(recorder.failure.message, None, step) == (
        "Step [3/3] RUN echo line1; echo line2 >&2; exit 3 failed with exit code 3: line2"
    )


@pytest.mark.parametrize(
    "name, expected",
    [
        ("bk-copy-missing", "failed: missing.txt is not in the build context"),
        (
            "bk-no-base",
            "The build failed: the base image nosuchimage-xyz:1.0 is not on the "
            "engine and cannot be pulled (dial tcp: lookup registry-1.docker.io",
        ),
        ("bk-parse-error", "Dockerfile line 2: unknown instruction: RUNN"),
        # Engine 26 words it "parse error on line N"
        ("bk-parse-error-26", "Dockerfile line 2: ENV requires at least one argument"),
        (
            "bk-secret-missing",
            "failed: secret nope not found: not found. The Dockerfile mounts the build secret "
            "nope: give it with --secret id=nope,env=VAR (or src=FILE)",
        ),
        (
            "bk-secret-missing-26",
            "failed: secret nope: not found. The Dockerfile mounts the build secret nope: give "
            "it with --secret id=nope,env=VAR (or src=FILE)",
        ),
    ],
)
@pytest.mark.usefixtures("in_a_magic")
def test_failures(name, expected):
    recorder = buildkit_recorder(name)
    line = build_failure(recorder.failure.message, None, recorder.failed_step or recorder.current)
    assert expected in line


def test_malformed_trace_is_skipped_not_fatal():
    parser = BuildKitParser()
    bad = base64.b64encode(bytes([0x0A, 0x10, 0x0A])).decode()  # truncated vertex
    assert parser.feed({"id": "moby.buildkit.trace", "aux": bad}) == [
        ev.Notice("an unreadable BuildKit progress message was skipped")
    ]


@pytest.mark.parametrize(
    "vertex",
    [
        wire.int_field(1, 7),  # the digest (a string) as a number
        wire.bytes_field(1, "sha256:x") + wire.bytes_field(4, b"yes"),  # cached (a bool)
        wire.bytes_field(1, "sha256:x") + wire.message_field(5, wire.bytes_field(1, "now")),
    ],
    ids=["string-as-number", "bool-as-string", "timestamp-seconds-as-string"],
)
def test_a_field_of_the_wrong_type_is_skipped_not_fatal(vertex):
    parser = BuildKitParser()
    bad = base64.b64encode(wire.message_field(1, vertex)).decode()
    assert parser.feed({"id": "moby.buildkit.trace", "aux": bad}) == [
        ev.Notice("an unreadable BuildKit progress message was skipped")
    ]


@pytest.mark.usefixtures("in_a_magic")
def test_a_base_image_behind_a_login_names_the_registry_and_the_command():
    from docker_magics.builds.result import Step

    message = (
        "failed to solve with frontend dockerfile.v0: failed to create LLB definition: "
        "pulling from host registry-1.docker.io failed with status code [manifests 1]: "
        "401 Unauthorized"
    )
    step = Step("k", "[internal] load metadata for docker.io/team/private:1")
    assert build_failure(message, None, step) == (
        "The build failed: the registry Docker Hub wants a login to pull the base image "
        "docker.io/team/private:1 (401 Unauthorized). Log in with %docker_login and build "
        "again"
    )
