"""Pure: BuildKit's progress, as the engine streams it for ``POST /build?version=2``, decoded
into the same events the classic builder produces.

Each ``{"id": "moby.buildkit.trace", "aux": "<base64>"}`` message carries a protobuf
``StatusResponse`` (moby/buildkit ``api/services/control/control.proto``): vertexes (the
steps), statuses (progress counters), logs (RUN output) and warnings.

We decode it with the small wire-format reader in :mod:`wire` rather than the ``protobuf``
package (it says why).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from docker_magics.builds.buildkit.wire import as_bytes, as_int, fields, signed
from docker_magics.engine import events as ev

TRACE_ID = "moby.buildkit.trace"


def _timestamp(value: int | bytes) -> float:
    seconds = nanos = 0
    for number, part in fields(as_bytes(value)):
        if number == 1:
            seconds = as_int(part)
        elif number == 2:
            nanos = as_int(part)
    return seconds + nanos / 1e9


# -- control.proto messages -----------------------------------------------------------------


@dataclass
class Vertex:
    digest: str = ""
    inputs: list[str] = field(default_factory=list)
    name: str = ""
    cached: bool = False
    started: float | None = None
    completed: float | None = None
    error: str = ""


@dataclass
class VertexStatus:
    id: str = ""
    vertex: str = ""
    name: str = ""
    current: int = 0
    total: int = 0
    completed: float | None = None


@dataclass
class VertexLog:
    vertex: str = ""
    stream: int = 1
    msg: bytes = b""


@dataclass
class VertexWarning:
    vertex: str = ""
    level: int = 0
    short: str = ""


@dataclass
class StatusResponse:
    vertexes: list[Vertex] = field(default_factory=list)
    statuses: list[VertexStatus] = field(default_factory=list)
    logs: list[VertexLog] = field(default_factory=list)
    warnings: list[VertexWarning] = field(default_factory=list)


# Each field's value as ``wire.fields`` gives it -> the attribute's value; a field of the
# wrong wire type raises ValueError (a malformed message).
_Convert = Callable[[int | bytes], object]
_M = TypeVar("_M")
_Decode = Callable[[int | bytes], _M]


def _text(value: int | bytes) -> str:
    return as_bytes(value).decode("utf-8", "replace")


def _flag(value: int | bytes) -> bool:
    return bool(as_int(value))


def _int64(value: int | bytes) -> int:
    return signed(as_int(value))


def _message(cls: type[_M], layout: dict[int, tuple[str, _Convert]]) -> _Decode[_M]:
    """A decoder for the message ``cls`` (itself a ``_Convert``, for nested messages):
    ``layout`` maps field numbers to ``(attribute, convert)``; a list attribute collects a
    repeated field. Unknown fields are skipped."""

    def decode_message(buf: int | bytes) -> _M:
        message = cls()
        for number, value in fields(as_bytes(buf)):
            if number in layout:
                name, convert = layout[number]
                current = getattr(message, name)
                if isinstance(current, list):
                    current.append(convert(value))
                else:
                    setattr(message, name, convert(value))
        return message

    return decode_message


_vertex = _message(
    Vertex,
    {
        1: ("digest", _text),
        2: ("inputs", _text),
        3: ("name", _text),
        4: ("cached", _flag),
        5: ("started", _timestamp),
        6: ("completed", _timestamp),
        7: ("error", _text),
    },
)
_status = _message(
    VertexStatus,
    {
        1: ("id", _text),
        2: ("vertex", _text),
        3: ("name", _text),
        4: ("current", _int64),
        5: ("total", _int64),
        8: ("completed", _timestamp),
    },
)
_log = _message(VertexLog, {1: ("vertex", _text), 3: ("stream", _int64), 4: ("msg", as_bytes)})
_warning = _message(
    VertexWarning, {1: ("vertex", _text), 2: ("level", _int64), 3: ("short", _text)}
)
_response = _message(
    StatusResponse,
    {
        1: ("vertexes", _vertex),
        2: ("statuses", _status),
        3: ("logs", _log),
        4: ("warnings", _warning),
    },
)


def decode(aux: str | bytes) -> StatusResponse:
    """One trace message's ``aux`` (base64) -> ``StatusResponse``."""
    return _response(base64.b64decode(aux))


# -- events -----------------------------------------------------------------------------------

