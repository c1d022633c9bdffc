"""Pure: the progress views' budgets (a fake clock drives them), what they show for a flood,
a BuildKit build's bar, a pull's overall bar, retry countdowns, spilled logs, and words."""

from __future__ import annotations

import io

from docker_magics.builds.progress import BuildText, BuildWidget
from docker_magics.builds.result import BuildRecorder
from docker_magics.display import progress
from docker_magics.display.budget import ENVELOPE
from docker_magics.engine import events as ev
from docker_magics.errors import in_magic


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Streams:
    """stdout and stderr of a text view, each write kept with its time."""

    def __init__(self, clock) -> None:
        self.clock = clock
        self.writes: list[tuple[float, str, str]] = []
        self.out, self.err = self._stream("stdout"), self._stream("stderr")

    def _stream(self, name):
        streams = self

        class Stream(io.TextIOBase):
            def write(self, text):
                streams.writes.append((streams.clock(), name, text))
                return len(text)

        return Stream()

    def text(self) -> str:
        return "".join(t for _, _, t in self.writes)

    def wire_bytes(self) -> int:
        return sum(ENVELOPE + len(t.encode()) for _, _, t in self.writes)


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


def test_widgets_asked_for_without_a_notebook_fall_back_to_text_and_say_why():
    mode, why = progress.choose_mode("widget")  # no kernel here, called as the API is
    assert mode == "plain"
    assert why == "progress='widget' needs a notebook (Jupyter kernel): showing plain text"
    with in_magic():  # in a magic's words
        assert progress.choose_mode("widget")[1] == (
            "--progress widget needs a notebook (Jupyter kernel): showing plain text"
        )
    assert progress.choose_mode("auto") == ("plain", None)
    assert progress.choose_mode("none") == ("none", None)
    clock = Clock()
    streams = Streams(clock)
    renderer = progress.make_renderer(
        "widget",
        BuildRecorder("t"),
        lambda r: BuildText(r, streams.out, streams.err, clock=clock),
        BuildWidget,
    )
    assert isinstance(renderer, BuildText)
    renderer.start()
    renderer.finish(None, "Built")
    assert streams.text().splitlines()[0] == why
