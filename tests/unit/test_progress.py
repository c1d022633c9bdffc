"""Pure: the progress views' budgets (a fake clock drives them), what they show for a flood,
a BuildKit build's bar, a pull's overall bar, retry countdowns, spilled logs, and words."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from docker_magics.builds.buildkit.trace import BuildKitParser
from docker_magics.builds.progress import BuildText, BuildWidget
from docker_magics.builds.result import BuildRecorder
from docker_magics.display.budget import ENVELOPE, ByteBudget, MessageWindow, message_size
from docker_magics.engine import events as ev
from docker_magics.registry.progress import TransferText
from docker_magics.registry.result import TransferRecorder
from tests.support.timing import Clock, Streams, max_in_window

DATA = Path(__file__).parent / "data"


def test_the_message_window_is_a_sliding_window_not_a_bucket():
    clock = Clock()
    window = MessageWindow(5, clock=clock)
    sent = []
    for _ in range(400):  # 10 s, asking every 25 ms
        clock.t += 0.025
        if window.room():
            window.record()
            sent.append(clock.t)
    assert max_in_window(sent) == 5  # a bucket of burst 5 and rate 5 would allow 10
    assert len(sent) >= 45
    window.record(4)  # a forced burst counts: no room for a while
    assert window.room() == 0
    clock.t += 1.1
    assert window.room() == 5


@pytest.mark.parametrize("seconds", [1, 5, 30, 300, 3600])
def test_the_byte_budget_grows_with_the_log_of_time(seconds):
    clock = Clock()
    budget = ByteBudget(6000, 1900, 3.0, clock)
    while clock.t - 1000 < seconds:  # a greedy spender, 800 bytes at a time
        clock.t += 0.05
        while budget.spend(800):
            pass
    bound = 6000 + 1900 * 3.0 * math.log1p((clock.t - 1000) / 3.0)
    assert 0.98 * bound - 800 <= budget.spent <= bound
    assert budget.spent < 52_000  # an hour of trying, all the same
    budget.earn(3000)  # a new step: room beyond the burst
    assert budget.spend(3000)
    budget.charge(5000)  # what must go, goes: in debt
    assert budget.available() < 0 and not budget.spend(1)


def test_message_size_is_the_json_plus_the_envelope():
    assert message_size({"value": "é"}) == ENVELOPE + len('{"value": "é"}'.encode())


def flood(renderer, recorder, clock, seconds: float, lines: int = 200_000, chunk: int = 500):
    """A classic build whose one RUN step prints ``lines`` lines of 80 characters in chunks,
    spread over ``seconds``; the renderer's ticker is driven by hand."""

    def feed(event):
        recorder.handle(event)
        renderer.handle(event)

    feed(ev.StepStarted("1", "FROM base", 1, 2))
    feed(ev.StepFinished("1"))
    feed(ev.StepStarted("2", "RUN flood", 2, 2))
    chunks = lines // chunk
    next_tick = clock.t + renderer.TICK
    for c in range(chunks):
        clock.t += seconds / chunks
        feed(ev.Log([f"{c * chunk + i + 1:06d} " + "x" * 73 for i in range(chunk)], "2"))
        while clock.t >= next_tick:
            renderer.flush() if hasattr(renderer, "flush") else renderer.draw()
            next_tick += renderer.TICK
    feed(ev.StepFinished("2"))
    feed(ev.ImageId("sha256:" + "ab" * 32))


