"""How long the provider takes to answer `start.*`, and the read timeout fitted to it.

A request that hangs holds its worker thread for the whole read timeout. With the configured
30 s, a few hung `start.*` requests occupy every thread while the points budget sits unused. The
read timeout of `start.*` is therefore fitted to the answers the provider really gives:

    timeout = clamp(factor × the 95th percentile of the recent answer times, floor, ceiling)

- `floor` keeps a normal provider from ever being cut (a few seconds, well above its answers);
  `ceiling` is the configured read timeout, which nothing exceeds.
- Until `least` answers are known, the ceiling holds: nothing is fitted to too few samples.
- A request that timed out is recorded at the timeout it had (all we know is "at least that").
  When more than 5 % of the recent requests time out, the percentile reaches the timeout, and
  the next one is `factor` times longer: a provider that became slow for everyone gets its
  timeout back within a few requests, up to the ceiling, rather than every request cut.

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
        self._seconds: deque[float] = deque(maxlen=keep)
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
        """An answer came after `seconds` (or a request timed out after them)."""
        with self._lock:
            self._seconds.append(max(seconds, 0.0))

    def timeout(self) -> float:
        """The read timeout for the next request."""
        with self._lock:
            if len(self._seconds) < self.least:
                return self.ceiling
            high = percentile(sorted(self._seconds), self.quantile)
        return min(max(self.factor * high, self.floor), self.ceiling)


def percentile(ordered: list[float], quantile: float) -> float:
    """The nearest-rank `quantile` of a sorted, non-empty list."""
    rank = max(math.ceil(quantile * len(ordered)), 1)
    return ordered[rank - 1]
