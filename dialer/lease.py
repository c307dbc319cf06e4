"""A process's few points taken ahead from the shared budget row, so that most requests need no
transaction on it (`dialer.pacing` keeps the row itself).

While the window has plenty left, a process that has to go to the row takes a handful of points
more than the request needs and spends them on its next requests without asking again; near the
limit it takes exactly what each request costs, as if there were no lease. The points out in
leases are taken from the row, so the row never promises them twice: the account can be overspent
by no more than the leases outstanding, and only while hundreds of points remain, and the
provider's `metadata.limits` still correct the row. What a lease did not spend goes back to the
day's count when its window ends.

The provider's numbers are written to the row after a reply while little remains (unless they
would leave the row as this process last saw it: no lower, the same reset), when a reply speaks
of another window or other limits, and at least every `OBSERVE_EVERY` otherwise.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass

from sqlalchemy import Engine

from dialer import pacing
from dialer.callapi.limits import Limits
from dialer.models import Budget

# At most this many points are taken ahead (for requests of one point each)...
LEASE_MAX = 16
# ...and only while the row keeps this many times what is taken: near the limit, none ahead.
HEADROOM = 32
# Below this many points left (in the minute or the day), every reply's numbers are written.
OBSERVE_BELOW = 2 * HEADROOM * LEASE_MAX
# With more left, a process writes the provider's numbers at least this often.
OBSERVE_EVERY = dt.timedelta(seconds=1)
# A reply's reset read this much earlier than the row's is worth writing (`pacing.observe` keeps
# the earliest reading of a window); less is only the replies' latencies differing.
EARLIER_RESET = dt.timedelta(milliseconds=20)


@dataclass
class _Held:
    """Points taken ahead, and the windows they were taken from."""

    points: int = 0
    minute_reset_at: dt.datetime | None = None
    day_reset_at: dt.datetime | None = None


@dataclass
class _Row:
    """The row as this process last left it: what remained and when the minute resets."""

    minute_remaining: int
    day_remaining: int
    minute_reset_at: dt.datetime
    reset_read: bool  # the reset is the provider's reading, not our guess (`pacing.observe`)


@dataclass
class _Seen:
    """The provider's numbers this process last wrote to the row, and when."""

    written_at: dt.datetime | None = None
    minute_reset_at: dt.datetime | None = None
    limits: tuple[int, int] = (0, 0)