@pytest.mark.parametrize("seconds", [1, 5, 30, 300])
def test_a_flood_in_text_is_bounded_and_ends_with_its_last_lines(seconds):
    clock = Clock()
    recorder = BuildRecorder("flood", total=2)
    streams = Streams(clock)
    text = BuildText(recorder, streams.out, streams.err, clock=clock)
    text.say("Building flood")
    flood(text, recorder, clock, seconds)
    live = [t for t, _, _ in streams.writes]
    text.finish(None, "Built abc")
    out = streams.text()
    assert max_in_window(live) <= text.LIVE_MESSAGES
    finish = len(streams.writes) - len(live)
    assert finish <= 2  # one write per stream
    assert streams.wire_bytes() < 48 * 1024, streams.wire_bytes()
    # Everything is accounted for: the lines shown and the ones said to be skipped.
    shown = [line for line in out.splitlines() if line[:6].isdigit()]
    skipped = sum(
        int(line.split("…")[1].split()[0].replace(",", ""))
        for line in out.splitlines()
        if "more line" in line
    )
    assert len(shown) + skipped == 200_000
    # The step's last lines show, then how it ended.
    assert out.splitlines()[-7:-2] == [f"{n:06d} " + "x" * 73 for n in range(199_996, 200_001)]
    assert out.endswith("Built abc\n")
    # Live: writes keep coming, thinning out as the budget's rate decays (~1/t): the gap
    # after time t is at most a fifth of t, plus a second, plus a tick when a sample waits
    # until it can hold the step's last lines.
    for a, b in zip(live, live[1:], strict=False):
        assert b - a <= 1 + text.TICK + 0.2 * (a - 1000), (a - 1000, b - a)


def test_a_sample_taken_just_before_a_step_ends_leaves_its_last_lines_to_show():
    # Seen on a loaded machine: the ticker sampled the flood right after its last line, when
    # the budget had room for 4 lines only, and the step's end then had nothing left to show.
    clock = Clock()
    recorder = BuildRecorder("flood", total=1)
    streams = Streams(clock)
    text = BuildText(recorder, streams.out, streams.err, clock=clock)
    lines = [f"{n:06d} " + "x" * 73 for n in range(1, 101)]
    for event in (ev.StepStarted("1", "RUN flood", 1, 1), ev.Log(lines, "1")):
        recorder.handle(event)
        text.handle(event)
    text.budget.charge(text.budget.available() - (ENVELOPE + 5 * 81 + 10))
    text.flush()
    for event in (ev.StepFinished("1"), ev.ImageId("sha256:" + "ab" * 32)):
        recorder.handle(event)
        text.handle(event)
    text.finish(None, "Built abc")
    out = streams.text().splitlines()
    assert out[-6:-1] == lines[-5:], out  # then "Built abc"
    assert "95 more lines" in out[-7]


def test_a_quiet_build_in_text_shows_every_line_in_order():
    clock = Clock()
    recorder = BuildRecorder("quiet", total=3)
    streams = Streams(clock)
    text = BuildText(recorder, streams.out, streams.err, clock=clock)
    events = [
        ev.StepStarted("1", "FROM base", 1, 3),
        ev.StepFinished("1"),
        ev.StepStarted("2", "RUN make", 2, 3),
        ev.Log(["compiling", "linking"], "2"),
        ev.Log(["a warning"], "2", "stderr"),
        ev.Log(["done"], "2"),
        ev.StepFinished("2"),
        ev.StepStarted("3", "CMD x", 3, 3),
        ev.StepFinished("3"),
    ]
    for event in events:
        clock.t += 0.1
        recorder.handle(event)
        text.handle(event)
        text.flush()
    text.finish(None, "Built it")
    assert [(name, t) for _, name, t in streams.writes if name == "stderr"] == [
        ("stderr", "a warning\n")
    ]
    lines = streams.text().splitlines()
    assert lines == [
        "Step 1/3 : FROM base",
        "Step 2/3 : RUN make",
        "compiling",
        "linking",
        "a warning",
        "done",
        "Step 3/3 : CMD x",
        "Built it",
    ]


