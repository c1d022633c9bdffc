"""What push/pull progress shows: one row per layer (Preparing, Waiting, Pushing or
Downloading current/total, Pushed, Layer already exists, Mounted from ...), an overall bar,
and the closing lines (``TAG: digest: sha256:... size: N``); like the docker CLI's non-TTY
output in text (one line per status change)."""

from __future__ import annotations

import html

from . import events as ev
from .progress import GREEN, TextRenderer, WidgetRenderer, cut, make_renderer
from .tables import human_size
from .transfer import TransferRecorder


class TransferText(TextRenderer):
    def __init__(self, recorder: TransferRecorder, out=None, err=None) -> None:
        super().__init__(recorder, out, err)
        self.layer_status: dict[str, str] = {}

    def start(self) -> None:
        verb = "Pushing" if self.recorder.kind == "push" else "Pulling"
        self.print(f"{verb} {self.recorder.title}")

    def handle(self, event: ev.Event) -> None:
        if isinstance(event, ev.LayerProgress):
            if self.layer_status.get(event.layer) != event.status:
                self.layer_status[event.layer] = event.status
                self.print_some([f"{event.layer}: {event.status}"])
        elif isinstance(event, ev.Status):
            self.note_hidden()
            self.print(cut(event.text))

    def finish(self, error: str | None, summary: str = "") -> None:
        # On success the engine's own closing lines (digest, status) were the last word.
        if error is None:
            self.note_hidden()
        else:
            super().finish(error, summary)


class TransferWidget(WidgetRenderer):
    SHOWN_LAYERS = 12

    def header_html(self) -> str:
        r = self.recorder
        verb = "Pushing" if r.kind == "push" else "Pulling"
        done, total = r.byte_progress()
        size = f", {human_size(done)}/{human_size(total)}" if total else ""
        layers = f"{r.layers_done}/{len(r.layers)} layers" if r.layers else "starting"
        return (
            f"<b>{verb} {html.escape(r.title)}</b> &nbsp; {layers}{size} &nbsp; "
            f"<span style='opacity:.7'>{r.elapsed():.1f}s</span>"
        )

    def bar_state(self) -> tuple[int, int]:
        done, total = self.recorder.byte_progress()
        if total:
            return done // 1024, max(total // 1024, 1)
        return self.recorder.layers_done, max(len(self.recorder.layers), 1)

    def panels_html(self) -> list[str]:
        r = self.recorder
        statuses = "<br>".join(f"<code>{html.escape(cut(t, 160))}</code>" for t in r.statuses[-3:])
        rows = []
        layers = list(r.layers.values())
        hidden = len(layers) - self.SHOWN_LAYERS
        if hidden > 0:  # finished layers make room first
            layers = sorted(layers, key=lambda layer: not layer.done)[hidden:]
            rows.append(f"<tr><td colspan=3 style='opacity:.7'>… {hidden} more layers</td></tr>")
        for layer in layers:
            color = GREEN if layer.done else "inherit"
            rows.append(
                f"<tr><td><code>{html.escape(layer.id)}</code></td>"
                f"<td style='color:{color};padding:0 1em'>{html.escape(layer.status)}</td>"
                f"<td style='text-align:right'>{layer.progress}</td></tr>"
            )
        return [statuses, f"<table style='font-size:90%'>{''.join(rows)}</table>"]


def transfer_renderer(mode: str, recorder: TransferRecorder):
    return make_renderer(mode, recorder, TransferText, TransferWidget)
