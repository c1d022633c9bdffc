"""A run's output as it comes, bounded like the other progress views."""

from __future__ import annotations

from docker_magics.display.progress import ProgressText


class RunText(ProgressText):
    """The container's output as it comes, in the progress views' size budget (see
    :mod:`.progress`) with a larger burst, so a short script's output shows whole and a
    flood, however long, stays bounded: sampled lines, a note of what was skipped, and its
    last lines at the end. Everything is in the result."""

    BURST, RATE = 24_000, 3000
    END_LINES = 10

    def handle(self, event) -> None:
        lines = getattr(event, "lines", None)
        if lines:
            self.log(lines, self.err if event.stream == "stderr" else self.out)

    def finish(self, error: str | None, summary: str = "") -> None:
        self._stop()
        with self.lock:  # the end of the output; the error line, if any, is the caller's
            self._settle(close=True, ending=True)
            self._write(force=True)
        if summary:  # e.g. "(stopped following)"; a run's result says the rest itself
            print(summary, file=self.out)
