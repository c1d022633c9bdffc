"""Pure: %docker_history and %docker_df from the engine's answers recorded on the 20.10
engine (tests/unit/data/history.json, system-df.json), checked against what the docker CLI
28.2.2 printed for the same engine at the same moment (recorded beside them), and the bar
charts' sizes."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from docker_magics.display.charts import (
    ADVANCE,
    FONT,
    TOP_COLOR,
    Bar,
    bar_svg,
    text_bar,
    text_width,
)
from docker_magics.storage.disk import from_answer
from docker_magics.storage.layers import from_records, instruction

DATA = Path(__file__).parent / "data"
HISTORY = json.loads((DATA / "history.json").read_text())
DF = json.loads((DATA / "system-df.json").read_text())
BUSYBOX = ["COPY file:73e2b2d48642b21b", "RUN /bin/busybox --install -s /bin", 'CMD ["sh"]']


@pytest.mark.parametrize(
    "name, expected",
    [
        # FROM busybox / ARG V=1 / RUN echo $V > /v / ENV A=b / WORKDIR /app /
        # COPY Dockerfile /app/ / RUN head -c 500000 ... / CMD ["sh"], built with V=2
        (
            "classic",
            [*BUSYBOX, "ARG V=1", "RUN echo $V > /v", "ENV A=b", "WORKDIR /app",
             "COPY file:31973b3c2904bb09", "RUN head -c 500000 /dev/urandom > /app/big",
             'CMD ["sh"]'],
        ),
        # BuildKit: FROM busybox / RUN echo hi / RUN echo two
        ("buildkit", [*BUSYBOX, "RUN echo hi", "RUN echo two"]),
        ("imported", ["(Imported from -)"]),
    ],
)  # fmt: skip
def test_history_reads_the_instructions_and_has_the_clis_sizes(name, expected):
    recorded = HISTORY[name]
    history = from_records(recorded["image"], recorded["engine"])
    table = history.table()
    instructions = [row[2] for row in table.rows]
    assert len(instructions) == len(expected)
    for got, want in zip(instructions, expected, strict=True):
        assert got.startswith(want), (got, want)
    # Oldest first (the CLI lists newest first), sizes in its units.
    assert [row[3] for row in table.rows] == [r["Size"] for r in reversed(recorded["cli"])]
    assert history.size == sum(r["Size"] for r in recorded["engine"])


def test_history_picture_puts_the_largest_layers_forward():
    history = from_records("args:1", HISTORY["classic"]["engine"])
    svg = history.chart()
    rows = re.findall(r"<g><title>(.*?)</title>.*?fill='([^']+)'", svg)
    rows = [(html.unescape(re.sub("<[^>]+>", "", t)), color) for t, color in rows]  # its text
    assert [t.split(" in /")[0] for t, _ in rows] == [
        "1 COPY file:73e2b2d48642b21b357384b0cb81c1869cc5e0c48a00f61553756196058304b9",
        "2 RUN /bin/busybox --install -s /bin: 3.22kB",
        "5 RUN echo $V > /v: 2B",
        "8 COPY file:31973b3c2904bb0993ed2e2d56fba6146ed2684417871f50a5a66b309fd299de",
        "9 RUN head -c 500000 /dev/urandom > /app/big: 500kB",
    ]  # the layers that take space, in build order; the tooltip has all of the instruction
    assert "<text x='0' y='39'>1 COPY file:73e2b2d48642b21b357384b0cb81c1869cc…</text>" in svg
    assert [t.split()[0] for t, color in rows if color == TOP_COLOR] == ["1", "9"]
    text = repr(history).splitlines()
    assert text[0] == "args:1: 10 layers, 2.49MB"
    bars = {line.split()[0]: line.rsplit("  ", 1)[-1] for line in text[2:]}
    assert bars["1"] == "█" * 24 and bars["9"].startswith("██████") and bars["3"] == "0B"


def test_disk_usage_is_the_clis():
    usage = from_answer(DF["engine"])
    rows = usage.table().rows
    assert rows == [
        [r["Type"], r["TotalCount"], r["Active"], r["Size"], r["Reclaimable"]] for r in DF["cli"]
    ]
    # What the recording holds: something of each kind, some in use, some to reclaim.
    assert [row[2] for row in rows] == ["1", "1", "1", "0"] and "(58%)" in rows[1][4]
    assert usage["Local Volumes"].reclaimable == 300_000
    assert usage.reclaimable == sum(u.reclaimable for u in usage.usages)


def test_a_chart_is_sized_to_its_labels_and_values():
    bars = [
        Bar("Lisbon", 19.16, "19.16 °C"),
        Bar("a much longer label than the others", 3, "3.00 °C (and a long value text)"),
        Bar("東京", 12, "12 °C"),
    ]
    svg = bar_svg(bars, title="Mean temperature")
    width = int(re.search(r"width='(\d+)'", svg)[1])
    # Each value text starts after its bar and ends inside the picture.
    for x, text in re.findall(r"<text x='([\d.]+)' y='[\d.]+'>([^<]*°C[^<]*)</text>", svg):
        assert float(x) + text_width(text.replace("&amp;", "&")) <= width, text
    labels = re.findall(r"<text x='0' y='[\d.]+'>([^<]*)</text>", svg)
    assert labels == ["Lisbon", "a much longer label than the others", "東京"]
    assert text_width("東京") == 4 * ADVANCE * FONT  # wide characters take two cells
    # Bars in proportion, the largest full length.
    lengths = [float(w) for w in re.findall(r"<rect x='[\d.]+' y='[\d.]+' width='([\d.]+)'", svg)]
    assert lengths[0] == 320.0 and lengths[1] == pytest.approx(320 * 3 / 19.16, abs=0.1)


def test_text_bars_have_eighths():
    assert text_bar(1, 1, 4) == "████"
    assert text_bar(1, 8, 4) == "▌"  # half a cell
    assert text_bar(0, 8) == "" and text_bar(1e-9, 8, 4) == "▏"  # something is visible


def test_instructions_as_the_builders_record_them():
    assert instruction("/bin/sh -c #(nop)  ENV A=b") == "ENV A=b"
    assert instruction("|2 A=1 B=2 /bin/sh -c make all") == "RUN make all"
    assert instruction("/bin/sh -c apt-get update") == "RUN apt-get update"
    assert instruction("RUN /bin/sh -c pip install x # buildkit") == "RUN pip install x"
    assert instruction("WORKDIR /app") == "WORKDIR /app"
    assert instruction("", "Imported from -") == "(Imported from -)"