def test_a_failing_flood_in_text_shows_the_failing_steps_last_lines():
    clock = Clock()
    recorder = BuildRecorder("flood", total=2)
    streams = Streams(clock)
    text = BuildText(recorder, streams.out, streams.err, clock=clock)
    for event in [ev.StepStarted("1", "RUN flood", 1, 1)] + [
        ev.Log([f"line {c * 1000 + i}" for i in range(1000)], "1") for c in range(100)
    ]:
        clock.t += 0.01
        recorder.handle(event)
        text.handle(event)
        text.flush()
    recorder.handle(ev.EngineFailure("The command returned a non-zero code: 1", 1))
    recorder.fail_current()
    text.finish("Step 1/1 (RUN flood) failed with exit code 1.")
    out = streams.text()
    assert "--- the last 20 lines of step 1/1 RUN flood ---" in out
    assert out.split("--- the last 20 lines of step 1/1 RUN flood ---\n")[1].splitlines()[:20] == [
        f"line {n}" for n in range(99_980, 100_000)
    ]
    assert streams.writes[-1][1] == "stderr" and streams.writes[-1][2].startswith("FAILED after")


class Handle:
    """Where the widgets were displayed (IPython's DisplayHandle, without a frontend): the
    record that replaces them at the end."""

    def __init__(self, spy) -> None:
        self.spy = spy
        self.records: list = []

    def update(self, record) -> None:
        self.records.append(record)
        size = message_size({"text/html": record._repr_html_(), "text/plain": repr(record)})
        self.spy.sent.append((self.spy.clock(), "record", size))


class SpyWidget(BuildWidget):
    """The real widgets (no frontend attached): every message they would send, recorded."""

    def __init__(self, recorder, clock) -> None:
        super().__init__(recorder, clock=clock)
        self.shown = clock()
        self.sent: list[tuple[float, str, int]] = []
        self.display_handle = Handle(self)

    def _send(self, widget, state) -> None:
        name = {id(self.header): "header", id(self.bar): "bar"}.get(id(widget), "panel")
        if widget is self.panels[-1]:
            name = "log"
        self.sent.append((self.clock(), name, message_size(state)))
        super()._send(widget, state)


@pytest.mark.parametrize("seconds", [1, 5, 30, 300])
def test_a_flood_in_widgets_is_bounded_and_stays_live(seconds):
    clock = Clock()
    recorder = BuildRecorder("flood", total=2)
    recorder.elapsed = lambda: clock.t - 1000
    widget = SpyWidget(recorder, clock)
    widget.window.record()  # the display message
    flood(widget, recorder, clock, seconds)
    live = list(widget.sent)
    widget.finish(None, "Built abc")
    times = [t for t, _, _ in live]
    assert max_in_window([1000.0, *times]) <= widget.LIVE_MESSAGES
    assert [name for _, name, _ in widget.sent[len(live) :]] == ["record"]  # one message
    sent = sum(size for _, _, size in widget.sent)
    assert sent < 40 * 1024, sent  # 64 KB less creating the widgets (~11 KB) and the result
    # Both the elapsed time and the log keep moving, the log to its very last line.
    assert {"header", "log"} <= {name for _, name, _ in live}
    if seconds >= 5:
        headers = [t for t, name, _ in live if name == "header"]
        logs = [t for t, name, _ in live if name == "log"]
        assert len(headers) >= 3 and len(logs) >= 3
        # Updates thin out as the budget's rate decays (~1/t), header and log in turn.
        updates = [t for t, name, _ in live if name in ("header", "log")]
        for a, b in zip(updates, updates[1:], strict=False):
            assert b - a <= 2 + 0.4 * (a - 1000), (a - 1000, b - a)
        for a, b in zip(headers, headers[1:], strict=False):
            assert b - a <= 3 + 0.6 * (a - 1000), (a - 1000, b - a)
    (record,) = widget.display_handle.records  # in place of the widgets: the end, static
    assert "200000 " in record._repr_html_() and "Built abc" in record._repr_html_()
    assert "docker-magics-bar-success" in record.bar and "width:100.0%" in record.bar


