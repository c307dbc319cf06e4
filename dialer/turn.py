"""What one contact's turn works with and comes to: the Dialer, a Plan, a Ticket, and a Turn.

`dialer.dialing` runs the turn, `dialer.attempts` records it, `dialer.lookup` confirms a call
whose answer was lost; these types are what they pass to each other.
"""

from __future__ import annotations

import datetime as dt
import enum
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import Engine

from dialer import pacing
from dialer.callapi.client import CallApiClient
from dialer.config import Settings
from dialer.db import utcnow
from dialer.lease import Lease
from dialer.retry import record_retrying

P = ParamSpec("P")
T = TypeVar("T")


@dataclass
class Dialer:
    """What dialing needs: settings, the database, a Call API client, and a clock."""

    settings: Settings
    engine: Engine
    client: CallApiClient
    now: Callable[[], dt.datetime] = utcnow
    sleep: Callable[[float], None] = time.sleep
    # A worker holding a wake-up waits this long at most for the budget's reset (a whole window
    # when windows are short: `dialing.inline_wait`); a longer wait hands the contact back to
    # the dispatcher instead of occupying the worker.
    max_inline_wait: float = 3.0
    # Points this process took ahead from the shared budget (see `dialer.lease`).
    lease: Lease = field(init=False)

    def __post_init__(self) -> None:
        self.lease = Lease(self.settings)

    def record(self, step: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a step that records what a request came to, through a short database outage
        (`retry.record_retrying`)."""
        return record_retrying(self.settings, self.sleep)(step, *args, **kwargs)


class Turn(enum.StrEnum):
    """What one wake-up (or one look-up the reconciler asked for) came to."""

    PLACED = "placed"
    FAILED = "failed"
    BLACKLISTED = "blacklisted"
    UNKNOWN = "unknown"
    CANCELLED = "cancelled"
    RESCHEDULED = "pending"  # the turn's tries ran out: the contact waits for a later one
    RATE_LIMITED = "rate limited"
    CAMPAIGN_PAUSED = "campaign paused"
    CAMPAIGN_NOT_RUNNING = "campaign not running"
    OUTSIDE_WINDOW = "outside calling window"
    WAITING_MINUTE = "waiting for the minute budget"
    WAITING_DAY = "waiting for the day budget"
    SKIPPED = "skipped"  # a duplicate or stale wake-up: the contact had moved on
    ALREADY_SETTLED = "already settled"  # the attempt to resolve had its answer already


@dataclass
class TurnResult:
    """What became of one `place_call`: how it ended, and the attempts it made."""

    status: Turn
    attempt_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Plan:
    """A contact found ready to dial, and the request it will get."""

    campaign_id: int
    method: str
    params: dict[str, Any]
    cost: int


@dataclass(frozen=True)
class Ticket:
    """A committed attempt, ready to be sent, with the points reserved for it."""

    attempt_id: int
    contact_id: int
    campaign_id: int
    method: str
    params: dict[str, Any]
    reservation: pacing.Reservation
    cost: int
