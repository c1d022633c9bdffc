"""What push/pull progress shows: one row per layer (Preparing, Waiting, Pushing or
Downloading current/total, Pushed, Layer already exists, Mounted from ...), an overall bar
that only moves forward (a pull: downloads, then extraction), and the closing lines
(``TAG: digest: sha256:... size: N``); like the docker CLI's non-TTY output in text (one
line per status change, a retry's countdown as one line)."""

from __future__ import annotations

from docker_magics.display import markup
from docker_magics.display.progress import GREEN, ProgressText, WidgetRenderer, cut, make_renderer
from docker_magics.display.tables import counted, human_size
from docker_magics.engine import events as ev
from docker_magics.registry.result import TransferRecorder, same_status


class TransferText(ProgressText):
    def __init__(self, recorder: TransferRecorder, out=None, err=None, clock=None) -> None:
        super().__init__(recorder, out, err, clock)
        self.layer_status: dict[str, str] = {}

    def start(self) -> None:
        super().start()
        verb = "Pushing" if self.recorder.kind == "push" else "Pulling"
        self.say(f"{verb} {self.recorder.title}")

    def handle(self, event: ev.Event) -> None:
        if isinstance(event, ev.LayerProgress):
            previous = self.layer_status.get(event.layer)
            self.layer_status[event.layer] = event.status
            if not same_status(previous, event.status):
                if previous is None:
                    self.earn()
                self.say(f"{event.layer}: {event.status}")
        elif isinstance(event, ev.Status):
            self.say(cut(event.text))

    def final_lines(self, error: str | None, summary: str) -> None:
        # The engine's closing lines (digest, status) came last, as the CLI shows them; then
        # the summary (the result says it no more).
        super().final_lines(error, summary)


class TransferWidget(WidgetRenderer):
    """The lines about the whole transfer that came first ("The push refers to..."), a row a
    layer, then its closing lines (the digest), in the docker CLI's order."""

    SHOWN_LAYERS = 12
    LAYER_BONUS = 1500
    BUSY = 1  # the layer table changes all the time; the lines around it on transitions

    def __init__(self, recorder: TransferRecorder, **kwargs) -> None:
        super().__init__(recorder, **kwargs)
        self.seen: set[str] = set()

    def handle(self, event: ev.Event) -> None:
        if isinstance(event, ev.LayerProgress) and event.layer not in self.seen:
            self.seen.add(event.layer)  # a new row in the table
            self.earn(self.LAYER_BONUS)

    def header_html(self) -> str:
        r = self.recorder
        verb = "Pushing" if r.kind == "push" else "Pulling"
        moved, extracted, size = r.byte_progress()
        if not size:
            amounts = ""
        elif r.kind == "push":
            amounts = f", {human_size(moved)}/{human_size(size)} pushed"
        else:
            amounts = f", {human_size(moved)}/{human_size(size)} downloaded"
            if extracted:
                amounts += f", {human_size(extracted)} extracted"
        n = len(r.layers)
        layers = f"{r.layers_done}/{counted(n, 'layer')}" if n else "starting"
        return (
            f"<b>{verb} {markup.text(r.title)}</b> &nbsp; {layers}{amounts} &nbsp; "
            f"<span style='opacity:.7'>{r.elapsed():.1f}s</span>"
        )

    def bar_state(self) -> tuple[int, int]:
        return round(self.recorder.fraction() * 1000), 1000

    def panels_html(self) -> list[str]:
        r = self.recorder
        statuses = list(r.statuses)
        opening, closing = statuses[: r.opening], statuses[r.opening :]
        return [_lines_html(opening[-2:]), self._layers_html(), _lines_html(closing[-3:])]

    def panels_text(self) -> list[str]:
        r = self.recorder
        rows = [f"{layer.id}: {layer.status}" for layer in list(r.layers.values())]
        return [*r.statuses[: r.opening][-2:], *rows, *r.statuses[r.opening :][-3:]]

    def _layers_html(self) -> str:
        r = self.recorder
        rows = []
        layers = list(r.layers.values())
        hidden = len(layers) - self.SHOWN_LAYERS
        if hidden > 0:  # finished layers make room first
            layers = sorted(layers, key=lambda layer: not layer.done)[hidden:]
            more = counted(hidden, "more layer")
            rows.append(f"<tr><td colspan=3 style='opacity:.7'>… {more}</td></tr>")
        for layer in layers:
            color = GREEN if layer.done else "inherit"
            rows.append(
                # Left-aligned: notebooks right-align table cells ("Pushed" stood apart
                # from "Mounted from ...").
                f"<tr><td style='text-align:left'><code>{markup.text(layer.id)}</code></td>"
                f"<td style='color:{color};padding:0 1em;text-align:left'>"
                f"{markup.text(layer.status)}</td>"
                f"<td style='text-align:right'>{layer.progress}</td></tr>"
            )
        return f"<table style='font-size:90%'>{''.join(rows)}</table>"


def _lines_html(lines: list[str]) -> str:
    return "<br>".join(f"<code>{markup.text(cut(t, 160))}</code>" for t in lines)


def transfer_renderer(mode: str, recorder: TransferRecorder):
    return make_renderer(mode, recorder, TransferText, TransferWidget)
