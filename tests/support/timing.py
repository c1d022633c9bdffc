"""For the progress views' rate and size budgets, measured without waiting: a clock the
test moves by hand, text streams that keep each write with its time, and the most events
that fell within any window of time (as the IOPub rate limit counts them)."""

from __future__ import annotations

import io

from docker_magics.display.budget import ENVELOPE


class Clock:
    """A clock that stands still until the test moves ``t``."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def max_in_window(times: list[float], window: float = 1.0) -> int:
    """The most of ``times`` within any ``window`` seconds (a sliding window)."""
    times = sorted(times)
    most = start = 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        most = max(most, end - start + 1)
    return most


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
