"""The account's points budget: a minute window and a day window, both fixed.

Each window starts at the first request that touches the budget and restarts every window length
after that (not sliding), which is what `*_reset` in `metadata.limits` counts down to.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dialer.callapi.limits import Limits


@dataclass
class Window:
    """One fixed window: its length, its limit, and what has been spent since it started."""

    length: float
    limit: int
    started: float | None = None
    spent: int = 0

    def roll(self, now: float, *, start: bool = True) -> None:
        """Start the window on first use (if `start`), or move it forward by whole lengths once
        it has ended."""
        if self.started is None:
            if start:
                self.started = now
            return
        elapsed = now - self.started
        if elapsed >= self.length:
            self.started += math.floor(elapsed / self.length) * self.length
            self.spent = 0

    def remaining(self) -> int:
        """Points left in this window."""
        return max(0, self.limit - self.spent)

    def reset_in(self, now: float) -> float:
        """Seconds until this window restarts."""
        started = now if self.started is None else self.started
        return max(0.0, round(started + self.length - now, 3))


class PointsBudget:
    """The minute and day windows together; not thread-safe (the simulator holds its lock)."""

    def __init__(self, minute_limit: int, day_limit: int, minute_len: float, day_len: float):
        self.minute = Window(minute_len, minute_limit)
        self.day = Window(day_len, day_limit)
        self.spent_total = 0

    def roll(self, now: float, *, start: bool = True) -> None:
        """Bring both windows up to `now`; `start=False` only looks, starting no window."""
        self.minute.roll(now, start=start)
        self.day.roll(now, start=start)

    def short_of(self, points: int) -> Window | None:
        """The window that cannot pay `points` now (minute first), or None when both can."""
        for window in (self.minute, self.day):
            if window.remaining() < points:
                return window
        return None

    def spend(self, points: int) -> None:
        """Take `points` from both windows (after a successful request only)."""
        self.minute.spent += points
        self.day.spent += points
        self.spent_total += points

    def limits(self, now: float) -> Limits:
        """The `metadata.limits` the provider would report now."""
        return Limits(
            day_limit=self.day.limit,
            day_remaining=self.day.remaining(),
            day_reset=self.day.reset_in(now),
            minute_limit=self.minute.limit,
            minute_remaining=self.minute.remaining(),
            minute_reset=self.minute.reset_in(now),
        )
