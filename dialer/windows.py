"""Calling windows: whether a moment falls inside a campaign's hours, and when they next open."""

from __future__ import annotations

import datetime as dt
import functools
from zoneinfo import ZoneInfo

from dialer.options import Window

_DAY = 24 * 60
_SEARCH_DAYS = 8  # a weekly schedule repeats, so a week and a day always finds the next opening


@functools.cache
def zone(name: str) -> ZoneInfo:
    """A cached ZoneInfo."""
    return ZoneInfo(name)


def zone_for(window: Window, contact_zone: str | None) -> str:
    """The zone that applies to a contact: its own when the campaign asks and it is known."""
    if window.contact_timezone and contact_zone:
        return contact_zone
    return window.timezone


def _minute_of_day(local: dt.datetime) -> int:
    return local.hour * 60 + local.minute


def is_open(window: Window, at: dt.datetime, zone_name: str) -> bool:
    """True when `at` (aware) falls inside the window in the given zone."""
    local = at.astimezone(zone(zone_name))
    if local.weekday() not in window.days:
        return False
    minute = _minute_of_day(local)
    return any(start <= minute < end for start, end in window.hours)


def next_opening(window: Window, at: dt.datetime, zone_name: str) -> dt.datetime | None:
    """The first moment at or after `at` inside the window (UTC); None if it never opens."""
    if is_open(window, at, zone_name):
        return at
    tz = zone(zone_name)
    local = at.astimezone(tz)
    for day_offset in range(_SEARCH_DAYS):
        day = (local + dt.timedelta(days=day_offset)).date()
        if day.weekday() not in window.days:
            continue
        for start, _end in sorted(window.hours):
            candidate = dt.datetime.combine(day, dt.time(), tzinfo=tz) + dt.timedelta(minutes=start)
            # Wall-clock arithmetic across a DST change can land on a skipped time; normalise it.
            candidate = candidate.astimezone(dt.UTC)
            if candidate > at and is_open(window, candidate, zone_name):
                return candidate
    return None
