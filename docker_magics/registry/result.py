"""Pushes and pulls: a recorder folding transfer events into per-layer state (read by the
renderers), and the ``PushResult`` / ``PullResult`` values with text and HTML reprs."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from docker_magics.display import markup
from docker_magics.display.once import SaidOnce
from docker_magics.display.tables import counted, human_size
from docker_magics.engine import events as ev

# Statuses after which a layer has nothing more to do.
FINAL = ("Pushed", "Layer already exists", "Pull complete", "Already exists", "Mounted from")
_COUNTDOWN = re.compile(r"^Retrying in (\d+) seconds?$")


def same_status(previous: str | None, status: str) -> bool:
    """Whether a layer's ``status`` says nothing new after ``previous``: the same words, or
    the engine's once-a-second retry countdown going on ("Retrying in 5 seconds", "Retrying
    in 4 seconds", ...: one line per retry, not one per second)."""
    if previous == status:
        return True
    before, now = _COUNTDOWN.match(previous or ""), _COUNTDOWN.match(status)
    return before is not None and now is not None and int(now[1]) < int(before[1])


@dataclass
class Layer:
    id: str
    status: str = ""
    current: int | None = None  # of the latest status (downloading, extracting, pushing)
    total: int | None = None
    size: int | None = None  # bytes to move, once the engine said
    moved: int = 0  # downloaded (pull) or pushed (push), never going back
    extracted: int = 0  # a pull's second half

    @property
    def done(self) -> bool:
        return self.status.startswith(FINAL)

    @property
    def progress(self) -> str:
        if self.done or not self.total:
            return ""
        return f"{human_size(min(self.current or 0, self.total))}/{human_size(self.total)}"

    def update(self, event: ev.LayerProgress) -> None:
        self.status = event.status
        if event.total:
            self.current, self.total = event.current, event.total
            self.size = self.size or event.total
        status = event.status
        if status.startswith(("Downloading", "Pushing")) and event.total:
            self.moved = max(self.moved, min(event.current or 0, event.total))
        elif status.startswith(("Verifying Checksum", "Download complete")) and self.size:
            self.moved = self.size
        elif status.startswith("Extracting") and self.size:
            self.moved = self.size
            self.extracted = max(self.extracted, min(event.current or 0, self.size))
        elif self.done and self.size:
            self.moved = self.extracted = self.size


class TransferRecorder:
    def __init__(self, kind: str, reference: str) -> None:
        self.kind = kind  # "push" or "pull"
        self.title = reference
        self.started = time.monotonic()
        self.layers: dict[str, Layer] = {}
        self.statuses: list[str] = []
        self.opening = 0  # statuses before the first layer ("The push refers to..."); then
        # the layers, and the closing ones ("1: digest: ...", "Status: ..."), as the CLI
        self.pushed: list[ev.Pushed] = []
        self.failure: ev.EngineFailure | None = None
        self._fraction = 0.0

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def handle(self, event: ev.Event) -> None:
        if isinstance(event, ev.LayerProgress):
            self.layers.setdefault(event.layer, Layer(event.layer)).update(event)
        elif isinstance(event, ev.Status):
            self.statuses.append(event.text)
            if not self.layers:
                self.opening = len(self.statuses)
        elif isinstance(event, ev.Pushed):
            self.pushed.append(event)
        elif isinstance(event, ev.EngineFailure):
            self.failure = event

    @property
    def layers_done(self) -> int:
        return sum(layer.done for layer in list(self.layers.values()))

    def byte_progress(self) -> tuple[int, int, int]:
        """(moved, extracted, size): bytes downloaded or pushed, bytes extracted (a pull),
        out of the size of the layers whose size is known so far."""
        moved = extracted = size = 0
        for layer in list(self.layers.values()):
            if layer.size:
                size += layer.size
                moved += layer.moved
                extracted += layer.extracted
        return moved, extracted, size

    def fraction(self) -> float:
        """How far the whole transfer is, from 0 to 1, never going back. Bytes moved over
        all the bytes to move: a pull's download and extraction are each half of a layer;
        a layer whose size is not known yet counts as the average known one, a layer done
        without a size (already there) as nothing."""
        layers = list(self.layers.values())
        known = [layer for layer in layers if layer.size]
        if known:
            halves = 2 if self.kind == "pull" else 1
            unknown = sum(1 for layer in layers if not layer.size and not layer.done)
            size = sum(layer.size or 0 for layer in known)
            moved = sum(layer.moved + (layer.extracted if halves == 2 else 0) for layer in known)
            fraction = moved / (halves * (size + size / len(known) * unknown))
        else:
            fraction = self.layers_done / len(layers) if layers else 0.0
        self._fraction = max(self._fraction, min(fraction, 1.0))
        return self._fraction

    def outcomes(self) -> dict[str, str]:
        return {layer.id: layer.status for layer in list(self.layers.values())}