_STEP_NAME = re.compile(r"^\[(?:(?P<stage>[^\]\s]+) )?(?P<n>\d+)/(?P<m>\d+)\] (?P<what>.*)$", re.S)


_NAMING = "naming to "


def _familiar(name: str) -> str:
    """``docker.io/demo/x:latest`` -> ``demo/x:latest``, as the CLI shows it (20.10's
    BuildKit says "naming to docker.io/demo/x" for ``demo/x:latest``)."""
    from docker_magics.errors import BadArgument
    from docker_magics.registry.references import familiar

    try:
        return familiar(name, default_tag="latest")
    except BadArgument:  # not a reference we know how to read: the engine's words
        return name


@dataclass
class _VertexState:
    started: bool = False
    finished: bool = False
    splitter: ev.OutputSplitter = field(default_factory=ev.OutputSplitter)


class BuildKitParser:
    """JSON messages of a BuildKit build -> the events of :mod:`docker_magics.events`.

    Steps are BuildKit's vertexes, keyed by digest and named as buildx names them
    (``[stage 2/4] RUN make``); several may run at once (parallel stages).
    """

    def __init__(self) -> None:
        self.vertexes: dict[str, _VertexState] = {}
        self._statuses: dict[str, str] = {}
        self._named: set[str] = set()

    def feed(self, message: dict) -> list[ev.Event]:
        failed = ev.failure(message)
        if failed is not None:
            return [failed]
        aux = message.get("aux")
        if message.get("id") == TRACE_ID and isinstance(aux, str):
            try:
                return self._trace(decode(aux))
            except (ValueError, IndexError):  # a malformed message must not stop the build
                return [ev.Notice("an unreadable BuildKit progress message was skipped")]
        if isinstance(aux, dict) and aux.get("ID"):
            return [ev.ImageId(aux["ID"])]
        text = message.get("stream")
        if isinstance(text, str) and text.startswith("Successfully tagged "):
            return [ev.Tagged(_familiar(text[len("Successfully tagged ") :].strip()))]
        return []

    def _trace(self, status: StatusResponse) -> list[ev.Event]:
        out: list[ev.Event] = []
        ending: list[Vertex] = []  # they end after what this message says of them
        for v in status.vertexes:
            state = self.vertexes.setdefault(v.digest, _VertexState())
            if not state.started and (v.started is not None or v.cached or v.completed):
                state.started = True
                m = _STEP_NAME.match(v.name)
                number, total = (int(m["n"]), int(m["m"])) if m else (None, None)
                out.append(ev.StepStarted(v.digest, v.name, number, total))
            if v.cached and not state.finished:
                out.append(ev.StepCached(v.digest))
            if (v.error or v.completed is not None) and not state.finished:
                state.finished = True
                ending.append(v)
        for s in status.statuses:  # e.g. "writing image sha256:...", "extracting"
            label = " ".join(filter(None, [s.name, "done" if s.completed else ""]))
            if self._statuses.get(s.id) != label:
                self._statuses[s.id] = label
                out.append(
                    ev.LayerProgress(s.id, label, s.current or None, s.total or None, s.vertex)
                )
            # The exporter tags the image ("naming to docker.io/demo/x:latest"); engines from
            # 23 on say it only here (20.10 also sends "Successfully tagged").
            if s.completed and s.id.startswith(_NAMING) and s.id not in self._named:
                self._named.add(s.id)
                out.append(ev.Tagged(_familiar(s.id[len(_NAMING) :])))
        for entry in status.logs:
            state = self.vertexes.setdefault(entry.vertex, _VertexState())
            stream = "stderr" if entry.stream == 2 else "stdout"
            for event in state.splitter.feed(stream, entry.msg):
                out.append(ev.Log(event.lines, entry.vertex, stream))
        for v in ending:
            out += self._flush(v.digest, self.vertexes[v.digest])
            out.append(ev.StepError(v.digest, v.error) if v.error else ev.StepFinished(v.digest))
        for w in status.warnings:
            out.append(ev.Notice(w.short))
        return out

    def _flush(self, key: str, state: _VertexState) -> list[ev.Event]:
        return [ev.Log(e.lines, key, e.stream) for e in state.splitter.close()]

    def close(self) -> list[ev.Event]:
        out: list[ev.Event] = []
        for key, state in self.vertexes.items():
            out += self._flush(key, state)
        return out
