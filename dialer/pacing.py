"""The points budget of one provider account, shared by every process through one database row.

A reservation is taken, under the row's lock, right before each request and given back when the
request cost nothing (the provider charges successes only). The provider's `metadata.limits` in
every reply correct the row: our count never stays above what the provider says remains, and the
reset times are the provider's. The settings' limits are only the first guess.

The row is hot (every request of every process touches it), so it is only ever locked by the
tiny transactions of `take` and `settle`: nothing else happens while it is held.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dialer.callapi.limits import Limits
from dialer.db import transaction
from dialer.models import Budget

DAY_SECONDS = 86_400.0
# Two readings of the same window's reset differ by network latency; more than this is a new one.
SAME_WINDOW = dt.timedelta(seconds=1)
# A reading later than the row's reset by at most this is the same reset read with more latency;
# by more, it may be the provider's next window read before ours ended (windows of a second or
# two), and is taken as it is.
RESET_JITTER = dt.timedelta(milliseconds=250)


class Account(Protocol):
    """Whose budget: the row's key, and the first guesses until the provider's replies say.

    The settings are the Call API account's; the Data API has an account of its own.
    """

    @property
    def account_key(self) -> str: ...
    @property
    def minute_limit_guess(self) -> int: ...
    @property
    def day_limit_guess(self) -> int: ...
    @property
    def window_seconds_guess(self) -> float: ...


@dataclass(frozen=True)
class Reservation:
    """The answer to a request for points: granted, or when to ask again."""

    granted: bool
    window_reset_at: dt.datetime  # the minute window the points were taken from
    wait_until: dt.datetime | None = None
    reason: str | None = None  # "minute" or "day" when refused


def load(session: Session, settings: Account, now: dt.datetime, *, lock: bool = True) -> Budget:
    """The account's budget row, created from the settings' guesses on first use."""
    query = select(Budget).where(Budget.account == settings.account_key)
    if lock:
        query = query.with_for_update()
    budget = session.scalars(query).one_or_none()
    if budget is None:
        budget = _create(session, settings, now)
    return budget


def _create(session: Session, settings: Account, now: dt.datetime) -> Budget:
    # Concurrent first uses race to insert the row; the loser re-reads the winner's row.
    budget = Budget(
        account=settings.account_key,
        minute_limit=settings.minute_limit_guess,
        minute_remaining=settings.minute_limit_guess,
        minute_reset_at=now + dt.timedelta(seconds=settings.window_seconds_guess),
        day_limit=settings.day_limit_guess,
        day_remaining=settings.day_limit_guess,
        day_reset_at=now + dt.timedelta(seconds=DAY_SECONDS),
        window_seconds=settings.window_seconds_guess,
    )
    try:
        with session.begin_nested():
            session.add(budget)
    except IntegrityError:
        return session.scalars(
            select(Budget).where(Budget.account == settings.account_key).with_for_update()
        ).one()
    return budget


def roll(budget: Budget, now: dt.datetime) -> None:
    """Start new windows whose reset time has passed, refilled to their limits."""
    if now >= budget.minute_reset_at:
        budget.minute_remaining = budget.minute_limit
        budget.minute_reset_at = now + dt.timedelta(seconds=budget.window_seconds)
    if now >= budget.day_reset_at:
        budget.day_remaining = budget.day_limit
        budget.day_reset_at = now + dt.timedelta(seconds=DAY_SECONDS)


def minute_window(budget: Budget, now: dt.datetime) -> tuple[int, dt.datetime]:
    """Points left in the current minute window and when it resets, as `roll` would make them."""
    if now >= budget.minute_reset_at:
        return budget.minute_limit, now + dt.timedelta(seconds=budget.window_seconds)
    return budget.minute_remaining, budget.minute_reset_at


def day_remaining(budget: Budget, now: dt.datetime) -> int:
    """Points left today, as `roll` would make them."""
    return budget.day_limit if now >= budget.day_reset_at else budget.day_remaining


def available(budget: Budget, cost: int, now: dt.datetime) -> int:
    """How many requests of `cost` points the budget allows right now (reads, never writes)."""
    minute, _ = minute_window(budget, now)
    return max(0, min(minute, day_remaining(budget, now)) // max(cost, 1))


def reserve(budget: Budget, cost: int, now: dt.datetime) -> Reservation:
    """Take `cost` points for one request, or say when there will be enough."""
    roll(budget, now)
    if budget.day_remaining < cost:
        return Reservation(False, budget.minute_reset_at, budget.day_reset_at, "day")
    if budget.minute_remaining < cost:
        return Reservation(False, budget.minute_reset_at, budget.minute_reset_at, "minute")
    budget.minute_remaining -= cost
    budget.day_remaining -= cost
    return Reservation(True, budget.minute_reset_at)


def refund(budget: Budget, cost: int, reservation: Reservation, now: dt.datetime) -> None:
    """Give back points a request did not cost, if their window is still the current one."""
    roll(budget, now)
    if abs(budget.minute_reset_at - reservation.window_reset_at) <= SAME_WINDOW:
        budget.minute_remaining = min(budget.minute_limit, budget.minute_remaining + cost)
    budget.day_remaining = min(budget.day_limit, budget.day_remaining + cost)


def observe(budget: Budget, limits: Limits, observed_at: dt.datetime, now: dt.datetime) -> None:
    """Take the provider's numbers from a reply: its limits, what remains and when it resets.

    What remains, and the resets, only from a reply whose request left in the row's window (give
    or take `SAME_WINDOW`, the latencies by which the row's reset and a request's arrival differ
    from when they were read and sent): one sent earlier may have been counted in the window
    before, and its reset, counted from when the reply was read, then looks like this window's.
    (In the soak, 20-s answers in 5-s windows were read as the current window's and took up to
    90 of its 300 points from the row.)
    """
    read_reset = reset_was_read(budget)
    budget.minute_limit = limits.minute_limit
    budget.day_limit = limits.day_limit
    sent_at = observed_at - dt.timedelta(seconds=limits.read_in)
    if sent_at >= _window_start(budget) - SAME_WINDOW:
        budget.observed_at = observed_at
        minute_reset_at = observed_at + dt.timedelta(seconds=limits.minute_reset)
        day_reset_at = observed_at + dt.timedelta(seconds=limits.day_reset)
        budget.minute_remaining, budget.minute_reset_at = _merge(
            budget.minute_remaining,
            budget.minute_reset_at,
            limits.minute_remaining,
            minute_reset_at,
            now,
            earliest=read_reset,
        )
        budget.day_remaining, budget.day_reset_at = _merge(
            budget.day_remaining, budget.day_reset_at, limits.day_remaining, day_reset_at, now
        )
    budget.minute_remaining = min(budget.minute_remaining, budget.minute_limit)
    budget.day_remaining = min(budget.day_remaining, budget.day_limit)


def reset_was_read(budget: Budget) -> bool:
    """Whether the row's minute reset is a reading of the provider's (one taken in the current
    window), not our own guess from when we rolled the window."""
    return budget.observed_at is not None and budget.observed_at >= _window_start(budget)


def _window_start(budget: Budget) -> dt.datetime:
    return budget.minute_reset_at - dt.timedelta(seconds=budget.window_seconds)


def _merge(
    ours: int,
    our_reset: dt.datetime,
    theirs: int,
    their_reset: dt.datetime,
    now: dt.datetime,
    *,
    earliest: bool = False,
) -> tuple[int, dt.datetime]:
    """Merge one window's count: the provider's reset wins (the earliest of its readings of this
    reset when `earliest`: `our_reset` is one), and our count never exceeds theirs."""
    if their_reset <= now:
        # The reply describes a window that has ended since (it crossed a reset in flight).
        return ours, our_reset
    if their_reset > our_reset + SAME_WINDOW:
        # The provider is already in a later window than ours: its count is the whole truth.
        return theirs, their_reset
    # Same window (or our guess of its length was too long): reservations still in flight are in
    # our count and may not be in theirs, so the lower of the two is the safe one. Each reply's
    # reset time is late by its own way back (it is counted from when the reply was read), never
    # early, so the earliest reading is the closest that is still safe: taking the latest instead
    # would move the reset back and forth by the replies' latencies and leave the start of every
    # window unused for as long as the last reply took. Our own guess (from rolling the window
    # before the provider's began) may be early: a reading always replaces it; and a reading much
    # later than ours may be of the provider's next window, which must not be cut short.
    if earliest and our_reset <= their_reset <= our_reset + RESET_JITTER:
        return min(ours, theirs), our_reset
    return min(ours, theirs), their_reset


@contextmanager
def budget_transaction(engine: Engine) -> Iterator[Session]:
    """A transaction on the budget row alone, committed without waiting for the disk.

    The row is the one every request serializes on, so its commits must be quick; losing the
    last few milliseconds of budget bookkeeping in a database crash is harmless (the provider's
    numbers correct it with the next reply), unlike losing an attempt row.
    """
    with transaction(engine) as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SET LOCAL synchronous_commit TO OFF"))
        yield session


def take(engine: Engine, settings: Account, cost: int, now: dt.datetime) -> Reservation:
    """Reserve `cost` points in a transaction of its own."""
    with budget_transaction(engine) as session:
        return reserve(load(session, settings, now), cost, now)


def settle(
    engine: Engine,
    settings: Account,
    now: dt.datetime,
    limits: Limits | None,
    refund_of: tuple[int, Reservation] | None = None,
) -> None:
    """After a reply: take the provider's numbers, and give back what the request did not cost."""
    if limits is None and refund_of is None:
        return
    with budget_transaction(engine) as session:
        budget = load(session, settings, now)
        if limits is not None:
            observe(budget, limits, now, now)
        if refund_of is not None:
            refund(budget, *refund_of, now)
