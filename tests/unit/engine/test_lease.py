"""A process's lease of points: taken ahead only while plenty remains, never promised twice,
given back when unspent, and the provider's numbers written whenever they could matter."""

from __future__ import annotations

import threading

from pydantic import SecretStr
from sqlalchemy import Engine

from dialer import lease, pacing
from dialer.callapi.limits import Limits
from dialer.config import Settings, load_settings
from dialer.db import transaction
from dialer.models import Budget
from dialer.simulator import DEFAULT_ACCESS_TOKEN
from tests.clock import Clock

PLENTY = 100_000


def roomy(minute_limit: int = PLENTY) -> Settings:
    """Settings whose first guess leaves the row plenty of points (or `minute_limit`)."""
    return load_settings(
        callapi_url="http://simulator/v4.0",
        access_token=SecretStr(DEFAULT_ACCESS_TOKEN),
        minute_limit_guess=minute_limit,
        day_limit_guess=10 * PLENTY,
        backoff_enabled=False,
    )


def row(engine: Engine, settings: Settings, clock: Clock) -> Budget:
    with transaction(engine) as session:
        return pacing.load(session, settings, clock.utc(), lock=False)


def provider(minute_remaining: int, day_remaining: int = 10 * PLENTY) -> Limits:
    return Limits(
        day_limit=10 * PLENTY,
        day_remaining=day_remaining,
        day_reset=36_000.0,
        minute_limit=PLENTY,
        minute_remaining=minute_remaining,
        minute_reset=30.0,
    )


def test_with_plenty_left_a_few_points_are_taken_ahead_and_spent_without_the_row(
    sqlite_engine: Engine, clock: Clock
) -> None:
    settings = roomy()
    held = lease.Lease(settings)
    assert held.take(sqlite_engine, 1, clock.utc()).granted
    after_first = row(sqlite_engine, settings, clock)
    assert after_first.minute_remaining == PLENTY - lease.LEASE_MAX
    for _ in range(lease.LEASE_MAX - 1):
        assert held.take_held(1, clock.utc()) is not None
    assert held.take_held(1, clock.utc()) is None
    assert row(sqlite_engine, settings, clock).minute_remaining == PLENTY - lease.LEASE_MAX


def test_near_the_limit_each_request_takes_exactly_its_cost(
    sqlite_engine: Engine, settings: Settings, clock: Clock
) -> None:
    held = lease.Lease(settings)  # a limit of 10: far below the headroom a lease needs
    for taken in range(1, 11):
        assert held.take(sqlite_engine, 1, clock.utc()).granted
        assert row(sqlite_engine, settings, clock).minute_remaining == 10 - taken
        assert held.take_held(1, clock.utc()) is None
    refused = held.take(sqlite_engine, 1, clock.utc())
    assert (refused.granted, refused.reason) == (False, "minute")


def test_a_refund_goes_back_to_the_lease_of_its_window(sqlite_engine: Engine, clock: Clock) -> None:
    settings = roomy()
    held = lease.Lease(settings)
    reservation = held.take(sqlite_engine, 1, clock.utc())
    held.refund(sqlite_engine, 1, reservation, clock.utc())
    for _ in range(lease.LEASE_MAX):
        assert held.take_held(1, clock.utc()) is not None
    assert row(sqlite_engine, settings, clock).minute_remaining == PLENTY - lease.LEASE_MAX


def test_released_points_go_back_to_the_row(sqlite_engine: Engine, clock: Clock) -> None:
    settings = roomy()
    held = lease.Lease(settings)
    held.take(sqlite_engine, 1, clock.utc())
    held.release(sqlite_engine, clock.utc())
    budget = row(sqlite_engine, settings, clock)
    assert (budget.minute_remaining, budget.day_remaining) == (PLENTY - 1, 10 * PLENTY - 1)
    assert held.take_held(1, clock.utc()) is None


def test_the_leftover_of_an_ended_window_goes_back_to_the_day_only(
    sqlite_engine: Engine, clock: Clock
) -> None:
    settings = roomy()
    held = lease.Lease(settings)
    held.take(sqlite_engine, 1, clock.utc())
    clock.advance(settings.window_seconds_guess + 1)
    assert held.take_held(1, clock.utc()) is None  # the lease ended with its window
    held.take(sqlite_engine, 1, clock.utc())
    budget = row(sqlite_engine, settings, clock)
    # The new window is full but for this lease; the day lost only the two requests' points.
    assert budget.minute_remaining == PLENTY - lease.LEASE_MAX
    assert budget.day_remaining == 10 * PLENTY - 2 - lease.LEASE_MAX + 1


