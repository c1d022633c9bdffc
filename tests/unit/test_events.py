"""Pure: the classic builder's stream, recorded from a real engine (tests/unit/data), as events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from docker_magics.builds.failures import build_failure, dockerfile_rejected
from docker_magics.builds.result import BuildRecorder
from docker_magics.engine import events as ev

DATA = Path(__file__).parent / "data"


def recorded(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / f"{name}.jsonl").read_text().splitlines()]


def parse(name: str) -> list[ev.Event]:
    parser = ev.ClassicBuildParser()
    out = []
    for message in recorded(name):
        out += parser.feed(message)
    return out + parser.close()


def record(name: str) -> BuildRecorder:
    recorder = BuildRecorder("test")
    for event in parse(name):
        recorder.handle(event)
    return recorder


@pytest.mark.parametrize(
    "name, image",
    [
        ("classic-success", "72440734170cd5efa8669967ce80e2ba6bf0bde4bf1256d7ba34c52e47640858"),
        # Engine 26: " ---> Removed intermediate container ID" is the builder's, not output.
        ("classic-success-26", "895d7e23f1076bb2616ff54de5bca142beda70ee5180f59d70390d79dbeead25"),
    ],
)
def test_successful_build(name, image):
    events = parse(name)
    started = [e for e in events if isinstance(e, ev.StepStarted)]
    assert [(e.number, e.total, e.name) for e in started] == [
        (1, 6, "FROM busybox:latest" if name == "classic-success" else "FROM bb:1"),
        (2, 6, "LABEL a=b"),
        (3, 6, "RUN echo hello && echo err >&2"),
        (4, 6, "COPY data.txt /data.txt"),
        (5, 6, "RUN cat /data.txt"),
        (6, 6, 'CMD ["sh"]'),
    ]
    assert sum(isinstance(e, ev.StepFinished) for e in events) == 6
    logs = [(e.key, e.stream, e.lines) for e in events if isinstance(e, ev.Log)]
    hello = [("3", "stdout", ["hello"]), ("3", "stderr", ["err"])]
    if name == "classic-success-26":  # stdout and stderr come through two pipes: as recorded
        hello.reverse()
    assert logs == [*hello, ("5", "stdout", ["payload"])]
    containers = [e.container_id for e in events if isinstance(e, ev.StepContainer)]
    assert len(containers) == 4 and all(len(c) == 12 for c in containers)
    assert ev.ImageId(f"sha256:{image}") in events
    assert ev.Tagged("rec/app:1") in events
    assert ev.Notice("IPv4 forwarding is disabled. Networking will not work.") in events
    assert not any(isinstance(e, ev.EngineFailure) for e in events)


def test_cached_build():
    recorder = record("classic-cached")
    assert [s.status for s in recorder.steps.values()] == ["done"] + ["cached"] * 5
    assert recorder.image_id and recorder.failure is None


def test_failing_run():
    recorder = record("classic-run-fails")
    assert recorder.failure == ev.EngineFailure(
        "The command '/bin/sh -c echo line1; echo line2; exit 3' returned a non-zero code: 3", 3
    )
    step = recorder.current
    assert step.number == 3 and step.status == "failed"
    assert [line for _, line in step.tail] == ["line1", "line2"]
    assert build_failure(recorder.failure.message, 3, step) == (
        "Step 3/4 (RUN echo line1; echo line2; exit 3) failed with exit code 3: line2"
    )


def test_copy_missing_and_missing_base():
    copy = record("classic-copy-missing")
    assert build_failure(copy.failure.message, None, copy.current).startswith(
        "Step 2/2 (COPY missing.txt /x) failed: missing.txt is not in the build context"
    )
    base = record("classic-no-base")
    line = build_failure(base.failure.message, None, base.current)
    assert line.startswith(
        "Step 1/2 (FROM nosuchimage-xyz:1.0) failed: the base image "
        "nosuchimage-xyz:1.0 is not on the engine and cannot be pulled "
        "(dial tcp: lookup registry-1.docker.io"
    )


def test_parse_errors_answered_with_400():
    for name, expected in (
        ("classic-unknown-instruction", "Dockerfile line 2: unknown instruction: RUNN"),
        ("classic-parse-error", "Dockerfile line 2: ENV requires at least one argument"),
        # Engine 26: "dockerfile parse error on line 2: ..."
        ("classic-parse-error-26", "Dockerfile line 2: ENV requires at least one argument"),
        (
            "classic-unknown-instruction-26",
            "Dockerfile line 2: unknown instruction: RUNN (did you mean RUN?)",
        ),
    ):
        body = json.loads(recorded(name)[0]["body"])
        assert dockerfile_rejected(body["message"]) == expected


def test_output_is_batched():
    """The engine sends RUN output in chunks of up to 32 KB: one event per chunk, so 200,000
    lines cost a few hundred events, not 200,000."""
    many = parse("classic-many-lines")
    lines = [line for e in many if isinstance(e, ev.Log) for line in e.lines]
    assert lines == [str(i) for i in range(1, 2001)]
    assert sum(isinstance(e, ev.Log) for e in many) < 20
    # The same framing at 200,000 lines (`RUN seq 1 200000`), cut as the engine cuts it.
    text = "".join(f"{i}\n" for i in range(1, 200_001))
    parser = ev.ClassicBuildParser()
    events = parser.feed({"stream": "Step 1/1 : RUN seq 1 200000\n"})
    for i in range(0, len(text), 32768):
        events += parser.feed({"stream": text[i : i + 32768]})
    events += parser.close()
    logs = [e for e in events if isinstance(e, ev.Log)]
    assert sum(len(e.lines) for e in logs) == 200_000 and len(logs) < 50


def test_pieces_split_anywhere():
    """The same stream cut into arbitrary pieces gives the same events."""
    text = "".join(m.get("stream", "") for m in recorded("classic-success"))
    whole = ev.ClassicBuildParser()
    expected = whole.feed({"stream": text}) + whole.close()
    for size in (1, 3, 7, 64):
        parser = ev.ClassicBuildParser()
        got = []
        for i in range(0, len(text), size):
            got += parser.feed({"stream": text[i : i + size]})
        got += parser.close()

        def kind(e):
            return type(e).__name__ + ":" + getattr(e, "stream", "")

        merged = []
        for e in got:  # batching may differ; the lines and their order must not
            if isinstance(e, ev.Log) and merged and merged[-1][0] == kind(e):
                merged[-1] = (kind(e), merged[-1][1] + tuple(e.lines))
            else:
                merged.append((kind(e), tuple(getattr(e, "lines", ()))))
        want = [(kind(e), tuple(getattr(e, "lines", ()))) for e in expected]
        assert merged == want, size


def test_carriage_returns_and_long_lines():
    parser = ev.ClassicBuildParser()
    events = parser.feed({"stream": "Step 1/1 : RUN x\n"})
    events += parser.feed({"stream": "10%\r50%\r100%\n" + "y" * (ev.MAX_LINE + 10) + "\n"})
    logs = [line for e in events if isinstance(e, ev.Log) for line in e.lines]
    assert logs[0] == "100%" and len(logs[1]) == ev.MAX_LINE


def test_output_splitter_tty_line_endings_and_redraws():
    splitter = ev.OutputSplitter()
    events = splitter.feed("stdout", b"one\r\ntw") + splitter.feed("stdout", b"o\r\n10%\r50%\r")
    events += splitter.feed("stdout", b"100%\n") + splitter.close()
    assert [line for e in events for line in e.lines] == ["one", "two", "100%"]


def test_output_splitter_keeps_the_raw_text_exactly():
    """Lines are for showing (redraws resolved, cut at MAX_LINE); ``raw`` is what the
    container wrote, whole: long lines, carriage returns, no final newline."""
    long_line = "x" * (3 * ev.MAX_LINE + 17)
    written = f"10%\r20%\r30%\n{long_line}\nü end without newline".encode()
    splitter = ev.OutputSplitter(keep_raw=True)
    events = []
    for i in range(0, len(written), 1000):  # frames cut anywhere, characters included
        events += splitter.feed("stdout", written[i : i + 1000])
    events += splitter.close()
    assert "".join(e.raw for e in events) == written.decode()
    shown = [line for e in events for line in e.lines]
    assert shown[0] == "30%" and shown[-1] == "ü end without newline"
    assert all(len(line) <= ev.MAX_LINE for line in shown)
    assert ev.OutputSplitter().feed("stdout", b"a\n")[0].raw == ""  # off unless asked


def test_a_secret_is_never_split_by_the_line_cut():
    """Over-long lines are passed on in pieces; a known secret across a piece's end is kept
    whole for the next one, so each piece (masked on its own) shows none of it."""
    import secrets

    from docker_magics.redaction import protect_value, redact

    secret = "cut-" + secrets.token_hex(9)
    protect_value(secret)
    written = (secret * 30_000 + "\n" + "x" * (ev.MAX_LINE - 5) + secret + "\n").encode()
    for frame in (1000, 4096, 65_536, 100_003):
        splitter, classic = ev.OutputSplitter(keep_raw=True), ev.ClassicBuildParser()
        events = classic.feed({"stream": "Step 1/1 : RUN x\n"})
        for i in range(0, len(written), frame):
            events += splitter.feed("stdout", written[i : i + frame])
            events += classic.feed({"stream": written[i : i + frame].decode()})
        events += splitter.close() + classic.close()
        logs = [e for e in events if isinstance(e, ev.Log)]
        pieces = [redact(e.raw) for e in logs] + [redact(line) for e in logs for line in e.lines]
        for piece in pieces:
            assert secret[:6] not in piece and secret[-6:] not in piece, frame
        assert "".join(redact(e.raw) for e in logs).count("******") == 30_001, frame
