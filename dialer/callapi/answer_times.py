"""How long the provider takes to answer `start.*`, and the read timeout fitted to it.

A request that hangs holds its worker thread for the whole read timeout. With the configured
30 s, a few hung `start.*` requests occupy every thread while the points budget sits unused. The
read timeout of `start.*` is therefore fitted to the answers the provider really gives:

    timeout = clamp(factor × the 95th percentile of the recent answer times, floor, ceiling)

- `floor` keeps a normal provider from ever being cut (a few seconds, well above its answers);
  `ceiling` is the configured read timeout, which nothing exceeds.
- Until `least` requests are known, the ceiling holds: nothing is fitted to too few samples.
- The percentile is of the requests that were answered. A request that timed out says only
  "at least the timeout", so it is counted, not fitted: while no more than a fifth of the recent
  requests time out, they are a few hung answers and cost only themselves. When more do, the
  provider has become slow for many, and the ceiling holds until it answers in time again.
  (Fitting the cuts too would lift the timeout whenever a steady 3 % of hung answers reached the
  percentile's 5 % by chance, and the hung ones would then hold their threads for it, in bursts.)

A cut `start.*` is ambiguous (the call may exist) and goes to the `list.calls` look-up, as any
lost answer does, so a shorter timeout never dials anyone twice. One instance per process, shared
by its threads (it is thread-safe).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

QUANTILE = 0.95
# Answers remembered: enough for a stable 95th percentile, few enough to follow a change.
KEEP = 200
LEAST = 20
# The share of recent requests timed out above which the provider is slow for many, not hung for
# a few: far above a steady few percent of hung answers, even by chance, over KEEP requests.
SLOW_FOR_MANY = 0.2


class AnswerTimes:
    """Recent answer times of one kind of request, and the read timeout fitted to them."""

    def __init__(
        self,
        *,
        floor: float,
        ceiling: float,
        factor: float = 4.0,
        quantile: float = QUANTILE,
        keep: int = KEEP,
        least: int = LEAST,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.floor = min(floor, ceiling)
        self.ceiling = ceiling
        self.factor = factor
        self.quantile = quantile
        self.least = least
        self.clock = clock
        # (seconds, cut): how long each recent request took, and whether it timed out.
        self._seconds: deque[tuple[float, bool]] = deque(maxlen=keep)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"AnswerTimes(timeout={self.timeout():.1f}, floor={self.floor}, "
            f"ceiling={self.ceiling}, samples={len(self)})"
        )

    def __len__(self) -> int:
        with self._lock:
            return len(self._seconds)

    def record(self, seconds: float) -> None:
        """An answer came after `seconds`."""
        with self._lock:
            self._seconds.append((max(seconds, 0.0), False))

    def record_cut(self, seconds: float) -> None:
        """A request timed out after `seconds`."""
        with self._lock:
            self._seconds.append((max(seconds, 0.0), True))

    def timeout(self) -> float:
        """The read timeout for the next request."""
        with self._lock:
            if len(self._seconds) < self.least:
                return self.ceiling
            answered = sorted(seconds for seconds, cut in self._seconds if not cut)
            cuts = len(self._seconds) - len(answered)
        if not answered or cuts > SLOW_FOR_MANY * (cuts + len(answered)):
            return self.ceiling
        high = percentile(answered, self.quantile)
        return min(max(self.factor * high, self.floor), self.ceiling)


def percentile(ordered: list[float], quantile: float) -> float:
    """The nearest-rank `quantile` of a sorted, non-empty list."""
    rank = max(math.ceil(quantile * len(ordered)), 1)
    return ordered[rank - 1]
