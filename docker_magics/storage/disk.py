"""What the engine's disk holds (``%docker_df``, ``docker_magics.df()``): images, containers,
local volumes and the build cache, how many of each are in use, their size and what
removing the unused ones would free, as a table and a bar chart.

The numbers are the docker CLI's, computed the same way from the same answer
(``GET /system/df``): docker/cli v28 ``cli/command/system/df.go`` (the build cache's size:
its records that are not shared) and ``cli/command/formatter/disk_usage.go`` (what is
active, and reclaimable: images not used by a container, containers not running, volumes
no container refers to, build cache not in use), sizes to 4 significant digits as it shows
them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from docker_magics.display import markup
from docker_magics.display.charts import Bar, bar_svg, with_bars
from docker_magics.display.once import SaidOnce
from docker_magics.display.tables import Table, human_size
from docker_magics.engine.diagnose import explain
from docker_magics.engine.session import Connection

ACTIVE_STATES = ("running", "paused", "restarting")


def size4(n: float) -> str:
    """A size as ``docker system df`` shows it (go-units HumanSize: 4 digits)."""
    return human_size(n, digits=4)


@dataclass
class Usage:
    """One kind of thing on the engine's disk."""

    kind: str  # Images, Containers, Local Volumes, Build Cache
    total: int
    active: int
    size: int
    reclaimable: int
    percent: bool = True  # the CLI shows the reclaimable share (not for the build cache)

    def reclaimable_text(self) -> str:
        text = size4(self.reclaimable)
        if self.percent and self.size > 0:
            text += f" ({self.reclaimable * 100 // self.size}%)"
        return text


@dataclass
class DiskUsage(SaidOnce):
    """The value of ``%docker_df``: one :class:`Usage` per kind; ``.raw`` is the engine's
    answer (every image, container, volume and cache record with its size)."""

    usages: list[Usage]
    raw: dict = field(default_factory=dict, repr=False)

    def __getitem__(self, kind: str) -> Usage:
        return next(u for u in self.usages if u.kind == kind)

    @property
    def size(self) -> int:
        return sum(u.size for u in self.usages)

    @property
    def reclaimable(self) -> int:
        return sum(u.reclaimable for u in self.usages)

    def table(self) -> Table:
        rows = [
            (u.kind, str(u.total), str(u.active), size4(u.size), u.reclaimable_text())
            for u in self.usages
        ]
        return Table(["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"], rows)

    def title(self) -> str:
        return f"Engine disk usage: {size4(self.size)}, {size4(self.reclaimable)} reclaimable"

    def chart(self) -> str:
        bars = [Bar(u.kind, u.size, _bar_text(u), u.reclaimable) for u in self.usages]
        return bar_svg(bars, part_label="reclaimable (not in use)", top=0)

    def __repr__(self) -> str:
        values = [u.size for u in self.usages]
        return f"{self.title()}\n{with_bars(repr(self.table()), values)}"

    def _repr_html_(self) -> str:
        return (
            f"<div class='docker-magics-df'><b>{markup.text(self.title())}</b>"
            f"{self.table()._repr_html_()}{self.chart()}</div>"
        )


def _bar_text(u: Usage) -> str:
    if not u.size:
        return "0B"
    return f"{size4(u.size)} ({size4(u.reclaimable)} reclaimable)"


def from_answer(answer: dict) -> DiskUsage:
    """The usages from the engine's ``/system/df`` answer, as the docker CLI computes them."""
    images = answer.get("Images") or []
    layers = int(answer.get("LayersSize") or 0)
    used = sum(
        i["Size"] - i["SharedSize"]
        for i in images
        if i.get("Containers", 0) != 0 and -1 not in (i.get("Size", -1), i.get("SharedSize", -1))
    )
    containers = answer.get("Containers") or []
    running = [c for c in containers if c.get("State") in ACTIVE_STATES]
    volumes = answer.get("Volumes") or []
    sized = [v for v in volumes if (v.get("UsageData") or {}).get("Size", -1) != -1]
    cache = answer.get("BuildCache") or []
    cache_size = sum(b.get("Size", 0) for b in cache if not b.get("Shared"))
    in_use = sum(b.get("Size", 0) for b in cache if b.get("InUse") and not b.get("Shared"))
    usages = [
        Usage(
            "Images",
            len(images),
            sum(1 for i in images if i.get("Containers", 0) > 0),
            layers,
            layers - used,
        ),
        Usage(
            "Containers",
            len(containers),
            len(running),
            sum(c.get("SizeRw", 0) for c in containers),
            sum(c.get("SizeRw", 0) for c in containers if c.get("State") not in ACTIVE_STATES),
        ),
        Usage(
            "Local Volumes",
            len(volumes),
            sum(1 for v in volumes if (v.get("UsageData") or {}).get("RefCount", 0) > 0),
            sum(v["UsageData"]["Size"] for v in sized),
            sum(v["UsageData"]["Size"] for v in sized if v["UsageData"].get("RefCount", 0) == 0),
        ),
        Usage(
            "Build Cache",
            len(cache),
            sum(1 for b in cache if b.get("InUse")),
            cache_size,
            cache_size - in_use,
            percent=False,
        ),
    ]
    return DiskUsage(usages, answer)


def disk_usage(conn: Connection) -> DiskUsage:
    """``docker system df``."""
    try:
        answer = conn.client.api.df()
    except Exception as exc:  # noqa: BLE001
        raise explain(exc, conn.endpoint) from None
    return from_answer(answer)