def _layers_html(layers: dict[str, str]) -> str:
    rows = "".join(
        f"<tr><td style='text-align:left'><code>{markup.text(k)}</code></td>"
        f"<td style='text-align:left'>{markup.text(v)}</td></tr>"
        for k, v in layers.items()
    )
    summary = counted(len(layers), "layer")
    return f"<details><summary>{summary}</summary><table>{rows}</table></details>"


@dataclass
class PushResult(SaidOnce):
    """The value of ``%docker_push``: what reached the registry."""

    name: str  # repository, e.g. 127.0.0.1:5000/team/app
    tags: list[str]
    digests: list[ev.Pushed]  # one per pushed tag: tag, digest, manifest size
    layers: dict[str, str] = field(default_factory=dict)  # layer id -> final status
    duration: float = 0.0

    @property
    def tag(self) -> str | None:
        return self.digests[0].tag if self.digests else (self.tags[0] if self.tags else None)

    @property
    def digest(self) -> str | None:
        return self.digests[0].digest if self.digests else None

    @property
    def size(self) -> int | None:
        return self.digests[0].size if self.digests else None

    @property
    def pushed_layers(self) -> int:
        return sum(1 for s in self.layers.values() if s == "Pushed")

    def lines(self) -> list[str]:
        """The docker CLI's closing lines: ``TAG: digest: sha256:... size: N``."""
        return [f"{p.tag}: digest: {p.digest} size: {p.size}" for p in self.digests]

    @property
    def references(self) -> str:
        """What was pushed, as NAME:TAG (``repo:1, :2 and :latest`` for several tags)."""
        tags = [p.tag for p in self.digests] or self.tags
        if not tags:
            return self.name
        shown = [f"{self.name}:{tags[0]}", *(f":{t}" for t in tags[1:])]
        return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} and {shown[-1]}"

    def summary(self) -> str:
        reused = len(self.layers) - self.pushed_layers
        return (
            f"Pushed {self.references} in {self.duration:.1f}s: "
            f"{counted(self.pushed_layers, 'layer')} uploaded, {reused:,} already there"
        )

    def __repr__(self) -> str:
        return "\n".join([self.summary(), *self.lines()])

    def _repr_html_(self) -> str:
        lines = "<br>".join(markup.text(line) for line in self.lines())
        return (
            f"<div><b style='color:#1a7f37'>{markup.text(self.summary())}</b>"
            f"{_layers_html(self.layers)}<code>{lines}</code></div>"
        )


@dataclass
class PullResult(SaidOnce):
    """The value of ``%docker_pull``."""

    reference: str
    digest: str | None
    status: str  # "Downloaded newer image for ..." / "Image is up to date for ..."
    image_id: str | None = None
    size: int | None = None
    layers: dict[str, str] = field(default_factory=dict)
    duration: float = 0.0

    @property
    def downloaded(self) -> int:
        return sum(1 for s in self.layers.values() if s == "Pull complete")

    @property
    def present(self) -> int:
        """Layers the engine had already (the engine's "Already exists")."""
        return sum(1 for s in self.layers.values() if s == "Already exists")

    def summary(self) -> str:
        short = (self.image_id or "").split(":")[-1][:12]
        size = f", {human_size(self.size)}" if self.size is not None else ""
        if "up to date" in self.status:
            what = "up to date"
        elif self.downloaded:
            what = f"{counted(self.downloaded, 'layer')} downloaded"
            what += f", {self.present:,} already there" if self.present else ""
        else:  # the engine's "Downloaded newer image": a new name for layers it had
            what = "nothing to download, the engine had its layers"
        image = f" ({short}{size})" if short else ""
        return f"Pulled {self.reference}{image} in {self.duration:.1f}s: {what}"

    def __repr__(self) -> str:
        return "\n".join(
            x for x in (self.summary(), f"Digest: {self.digest}" if self.digest else "") if x
        )

    def _repr_html_(self) -> str:
        digest = f"<code>Digest: {markup.text(self.digest)}</code>" if self.digest else ""
        return (
            f"<div><b style='color:#1a7f37'>{markup.text(self.summary())}</b>"
            f"{_layers_html(self.layers)}{digest}</div>"
        )
