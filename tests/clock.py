"""A clock for the simulator (seconds since the epoch) that a test moves by hand."""

from __future__ import annotations


class Clock:
    """A clock the test moves by hand, shared by the simulator and a client when they agree."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds
