"""Pure: what the engine streams, turned into typed events.

Every backend (the classic builder's JSON lines here; push/pull progress and BuildKit traces
in their parsers) produces the same small set of events, so one set of renderers and one
recorder serve them all. Error detection lives here too: the engine reports most failures
inside the stream (``errorDetail``), not as HTTP errors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from docker_magics.redaction import longest, redact


@dataclass(frozen=True)
class StepStarted:
    key: str  # unique per build ("3" for classic step 3; a digest for BuildKit)
    name: str  # the instruction, e.g. "RUN make"
    number: int | None = None  # N of "N/M"
    total: int | None = None  # M


@dataclass(frozen=True)
class StepCached:
    key: str


@dataclass(frozen=True)
class StepContainer:
    """The classic builder runs a step in this container (it must go on interrupt)."""

    key: str
    container_id: str


@dataclass(frozen=True)
class StepFinished:
    key: str


@dataclass(frozen=True)
class StepError:
    """A step failed (BuildKit says which; with parallel steps it need not be the last)."""

    key: str
    message: str


@dataclass(frozen=True)
class Log:
    """Output lines (no newlines), batched: one event per chunk the engine sent, so a step
    printing 200,000 lines costs a few hundred events, not 200,000."""

    lines: list[str]
    key: str | None = None
    stream: str = "stdout"  # or "stderr"
    raw: str = ""  # a container's output exactly as it came (OutputSplitter(keep_raw=True))


@dataclass(frozen=True)
class Notice:
    """A warning from the engine (shown once, dimmed)."""

    text: str


@dataclass(frozen=True)
class LayerProgress:
    layer: str
    status: str
    current: int | None = None
    total: int | None = None
    key: str | None = None  # BuildKit: the step (vertex) it is about


@dataclass(frozen=True)
class ImageId:
    image_id: str


@dataclass(frozen=True)
class Tagged:
    tag: str


@dataclass(frozen=True)
class EngineFailure:
    """The engine reported an error in the stream (``errorDetail``)."""

    message: str
    code: int | None = None


@dataclass(frozen=True)
class ContextSent:
    """How much of the build context has gone to the engine: now and then while a slow one
    is sent, and at the end (like the CLI's "Sending build context to Docker daemon")."""

    files: int
    size: int  # bytes
    seconds: float
    done: bool = False


MAX_LINE = 64 * 1024  # longer lines are cut (a single 10 MB "line" must not pile up)


def _clip(line: str) -> str:
    """A line cut at ``MAX_LINE`` for showing, masked first: the cut must not leave the
    first characters of a secret that straddles it."""
    return redact(line)[:MAX_LINE] if len(line) > MAX_LINE else line


def _cut(text: str) -> tuple[str, str]:
    """An unfinished line grown past ``MAX_LINE``: the piece to pass on now, and the rest to
    keep for later. Known secrets are masked first, and a tail that may begin one is kept
    back, so that no secret is ever split between two pieces (each masked on its own, both
    halves would show)."""
    text = redact(text)
    keep = min(max(longest() - 1, 0), len(text))
    return text[: len(text) - keep], text[len(text) - keep :]


_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$", re.S)
_ARROW = re.compile(
    r"^ ---> (?:(Using cache)|Running in ([0-9a-f]{12,64})|\[Warning\] (.*)|"
    r"([0-9a-f]{12,64}))\s*$"
)
_STDERR_ON, _COLOR_OFF = "\x1b[91m", "\x1b[0m"
# Lines the builder itself writes start with one of these.
_MARKERS = ("Step ", " ---> ", "Removing intermediate container ", "Successfully ")


def failure(message: dict) -> EngineFailure | None:
    """The error carried by one JSON message, if any."""
    detail = message.get("errorDetail")
    if detail or message.get("error"):
        detail = detail if isinstance(detail, dict) else {}
        text = detail.get("message") or message.get("error") or "unknown error"
        code = detail.get("code")
        return EngineFailure(str(text).strip(), code if isinstance(code, int) else None)
    return None


class ClassicBuildParser:
    """``POST /build`` (classic builder) JSON messages -> events.

    The engine sends text in arbitrary pieces ("Step 1/6 : FROM x" and "\\n" separately),
    marks a RUN step's stderr with ANSI red (``ESC[91m`` ... ``ESC[0m``), and reports
    failures as ``errorDetail``.
    """

    def __init__(self) -> None:
        self.key: str | None = None  # the current step's key (None before the first step)
        self._open: str | None = None  # the key of the step that has not finished yet
        self._partial = ""
        self._held = ""  # the start of a colour code cut off at the end of a message
        self._stderr = False
        self._image_seen = False

    def feed(self, message: dict) -> list[Event]:
        out: list[Event] = []
        failed = failure(message)
        if failed is not None:
            out += self._flush()
            out.append(failed)
            return out
        aux = message.get("aux")
        if isinstance(aux, dict) and aux.get("ID"):
            self._image_seen = True
            out.append(ImageId(aux["ID"]))
        if "status" in message:
            detail = message.get("progressDetail") or {}
            out.append(
                LayerProgress(
                    str(message.get("id", "")),
                    str(message["status"]),
                    detail.get("current"),
                    detail.get("total"),
                )
            )
        text = message.get("stream")
        if isinstance(text, str):
            out += self._text(text)
        return out

    def close(self) -> list[Event]:
        out = self._text("") if self._held else []
        out += self._flush()
        if self._open is not None:
            out.append(StepFinished(self._open))
            self._open = None
        return out

    def _text(self, text: str) -> list[Event]:
        out: list[Event] = []
        # A colour code may be cut between two messages: hold back its beginning.
        text, self._held = self._held + text, ""
        cut = text.rfind("\x1b")
        if cut != -1 and any(
            code.startswith(text[cut:]) and code != text[cut:] for code in (_STDERR_ON, _COLOR_OFF)
        ):
            text, self._held = text[:cut], text[cut:]
        # Split on the colour codes, switching stream at each.
        for piece in re.split(r"(\x1b\[91m|\x1b\[0m)", text):
            if piece in (_STDERR_ON, _COLOR_OFF):
                out += self._flush()
                self._stderr = piece == _STDERR_ON
                continue
            self._partial += piece
            if "\n" in self._partial:
                *lines, self._partial = self._partial.split("\n")
                out += self._lines(lines)
            if len(self._partial) > MAX_LINE:
                piece, self._partial = _cut(self._partial)
                out += self._lines([piece]) if piece else []
        return out

    def _flush(self) -> list[Event]:
        if not self._partial:
            return []
        line, self._partial = self._partial, ""
        return self._lines([line])

    def _lines(self, lines: list[str]) -> list[Event]:
        """Complete lines -> events; plain output (the bulk) in one batch."""
        chunk = "\n".join(lines)
        if "\r" in chunk:  # keep what a terminal would show of progress-bar lines
            lines = [line.rsplit("\r", 1)[-1] for line in lines]
        if len(chunk) > MAX_LINE:
            lines = [_clip(line) for line in lines]
        stream = "stderr" if self._stderr else "stdout"
        if stream == "stderr" or not any(m in chunk for m in _MARKERS):
            if self.key is None:
                lines = [line for line in lines if line]
            return [Log(lines, self.key, stream)] if lines else []
        out: list[Event] = []
        pending: list[str] = []
        for line in lines:
            special = self._special(line) if line.startswith(_MARKERS) else None
            if special is None:
                if line or self.key is not None:
                    pending.append(line)
                continue
            if pending:
                out.append(Log(pending, self.key, stream))
                pending = []
            out += special
        if pending:
            out.append(Log(pending, self.key, stream))
        return out

    def _special(self, line: str) -> list[Event] | None:
        """Events for the builder's own lines; ``None`` for ordinary output."""
        step = _STEP.match(line)
        if step:
            out: list[Event] = []
            if self._open is not None:
                out.append(StepFinished(self._open))
            key = self.key = self._open = step.group(1)
            out.append(
                StepStarted(key, step.group(3).strip(), int(step.group(1)), int(step.group(2)))
            )
            return out
        arrow = _ARROW.match(line)
        if arrow:
            cached, container, warning, _layer = arrow.groups()
            key = self.key or ""  # "" (no step) only if a stream does not begin with a step
            if cached:
                return [StepCached(key)]
            if container:
                return [StepContainer(key, container)]
            if warning:
                return [Notice(warning.strip())]
            if self._open is not None:
                finished, self._open = self._open, None
                return [StepFinished(finished)]
            return []
        # 20.10 says "Removing intermediate container ID"; 23 and later " ---> Removed ...".
        if line.startswith(("Removing intermediate container ", " ---> Removed intermediate ")):
            return []
        if line.startswith("Successfully built "):
            return [] if self._image_seen else [ImageId(line.split()[-1])]
        if line.startswith("Successfully tagged "):
            return [Tagged(line[len("Successfully tagged ") :].strip())]
        return None


@dataclass(frozen=True)
class Pushed:
    """A tag's manifest reached the registry (the push's ``aux`` message)."""

    tag: str
    digest: str
    size: int | None = None


@dataclass(frozen=True)
class Status:
    """A line about the whole transfer ("The push refers to...", "Digest: ...")."""

    text: str


class TransferParser:
    """``POST /images/{name}/push`` and ``POST /images/create`` (pull) JSON messages ->
    events: per-layer progress, whole-transfer status lines, pushed digests, failures."""

    def feed(self, message: dict) -> list[Event]:
        failed = failure(message)
        if failed is not None:
            return [failed]
        aux = message.get("aux")
        if isinstance(aux, dict) and aux.get("Digest"):
            return [Pushed(str(aux.get("Tag", "")), aux["Digest"], aux.get("Size"))]
        status = message.get("status")
        if not isinstance(status, str):
            return []
        layer = message.get("id")
        detail = message.get("progressDetail") or {}
        # A pull's first line has the tag as its "id": it is about the transfer, not a layer.
        if layer and not status.startswith("Pulling from"):
            return [LayerProgress(str(layer), status, detail.get("current"), detail.get("total"))]
        return [Status(f"{layer}: {status}" if layer else status)]


class OutputSplitter:
    """A container's raw stdout/stderr bytes -> ``Log`` events of whole lines, per stream
    (multi-byte characters and lines may be cut anywhere between frames). The lines are for
    showing (a TTY's ``\r`` redraws resolved, cut at ``MAX_LINE``); with ``keep_raw`` each
    event also carries the text exactly as it came, for results that keep it whole."""

    def __init__(self, keep_raw: bool = False) -> None:
        import codecs

        self.keep_raw = keep_raw
        self._decoders = {
            s: codecs.getincrementaldecoder("utf-8")("replace") for s in ("stdout", "stderr")
        }
        self._partial = {"stdout": "", "stderr": ""}

    def feed(self, stream: str, data: bytes) -> list[Log]:
        text = self._partial[stream] + self._decoders[stream].decode(data)
        head, newline, rest = text.rpartition("\n")
        lines = head.split("\n") if newline else []
        raw = head + newline  # whole lines only: a secret is masked line by line
        if len(rest) > MAX_LINE:
            piece, rest = _cut(rest)
            if piece:
                lines.append(piece)
                raw += piece
        self._partial[stream] = rest
        if not lines:
            return []
        if "\r" in raw:  # a TTY's "\r\n" ends a line; a lone "\r" redraws it
            lines = [line.rstrip("\r").rsplit("\r", 1)[-1] for line in lines]
        return [Log([_clip(line) for line in lines], None, stream, self._keep(raw))]

    def close(self) -> list[Log]:
        out: list[Log] = []
        for stream in ("stdout", "stderr"):
            rest = self._partial[stream] + self._decoders[stream].decode(b"", final=True)
            self._partial[stream] = ""
            if rest:
                line = rest.rstrip("\r").rsplit("\r", 1)[-1]
                out.append(Log([_clip(line)], None, stream, self._keep(rest)))
        return out

    def _keep(self, raw: str) -> str:
        return raw if self.keep_raw else ""


Event = (
    StepStarted
    | StepCached
    | StepContainer
    | StepFinished
    | StepError
    | Log
    | Notice
    | LayerProgress
    | ImageId
    | Tagged
    | EngineFailure
    | ContextSent
    | Pushed
    | Status
)
