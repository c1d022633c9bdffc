"""How much progress a view may send.

Bounded by size, not by rate
----------------------------
Jupyter drops IOPub messages beyond 1000 msgs/s or 1 MB/s, and a notebook that received
megabytes of progress is slow to open and save. A rate limit alone does not bound that (10
updates a second for an hour is 36,000 messages), so every message a progress view sends
while the work runs, a widget update (header, bar, each panel: one message each) or a write
to stdout/stderr, is counted at its size on the wire, its content plus ``ENVELOPE`` bytes of
message around it, against two budgets:

- **Messages**: at most ``LIVE_MESSAGES`` (5) in any 1-second window, a sliding window of
  send times (a token bucket would let its burst *and* its rate through in one second). The
  end in ``finish()`` is not throttled but is counted in the same window: one message (the
  record that replaces the widgets), or one write per stream, so with the cell's error
  message the total stays within 10 in any second. Displaying the widget box counts too;
  *creating* the widgets (one ``comm_open`` per model, once per view) is not counted as
  messages, only as bytes.
- **Bytes**: a token bucket whose refill rate decays with elapsed time *t*:
  ``RATE / (1 + t/TAU)`` bytes per second, at most ``BURST`` saved up, so what is spent by
  time *t* is at most ``BURST + RATE*TAU*ln(1 + t/TAU)``. For the widgets that is 12 KB
  after 5 s, 20 KB after 30 s, 36 KB after 10 minutes, 46 KB after an hour; text, which
  creates no widgets, gets a fifth more. A step that starts earns ``STEP_BONUS`` (its
  header, bar and table updates), so a long Dockerfile still shows every transition; one
  step flooding 200,000 lines only has the time-based allowance. With the fixed costs
  (creating the widgets ~10 KB, displaying them, the final record ~4 KB, the cell's
  status messages ~4 KB) a flooding step stays under 64 KB over IOPub from 1 s to an
  hour.

What it looks like: a quick build shows every step; updates come a few times a second at
first and, once the early allowance is spent, thin out to a gap of about a fifth of the
elapsed time (every ~10 s after a minute, every minute after five): the elapsed time and the
latest log lines keep moving, less often. That is the price of a bounded size: every update
costs ~700 bytes of envelope whatever it carries, so 64 KB is about 90 updates in all.
Lines that must show are always written and counted (step headers, a failure, a step's last
``END_LINES`` lines when some were skipped); log lines are sampled in what is left:
``… N more lines`` then the latest ones. The full log is always in the result.
"""

from __future__ import annotations

import json
import math
import time
from collections import deque

# Bytes of an IOPub message around its content (header, parent header, signature, frames):
# measured 640-660 for a widget update and ~560 for a stream message; rounded up.
ENVELOPE = 700


# A little over a second: our clock and the kernel's message dates are read apart.
WINDOW = 1.05


def message_size(content) -> int:
    """What a message carrying ``content`` costs on the wire (JSON as Jupyter packs it)."""
    return ENVELOPE + len(json.dumps(content, ensure_ascii=False).encode())


class MessageWindow:
    """At most ``limit`` messages in any ``window`` seconds: the send times of the recent
    messages are kept, and one more may go only while fewer than ``limit`` are that recent.
    Forced messages (``record`` without asking) count too."""

    def __init__(self, limit: int, window: float = WINDOW, clock=time.monotonic) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self.sent: deque[float] = deque()

    def room(self) -> int:
        now = self.clock()
        while self.sent and now - self.sent[0] >= self.window:
            self.sent.popleft()
        return max(0, self.limit - len(self.sent))

    def record(self, n: int = 1) -> None:
        now = self.clock()
        self.sent.extend([now] * n)


class ByteBudget:
    """Bytes that may be sent: refilled at ``rate / (1 + t/tau)`` bytes/s (t: seconds since
    the start), at most ``burst`` saved up. By time t at most
    ``burst + rate*tau*ln(1 + t/tau)`` plus what was earned can be spent; ``charge`` (for
    what must be sent) may run into debt, repaid from later refills."""

    def __init__(self, burst: float, rate: float, tau: float, clock=time.monotonic) -> None:
        self.burst, self.rate, self.tau, self.clock = burst, rate, tau, clock
        self.started = clock()
        self.tokens = float(burst)
        self.allowed = 0.0  # the time-based allowance already added
        self.spent = 0.0

    def allowance(self, t: float) -> float:
        """The time-based bytes added by ``t`` seconds after the start."""
        return self.rate * self.tau * math.log1p(max(t, 0.0) / self.tau)

    def _refill(self) -> None:
        allowed = self.allowance(self.clock() - self.started)
        gained, self.allowed = allowed - self.allowed, allowed
        if self.tokens < self.burst:
            self.tokens = min(self.burst, self.tokens + gained)

    def available(self) -> float:
        self._refill()
        return self.tokens

    def spend(self, n: float) -> bool:
        """Take ``n`` bytes if there are that many."""
        self._refill()
        if self.tokens < n:
            return False
        self.tokens -= n
        self.spent += n
        return True

    def charge(self, n: float) -> None:
        self._refill()
        self.tokens -= n
        self.spent += n

    def earn(self, n: float) -> None:
        """More room for something worth showing (a step started): not capped by burst."""
        self._refill()
        self.tokens += n
