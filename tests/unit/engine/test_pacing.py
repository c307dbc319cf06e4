"""The shared points budget: reservations, refunds, and the provider's numbers winning."""

from __future__ import annotations

import dataclasses
import datetime as dt

from dialer import pacing
from dialer.callapi.limits import Limits
from dialer.models import Budget

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def budget(remaining: int = 10, limit: int = 10, reset_in: float = 60.0) -> Budget:
    return Budget(
        account="acct",
        minute_limit=limit,
        minute_remaining=remaining,
        minute_reset_at=T0 + dt.timedelta(seconds=reset_in),
        day_limit=1000,
        day_remaining=1000,
        day_reset_at=T0 + dt.timedelta(hours=10),
        window_seconds=60.0,
    )


def limits(remaining: int, reset: float, limit: int = 10, day_remaining: int = 1000) -> Limits:
    return Limits(
        day_limit=1000,
        day_remaining=day_remaining,
        day_reset=36_000.0,
        minute_limit=limit,
        minute_remaining=remaining,
        minute_reset=reset,
    )


def seconds(n: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=n)


def test_reservations_stop_at_the_limit_and_name_the_reset() -> None:
    b = budget(remaining=2)
    assert pacing.reserve(b, 1, T0).granted
    assert pacing.reserve(b, 1, T0).granted
    refused = pacing.reserve(b, 1, T0)
    assert not refused.granted
    assert (refused.reason, refused.wait_until) == ("minute", seconds(60))
    assert (b.minute_remaining, b.day_remaining) == (0, 998)


def test_a_method_weight_is_taken_whole() -> None:
    b = budget(remaining=3)
    assert pacing.reserve(b, 2, T0).granted
    assert not pacing.reserve(b, 2, T0).granted
    assert pacing.available(b, 1, T0) == 1


def test_the_window_refills_at_its_reset() -> None:
    b = budget(remaining=0)
    assert pacing.available(b, 1, seconds(59)) == 0
    assert pacing.available(b, 1, seconds(60)) == 10
    assert pacing.minute_window(b, seconds(60)) == (10, seconds(120))
    assert b.minute_remaining == 0  # looking never writes: only reservations roll the window
    assert pacing.reserve(b, 1, seconds(60)).granted
    assert (b.minute_remaining, b.minute_reset_at) == (9, seconds(120))


def test_the_day_limit_refuses_with_the_day_reset() -> None:
    b = budget()
    b.day_remaining = 0
    refused = pacing.reserve(b, 1, T0)
    assert (refused.granted, refused.reason, refused.wait_until) == (False, "day", b.day_reset_at)


def test_a_refund_returns_points_only_within_the_same_window() -> None:
    b = budget(remaining=5)
    taken = pacing.reserve(b, 1, T0)
    pacing.refund(b, 1, taken, seconds(1))
    assert b.minute_remaining == 5
    late = pacing.reserve(b, 1, seconds(2))
    pacing.refund(b, 1, late, seconds(61))  # the window it came from is over
    assert b.minute_remaining == 10


def test_the_provider_count_wins_when_it_is_lower() -> None:
    b = budget(remaining=8)
    pacing.observe(b, limits(remaining=3, reset=40.0), seconds(20), seconds(20))
    assert (b.minute_remaining, b.minute_reset_at) == (3, seconds(60))


def test_our_count_stays_when_requests_are_in_flight() -> None:
    # We reserved 4 that the provider has not seen yet: its 8 would overspend.
    b = budget(remaining=4)
    pacing.observe(b, limits(remaining=8, reset=40.0), seconds(20), seconds(20))
    assert b.minute_remaining == 4


def test_a_shorter_window_than_guessed_is_learned_from_the_reset() -> None:
    b = budget(remaining=9)
    pacing.observe(b, limits(remaining=9, reset=5.0), T0, T0)
    assert b.minute_reset_at == seconds(5)
    assert pacing.available(b, 1, seconds(5)) == 10


def test_a_later_provider_window_replaces_ours() -> None:
    b = budget(remaining=0, reset_in=1.0)
    pacing.observe(b, limits(remaining=7, reset=59.0), T0, T0)
    assert (b.minute_remaining, b.minute_reset_at) == (7, seconds(59))


