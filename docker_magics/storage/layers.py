"""An image's layers (``%docker_history``, ``docker_magics.history()``): what made each one,
how big it is, how old, as a table and a bar chart of the sizes, the largest standing out.

The rows and sizes are the engine's (``GET /images/{name}/history``), the sizes in the
docker CLI's units (``docker history``: ``cli/command/image/formatter_history.go``); the
instruction is read back from what the builders record: the classic builder's
``/bin/sh -c #(nop) ENV ...`` and ``/bin/sh -c make`` (a RUN), BuildKit's ``RUN /bin/sh -c
make # buildkit``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from docker_magics.display import markup
from docker_magics.display.charts import Bar, bar_svg, shorten, with_bars
from docker_magics.display.once import SaidOnce
from docker_magics.display.tables import Table, counted, human_size
from docker_magics.engine.diagnose import explain
from docker_magics.engine.session import Connection
from docker_magics.errors import BadArgument, how

INSTRUCTION_WIDTH = 60
_BUILD_ARGS = re.compile(r"^\|\d+ (?:\S+=\S* )*")  # "|2 A=1 B=2 /bin/sh -c ..." (classic)
_SHELL = "/bin/sh -c "


def instruction(created_by: str, comment: str = "") -> str:
    """The Dockerfile instruction behind a layer, as the builders record it."""
    text = " ".join(created_by.split())
    if not text:
        return f"({comment})" if comment else ""
    text = text.removesuffix(" # buildkit")
    if "#(nop) " in text:  # the classic builder's instructions that run nothing
        return text.split("#(nop) ", 1)[1].strip()
    if text.startswith(("RUN ", "COPY ", "ADD ")) or re.match(r"^[A-Z]+ ", text):
        return text.replace(f"RUN {_SHELL}", "RUN ", 1)  # BuildKit names its instruction
    text = _BUILD_ARGS.sub("", text)
    return "RUN " + text.removeprefix(_SHELL)


@dataclass
class Layer:
    instruction: str
    size: int
    created: float | None
    comment: str = ""
    image_id: str = ""  # the image at this layer, when the engine still has it


@dataclass
class ImageHistory(SaidOnce):
    """The value of ``%docker_history``: ``layers`` in build order (the base image's first),
    ``size`` in all; ``.raw`` the engine's records (newest first, as it sends them)."""

    image: str
    layers: list[Layer]
    raw: list[dict] = field(default_factory=list, repr=False)

    @property
    def size(self) -> int:
        return sum(layer.size for layer in self.layers)

    def table(self) -> Table:
        from docker_magics.runs.containers import human_age

        rows = [
            (
                str(n),
                human_age(layer.created),
                shorten(layer.instruction, INSTRUCTION_WIDTH),
                human_size(layer.size),
                _share(layer.size, self.size),
            )
            for n, layer in enumerate(self.layers, 1)
        ]
        return Table(["#", "CREATED", "INSTRUCTION", "SIZE", "SHARE"], rows)

    def title(self) -> str:
        n = len(self.layers)
        return f"{self.image}: {counted(n, 'layer')}, {human_size(self.size)}"

    def chart(self) -> str:
        """The layers that take space, as bars in build order; the two largest stand out."""
        bars = [
            Bar(f"{n} {layer.instruction}", layer.size, human_size(layer.size))
            for n, layer in enumerate(self.layers, 1)
            if layer.size
        ]
        return bar_svg(bars, title=f"Layer sizes of {self.image}", top=2)

    def __repr__(self) -> str:
        values = [layer.size for layer in self.layers]
        return f"{self.title()}\n{with_bars(repr(self.table()), values)}"

    def _repr_html_(self) -> str:
        return (
            f"<div class='docker-magics-history'><b>{markup.text(self.title())}</b>"
            f"{self.table()._repr_html_()}{self.chart()}</div>"
        )


def _share(size: int, total: int) -> str:
    if not (total and size):
        return ""
    return "<1%" if size * 100 < total else f"{100 * size / total:.0f}%"


def history(conn: Connection, image: str) -> ImageHistory:
    """``docker history IMAGE``, oldest layer first."""
    from docker.errors import ImageNotFound

    try:
        records = conn.client.api.history(image)
    except ImageNotFound:
        raise BadArgument(
            f"There is no image {image} on the engine",
            f"Check the name ({how('%docker_images', 'docker_magics.images()')} lists them)",
        ) from None
    except Exception as exc:  # noqa: BLE001
        raise explain(exc, conn.endpoint) from None
    return from_records(image, records)


def from_records(image: str, records: list[dict]) -> ImageHistory:
    """The history from the engine's records (newest first)."""
    layers = [
        Layer(
            instruction(r.get("CreatedBy") or "", r.get("Comment") or ""),
            int(r.get("Size") or 0),
            float(r["Created"]) if r.get("Created") else None,
            r.get("Comment") or "",
            r.get("Id") if r.get("Id") not in (None, "<missing>") else "",
        )
        for r in reversed(records)
    ]
    return ImageHistory(image, layers, list(records))
