"""The one test clock: moved by hand, read as seconds since the epoch (the simulator, the clients)
or as an aware UTC datetime (the dialer); sleeping on it moves it."""

from __future__ import annotations

import datetime as dt


class Clock:
    """A clock the test moves by hand, shared by everything a test wants to agree on the time."""

    def __init__(self, start: float | dt.datetime = 1_700_000_000.0) -> None:
        self.now = start.timestamp() if isinstance(start, dt.datetime) else start

    def __call__(self) -> float:
        return self.now

    def utc(self) -> dt.datetime:
        """The time as an aware UTC datetime."""
        return dt.datetime.fromtimestamp(self.now, dt.UTC)

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds

    sleep = advance