class Lease:
    """This process's points taken ahead from the account's row; shared by its threads."""

    def __init__(self, settings: pacing.Account) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        # One thread of the process at a time refills from the row: threads that all found the
        # lease empty (as every one does at a window's reset) would otherwise each take a lease's
        # worth, and the process would hoard many leases of points that other processes, the
        # ones holding the wake-ups, then lack until the window ends unspent.
        self._refill = threading.Lock()
        self._held = _Held()
        self._seen = _Seen()
        self._row: _Row | None = None

    def take_held(self, cost: int, now: dt.datetime) -> pacing.Reservation | None:
        """Reserve `cost` points from the lease alone (no database); None if it has too few."""
        with self._lock:
            held = self._held
            if held.minute_reset_at is None or now >= held.minute_reset_at or held.points < cost:
                return None
            held.points -= cost
            return pacing.Reservation(True, held.minute_reset_at)

    def take(self, engine: Engine, cost: int, now: dt.datetime) -> pacing.Reservation:
        """Reserve `cost` points: from the lease when it has them, else from the row."""
        reservation = self.take_held(cost, now)
        if reservation is not None:
            return reservation
        with self._refill:
            # Another thread may have refilled the lease while this one waited its turn.
            reservation = self.take_held(cost, now)
            if reservation is not None:
                return reservation
            return self._take_from_row(engine, cost, now)

    def _take_from_row(self, engine: Engine, cost: int, now: dt.datetime) -> pacing.Reservation:
        """Reserve `cost` points on the row, with a few ahead while it has plenty."""
        with self._lock:
            leftover, self._held = self._held, _Held()
        with pacing.budget_transaction(engine) as session:
            budget = pacing.load(session, self.settings, now)
            _give_back(budget, leftover, now)
            reservation = pacing.reserve(budget, cost, now)
            ahead = _ahead(budget, cost) if reservation.granted else 0
            budget.minute_remaining -= ahead
            budget.day_remaining -= ahead
            taken = _Held(ahead, budget.minute_reset_at, budget.day_reset_at)
            self._note_row(budget)
        if ahead:
            self._keep(taken)
        return reservation

    def refund(
        self, engine: Engine, cost: int, reservation: pacing.Reservation, now: dt.datetime
    ) -> None:
        """Give back points a request did not spend: to the lease when it is of their window."""
        with self._lock:
            held = self._held
            if held.points and held.minute_reset_at == reservation.window_reset_at:
                held.points += cost
                return
        pacing.settle(engine, self.settings, now, None, (cost, reservation))

    def settle(
        self,
        engine: Engine,
        now: dt.datetime,
        limits: Limits | None,
        refund_of: tuple[int, pacing.Reservation] | None = None,
    ) -> None:
        """After a reply: give back what it did not cost, and write its numbers when they matter."""
        if refund_of is not None:
            self.refund(engine, *refund_of, now)
        if limits is not None and self._worth_writing(limits, now):
            with pacing.budget_transaction(engine) as session:
                budget = pacing.load(session, self.settings, now)
                pacing.observe(budget, limits, now, now)
                self._note_row(budget)

    def release(self, engine: Engine, now: dt.datetime) -> None:
        """Give every point held back to the row (when the process stops)."""
        with self._lock:
            leftover, self._held = self._held, _Held()
        if leftover.points:
            with pacing.budget_transaction(engine) as session:
                budget = pacing.load(session, self.settings, now)
                _give_back(budget, leftover, now)

    def _keep(self, taken: _Held) -> None:
        """Add points taken ahead to the lease; points of an older window are given up."""
        with self._lock:
            held = self._held
            if held.points and held.minute_reset_at == taken.minute_reset_at:
                taken.points += held.points
            # Two threads may both have refilled; the second's leftover of the same window adds
            # up above, and a leftover of another window was already returned by its `take`.
            self._held = taken

    def _note_row(self, budget: Budget) -> None:
        """Remember the row as this process's transaction leaves it."""
        with self._lock:
            self._row = _Row(
                budget.minute_remaining,
                budget.day_remaining,
                budget.minute_reset_at,
                pacing.reset_was_read(budget),
            )

    def _worth_writing(self, limits: Limits, now: dt.datetime) -> bool:
        """Whether the provider's numbers could change what the row allows."""
        reset_at = now + dt.timedelta(seconds=limits.minute_reset)
        with self._lock:
            seen = self._seen
            due = (
                (
                    min(limits.minute_remaining, limits.day_remaining) < OBSERVE_BELOW
                    and not _agrees(self._row, limits, reset_at)
                )
                or seen.written_at is None
                or now - seen.written_at >= OBSERVE_EVERY
                or (limits.minute_limit, limits.day_limit) != seen.limits
                or seen.minute_reset_at is None
                or abs(reset_at - seen.minute_reset_at) > pacing.SAME_WINDOW
            )
            if due:
                self._seen = _Seen(now, reset_at, (limits.minute_limit, limits.day_limit))
        return due


def _agrees(row: _Row | None, limits: Limits, reset_at: dt.datetime) -> bool:
    """Whether writing a reply's numbers would leave the row as it is: the row (as this process
    last left it, and only lower since, as other processes take from it) already has no more
    left than the provider says, and the same reset, read no later than this reply's."""
    if row is None or not row.reset_read:
        return False
    return (
        limits.minute_remaining >= row.minute_remaining
        and limits.day_remaining >= row.day_remaining
        and row.minute_reset_at - EARLIER_RESET
        <= reset_at
        <= row.minute_reset_at + pacing.RESET_JITTER
    )


def _ahead(budget: Budget, cost: int) -> int:
    """Points to take beyond this request's: none unless the row keeps plenty."""
    spare = min(budget.minute_remaining, budget.day_remaining) // HEADROOM
    requests = min(LEASE_MAX // max(cost, 1), spare // max(cost, 1)) - 1
    return max(0, requests) * cost


def _give_back(budget: Budget, leftover: _Held, now: dt.datetime) -> None:
    """Return a lease's unspent points to the row: to each window's count while it lasts."""
    if not leftover.points:
        return
    pacing.roll(budget, now)
    if leftover.day_reset_at is not None and now < leftover.day_reset_at:
        budget.day_remaining = min(budget.day_limit, budget.day_remaining + leftover.points)
    if leftover.minute_reset_at is not None and now < leftover.minute_reset_at:
        same = abs(budget.minute_reset_at - leftover.minute_reset_at) <= pacing.SAME_WINDOW
        if same:
            budget.minute_remaining = min(
                budget.minute_limit, budget.minute_remaining + leftover.points
            )
