"""The engine's messages recorded from real builds (``tests/unit/data/*.jsonl``, one JSON
message a line), replayed through the BuildKit parser and a build's recorder."""

from __future__ import annotations

import json
from pathlib import Path

from docker_magics.builds.buildkit.trace import BuildKitParser
from docker_magics.builds.result import BuildRecorder
from docker_magics.engine import events as ev

DATA = Path(__file__).resolve().parents[1] / "unit" / "data"


def messages(name: str) -> list[dict]:
    """The recording ``name``'s messages, in the order the engine sent them."""
    return [json.loads(line) for line in (DATA / f"{name}.jsonl").read_text().splitlines()]


def buildkit_events(name: str) -> list[ev.Event]:
    """A BuildKit build's recording as our events, the parser's last ones included."""
    parser = BuildKitParser()
    found = []
    for message in messages(name):
        found += parser.feed(message)
    return found + parser.close()


def buildkit_recorder(name: str) -> BuildRecorder:
    """A recorder that saw the whole of a BuildKit build's recording."""
    recorder = BuildRecorder("t", builder="buildkit")
    for event in buildkit_events(name):
        recorder.handle(event)
    return recorder