def test_finishing_counts_against_the_window():
    clock = Clock()
    recorder = BuildRecorder("quick", total=1)
    widget = SpyWidget(recorder, clock)
    widget.window.record()  # the display message
    recorder.handle(ev.StepStarted("1", "RUN x", 1, 1))
    for _ in range(8):  # changes every tick
        clock.t += 0.25
        recorder.handle(ev.Log([f"line {clock.t}"], "1"))
        widget.draw()
    widget.finish("it failed")
    times = [t for t, _, _ in widget.sent]
    # 5 live at most, 1 to finish, and the cell's result or error makes 7.
    assert max_in_window([1000.0, *times]) + 1 <= 7
    assert "docker-magics-bar-danger" in widget.display_handle.records[0].bar


def buildkit_progress(name: str) -> list[tuple[int, int]]:
    recorder = BuildRecorder("t", builder="buildkit")
    parser = BuildKitParser()
    seen = []
    for line in (DATA / f"{name}.jsonl").read_text().splitlines():
        for event in parser.feed(json.loads(line)):
            recorder.handle(event)
            seen.append(recorder.progress())
    return seen


def test_a_buildkit_bar_counts_the_dockerfiles_steps():
    seen = buildkit_progress("bk-success")  # [1/4] .. [4/4], after internal steps
    assert seen[0] == (0, 0)  # nothing known: an empty bar, not a full one
    assert seen[-1] == (4, 4)
    fractions = [d / t for d, t in seen if t]
    assert fractions == sorted(fractions) and fractions[0] < 0.5
    assert (3, 4) in seen and (1, 4) in seen
    # Parallel stages; their shared FROM shows once, as stage-2's.
    seen = buildkit_progress("bk-parallel")
    assert seen[-1] == (7, 7)
    assert all(d < t for d, t in seen[:-1] if t and (d, t) != (7, 7))
    assert buildkit_progress("bk-cached")[-1] == (4, 4)


def recorded(name: str) -> list[ev.Event]:
    parser = ev.TransferParser()
    out = []
    for line in (DATA / f"{name}.jsonl").read_text().splitlines():
        out += parser.feed(json.loads(line))
    return out


def test_a_pulls_bar_only_moves_forward_downloads_then_extraction():
    recorder = TransferRecorder("pull", "127.0.0.1:5000/rec/layers:1")
    fractions, extracting = [], []
    for event in recorded("pull-fresh"):
        recorder.handle(event)
        fractions.append(recorder.fraction())
        if isinstance(event, ev.LayerProgress) and event.status == "Extracting":
            extracting.append(recorder.byte_progress())
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert 0.3 < fractions[len(fractions) // 2] < 0.9
    moved, extracted, size = recorder.byte_progress()
    assert moved == extracted == size == 1064347 + 3392 + 300281 + 200253
    # While a layer extracts, what was downloaded stays counted (it used to drop to the
    # extracted bytes).
    assert all(m >= e for m, e, _ in extracting)


def test_a_retry_countdown_is_one_line_per_retry():
    # Recorded: a push to a registry that answers 403 to uploads; the engine retries each
    # layer four times, counting down every second (5 s, 10 s, 15 s, 20 s).
    clock = Clock()
    recorder = TransferRecorder("push", "127.0.0.1:26001/rec/denied:1")
    streams = Streams(clock)
    text = TransferText(recorder, streams.out, streams.err, clock=clock)
    events = recorded("push-403")
    assert sum("Retrying" in getattr(e, "status", "") for e in events) == 100
    for event in events:
        clock.t += 0.5
        recorder.handle(event)
        text.handle(event)
        text.flush()
    text.finish("denied")
    lines = streams.text().splitlines()
    assert [line for line in lines if line.startswith("7bdfaaba5348")] == [
        "7bdfaaba5348: Preparing",
        "7bdfaaba5348: Retrying in 5 seconds",
        "7bdfaaba5348: Retrying in 10 seconds",
        "7bdfaaba5348: Retrying in 15 seconds",
        "7bdfaaba5348: Retrying in 20 seconds",
    ]
    assert len(lines) == 1 + 2 * 5 + 1  # the repository line, 2 layers, FAILED
    assert lines[-1].startswith("FAILED after ")
