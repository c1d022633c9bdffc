"""The last lines of an output (a build step's, a run's), for the progress views and the
one-line errors.

The engine reads a process's stdout and stderr through two pipes and forwards each as it
reads it, so the two arrive interleaved in no reliable order: a RUN step that prints 15
lines and then its error on stderr often delivers the error first and the 15 lines after
it. A plain "last 10 lines" view then loses the error, the line that matters most. A
:class:`Tail` keeps the latest lines in arrival order *and* the latest lines of each stream,
so a view always holds each stream's real last lines (:meth:`Tail.view`), and
:meth:`Tail.cause` picks the line a one-line error should quote. Never imports docker.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable, Iterator

from docker_magics.display.logstore import TAIL

GAP = ("", "…")  # in a view: lines left out here
RECENT = 1.0  # seconds: stderr this close to the end is the end (the pipes' reordering)


class Tail:
    """The latest ``keep`` lines as ``(stream, line)`` pairs in arrival order (iterating
    gives them, as a ``deque`` of pairs would), and the latest ``keep`` of each stream."""

    def __init__(self, keep: int = TAIL, clock=time.monotonic) -> None:
        self.keep = keep
        self.clock = clock
        self.count = 0  # lines seen, the ones not kept included
        self._all: deque[tuple[int, str, str]] = deque(maxlen=keep)  # (number, stream, line)
        self._streams: dict[str, deque[tuple[int, str, float]]] = {}  # + arrival time

    def add(self, stream: str, lines: list[str]) -> None:
        """Lines that arrived together on ``stream`` (only the last ``keep`` are kept, all
        are counted)."""
        if not lines:
            return
        now = self.clock()
        first = self.count + len(lines) - min(len(lines), self.keep) + 1
        self.count += len(lines)
        kept = self._streams.setdefault(stream, deque(maxlen=self.keep))
        for number, line in enumerate(lines[-self.keep :], first):
            self._all.append((number, stream, line))
            kept.append((number, line, now))

    def extend(self, pairs: Iterable[tuple[str, str]]) -> None:
        """``(stream, line)`` pairs, as a deque of pairs takes them."""
        for stream, line in pairs:
            self.add(stream, [line])

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return ((stream, line) for _, stream, line in list(self._all))

    def __len__(self) -> int:
        return len(self._all)

    def __bool__(self) -> bool:
        return bool(self._all)

    def view(self, n: int, per_stream: int = 3) -> list[tuple[str, str]]:
        """At most ``n`` lines to show, in arrival order: the last ``per_stream`` lines of
        each stream whatever came after them, then the latest lines; ``GAP`` where lines
        are left out between two shown ones."""
        chosen: dict[int, tuple[str, str]] = {}
        each = min(per_stream, n // max(len(self._streams), 1))
        for stream, kept in self._streams.items():
            for number, line, _ in list(kept)[len(kept) - each :] if each else []:
                chosen[number] = (stream, line)
        for number, stream, line in reversed(list(self._all)):
            if len(chosen) >= n:
                break
            chosen.setdefault(number, (stream, line))
        shown: list[tuple[str, str]] = []
        previous = None
        for number in sorted(chosen):
            if previous is not None and number != previous + 1:
                shown.append(GAP)
            shown.append(chosen[number])
            previous = number
        return shown

    def cause(self) -> str | None:
        """The line a one-line error should quote: the last line on stderr if it came
        within ``RECENT`` seconds of the output's last line (a failing command says why on
        stderr, and may be overtaken there by stdout it printed before), else the last
        line. Blank lines do not count; None when there is no line."""
        written = {s: _last_written(lines) for s, lines in self._streams.items()}
        last = {s: found for s, found in written.items() if found is not None}
        if not last:
            return None
        latest = max(last.values(), key=lambda found: found[0])
        err = last.get("stderr")
        newest = max(t for lines in self._streams.values() for _, _, t in lines)
        if err is not None and newest - err[2] <= RECENT:
            return err[1].strip()
        return latest[1].strip()


def _last_written(lines: deque[tuple[int, str, float]]) -> tuple[int, str, float] | None:
    return next((found for found in reversed(lines) if found[1].strip()), None)