def test_the_providers_numbers_are_written_when_little_is_left_and_now_and_then_otherwise(
    sqlite_engine: Engine, clock: Clock
) -> None:
    settings = roomy()
    held = lease.Lease(settings)
    held.take(sqlite_engine, 1, clock.utc())
    held.settle(sqlite_engine, clock.utc(), provider(PLENTY - 20))
    assert row(sqlite_engine, settings, clock).minute_remaining == PLENTY - 20  # the first reply
    held.settle(sqlite_engine, clock.utc(), provider(PLENTY - 25))
    assert row(sqlite_engine, settings, clock).minute_remaining == PLENTY - 20  # plenty: skipped
    clock.advance(lease.OBSERVE_EVERY.total_seconds())
    held.settle(sqlite_engine, clock.utc(), provider(PLENTY - 25))
    assert row(sqlite_engine, settings, clock).minute_remaining == PLENTY - 25  # a second on
    low = lease.OBSERVE_BELOW - 1
    held.settle(sqlite_engine, clock.utc(), provider(low))
    assert row(sqlite_engine, settings, clock).minute_remaining == low  # little left: at once


def test_the_lease_never_grows_beyond_what_the_row_can_spare(
    sqlite_engine: Engine, clock: Clock
) -> None:
    limit = lease.HEADROOM * 3 + 1  # after one request, room for three requests' worth
    settings = roomy(minute_limit=limit)
    held = lease.Lease(settings)
    held.take(sqlite_engine, 1, clock.utc())
    assert row(sqlite_engine, settings, clock).minute_remaining == limit - 3
    held.release(sqlite_engine, clock.utc())
    held.take(sqlite_engine, 4, clock.utc())  # a heavier method: nothing ahead
    assert row(sqlite_engine, settings, clock).minute_remaining == limit - 1 - 4


def test_threads_that_all_find_the_lease_empty_refill_it_once(
    sqlite_engine: Engine, clock: Clock
) -> None:
    """At a window's reset every thread of a process finds the lease empty at once: one of them
    refills it, the others spend that, and the process does not take a lease per thread."""
    settings = roomy(minute_limit=300)
    held = lease.Lease(settings)
    row(sqlite_engine, settings, clock)  # the row exists before the rush
    threads = 8
    start = threading.Barrier(threads)
    granted: list[bool] = []

    def rush() -> None:
        start.wait()
        granted.append(held.take(sqlite_engine, 1, clock.utc()).granted)

    workers = [threading.Thread(target=rush) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)

    assert granted == [True] * threads
    taken = 300 - row(sqlite_engine, settings, clock).minute_remaining
    # One request's point and one lease: 300 // HEADROOM = 9 requests' worth, the first included.
    assert taken == 300 // lease.HEADROOM


def test_near_the_limit_a_reply_that_would_change_nothing_is_not_written(
    sqlite_engine: Engine, clock: Clock
) -> None:
    """The row already has no more left than the reply says (our reservations in flight are in
    it, not in the provider's count), and the same reset: nothing to write. A lower count is."""
    settings = roomy(minute_limit=300)
    held = lease.Lease(settings)

    def near(remaining: int, reset: float = 30.0) -> Limits:
        return Limits(
            day_limit=10 * PLENTY,
            day_remaining=10 * PLENTY,
            day_reset=36_000.0,
            minute_limit=300,
            minute_remaining=remaining,
            minute_reset=reset,
        )

    held.take(sqlite_engine, 1, clock.utc())
    held.settle(sqlite_engine, clock.utc(), near(299))  # the first reply: always written
    first = row(sqlite_engine, settings, clock)
    clock.advance(0.1)
    held.settle(sqlite_engine, clock.utc(), near(295, reset=29.95))
    assert row(sqlite_engine, settings, clock).observed_at == first.observed_at  # skipped
    held.settle(sqlite_engine, clock.utc(), near(first.minute_remaining - 5, reset=29.95))
    assert row(sqlite_engine, settings, clock).minute_remaining == first.minute_remaining - 5
    clock.advance(0.1)
    held.settle(sqlite_engine, clock.utc(), near(290, reset=29.5))  # an earlier reset reading
    assert row(sqlite_engine, settings, clock).minute_reset_at < first.minute_reset_at