def test_a_reply_about_a_window_that_has_ended_is_ignored() -> None:
    b = budget(remaining=9)
    pacing.observe(b, limits(remaining=0, reset=0.5), T0, seconds(1))
    assert (b.minute_remaining, b.minute_reset_at) == (9, seconds(60))


def test_a_lower_limit_from_the_provider_caps_what_remains() -> None:
    b = budget(remaining=10, limit=10)
    pacing.observe(b, limits(remaining=4, reset=30.0, limit=4), T0, T0)
    assert (b.minute_limit, b.minute_remaining) == (4, 4)


def test_the_earliest_reading_of_a_reset_stands_in_its_window() -> None:
    """Each reply's reset is counted from when it was read, so it is late by the reply's way
    back: a slower reply later in the same window must not move the reset later."""
    b = budget(remaining=9)
    pacing.observe(b, limits(remaining=9, reset=40.0), seconds(20), seconds(20))
    slow = seconds(30.2)  # read 0.2 s after the provider counted its reset down from 29.8 s...
    pacing.observe(b, limits(remaining=8, reset=30.0), slow, slow)
    assert b.minute_reset_at == seconds(60)  # ...so 60.2 s would be 0.2 s of the window lost
    pacing.observe(b, limits(remaining=8, reset=29.7), seconds(30.1), seconds(30.1))
    assert b.minute_reset_at == seconds(59.8)  # an earlier reading is closer, and still safe


def test_a_reading_of_the_providers_next_short_window_is_taken_as_it_is() -> None:
    """With a window of a second, a reply counted in the provider's next window may arrive
    before our reset: its reset, a window later, must replace ours, or the row would start a
    window of its own at our reset in the middle of the provider's and overspend it."""
    b = budget(remaining=5, reset_in=1.0)
    pacing.observe(b, limits(remaining=5, reset=0.9), seconds(0.1), seconds(0.1))
    assert b.minute_reset_at == seconds(1.0)
    pacing.observe(b, limits(remaining=7, reset=1.0), seconds(0.95), seconds(0.95))
    assert (b.minute_remaining, b.minute_reset_at) == (5, seconds(1.95))


def test_our_own_guess_of_a_reset_gives_way_to_a_later_reading() -> None:
    """A window we rolled ourselves may have started before the provider's did (its first
    request came later): the provider's reading replaces our guess even when it is later."""
    b = budget(remaining=9)
    b.observed_at = seconds(-70)  # read in the window before: this reset is our guess
    pacing.observe(b, limits(remaining=9, reset=59.9), seconds(0.5), seconds(0.5))
    assert b.minute_reset_at == seconds(60.4)


def test_a_reply_sent_in_the_window_before_leaves_this_ones_count_alone() -> None:
    """A reply that took 20 s was counted by the provider in an earlier window; its reset, counted
    from when it was read, would look like this window's, and its count would take this
    window's points from the row."""
    b = budget(remaining=9)
    b.observed_at = seconds(0.2)
    stale = dataclasses.replace(limits(remaining=3, reset=59.0), read_in=20.0)
    pacing.observe(b, stale, seconds(1), seconds(1))
    assert (b.minute_remaining, b.minute_reset_at, b.observed_at) == (9, seconds(60), seconds(0.2))


def test_a_reply_sent_a_latency_before_the_rows_window_began_is_this_windows() -> None:
    """The row's reset is read late by a reply's way back, and a request the provider counted at
    its window's start left a latency before it: such a reply is this window's."""
    b = budget(remaining=9)
    just_before = dataclasses.replace(limits(remaining=3, reset=59.9), read_in=0.1)
    pacing.observe(b, just_before, seconds(0.05), seconds(0.05))
    assert b.minute_remaining == 3


def test_a_slow_reply_sent_in_this_window_is_taken() -> None:
    b = budget(remaining=9)
    slow = dataclasses.replace(limits(remaining=3, reset=40.0), read_in=15.0)
    pacing.observe(b, slow, seconds(20), seconds(20))
    assert b.minute_remaining == 3


def test_a_stale_reply_still_brings_its_limits() -> None:
    b = budget(remaining=9)
    stale = dataclasses.replace(limits(remaining=3, reset=59.0, limit=4), read_in=20.0)
    pacing.observe(b, stale, seconds(1), seconds(1))
    assert (b.minute_limit, b.minute_remaining) == (4, 4)
