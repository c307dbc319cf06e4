"""Calling windows with fixed instants (no waiting): open, next opening, own zones."""

from __future__ import annotations

import datetime as dt

from dialer import windows
from dialer.options import Window

WORKDAYS = Window(days=(0, 1, 2, 3, 4), hours=((9 * 60, 13 * 60), (14 * 60, 21 * 60)))


def utc(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=dt.UTC)  # 2 March 2026 is a Monday


def test_open_inside_the_hours_in_the_campaign_zone() -> None:
    assert windows.is_open(WORKDAYS, utc(2, 6), "Europe/Moscow")  # 09:00 Moscow
    assert not windows.is_open(WORKDAYS, utc(2, 5, 59), "Europe/Moscow")
    assert not windows.is_open(WORKDAYS, utc(2, 10, 30), "Europe/Moscow")  # lunch, 13:30


def test_the_lunch_break_reopens_at_two() -> None:
    assert windows.next_opening(WORKDAYS, utc(2, 10, 30), "Europe/Moscow") == utc(2, 11)


def test_friday_evening_waits_for_monday_morning() -> None:
    friday_late = utc(6, 19)  # 22:00 Moscow on Friday
    assert windows.next_opening(WORKDAYS, friday_late, "Europe/Moscow") == utc(9, 6)


def test_a_contact_in_vladivostok_has_its_own_morning() -> None:
    own = Window(contact_timezone=True, hours=((9 * 60, 21 * 60),))
    at = utc(2, 6)  # 09:00 in Moscow, 16:00 in Vladivostok
    assert windows.zone_for(own, "Asia/Vladivostok") == "Asia/Vladivostok"
    assert windows.zone_for(own, None) == "Europe/Moscow"
    assert windows.is_open(own, at, "Asia/Vladivostok")
    late = utc(2, 12)  # 15:00 Moscow, 22:00 Vladivostok
    assert windows.is_open(own, late, "Europe/Moscow")
    assert not windows.is_open(own, late, "Asia/Vladivostok")
    assert windows.next_opening(own, late, "Asia/Vladivostok") == utc(2, 23)  # 09:00 next day


def test_a_window_that_never_opens_has_no_next_opening() -> None:
    never = Window(days=())
    assert windows.next_opening(never, utc(2, 6), "Europe/Moscow") is None


def test_daylight_saving_zones_use_local_wall_time() -> None:
    berlin = Window(timezone="Europe/Berlin", hours=((9 * 60, 10 * 60),))
    # 30 March 2026 is after the switch to summer time: 09:00 in Berlin is 07:00 UTC.
    monday = dt.datetime(2026, 3, 30, 7, 0, tzinfo=dt.UTC)
    assert windows.is_open(berlin, monday, "Europe/Berlin")
    assert not windows.is_open(berlin, monday - dt.timedelta(minutes=1), "Europe/Berlin")


def test_closes_at_the_end_of_the_current_range() -> None:
    assert windows.closes_at(WORKDAYS, utc(2, 7), "Europe/Moscow") == utc(2, 10)
    assert windows.closes_at(WORKDAYS, utc(2, 10, 30), "Europe/Moscow") is None
