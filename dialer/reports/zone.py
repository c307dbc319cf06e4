"""Times as a person reads them: in the campaign's zone (its `[window] timezone`), zone named.

Machine outputs (JSON, the standard CSV) keep ISO 8601 with offsets through `summary.iso`; every
human-facing output (table, HTML, Excel files, `campaign show`, `call show`) goes through here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dialer.models import Campaign
from dialer.options import DEFAULT_TIMEZONE, CampaignOptions
from dialer.windows import zone


@dataclass(frozen=True)
class ShownZone:
    """A time zone to show times in, by its IANA name."""

    name: str = DEFAULT_TIMEZONE

    @property
    def tz(self) -> ZoneInfo:
        """The zone itself."""
        return zone(self.name)

    def local(self, at: dt.datetime) -> dt.datetime:
        """`at` (aware, or naive UTC) in this zone."""
        if at.tzinfo is None:
            at = at.replace(tzinfo=dt.UTC)
        return at.astimezone(self.tz)

    def abbreviation(self, at: dt.datetime | None = None) -> str:
        """The zone's short name at `at` (now by default): `MSK`, or `+05` where none exists."""
        return self.local(at or dt.datetime.now(dt.UTC)).tzname() or self.name

    def label(self) -> str:
        """The zone named for a header: `Europe/Moscow (MSK)`."""
        return f"{self.name} ({self.abbreviation()})"

    def show(self, at: dt.datetime | None, empty: str = "—") -> str:
        """`2026-11-23 23:02:06 MSK`, or `empty` when there is no time."""
        if at is None:
            return empty
        local = self.local(at)
        return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()}"

    def clock(self, at: dt.datetime, now: dt.datetime) -> str:
        """`09:00 MSK`, or `2026-11-24 09:00 MSK` when `at` is not on `now`'s day in this zone."""
        local = self.local(at)
        today = self.local(now).date()
        day = "" if local.date() == today else f"{local:%Y-%m-%d} "
        return f"{day}{local:%H:%M} {local.tzname()}"


def campaign_zone(campaign: Campaign) -> ShownZone:
    """The campaign's calling-window zone, or `Europe/Moscow` when it names none or a bad one."""
    name = CampaignOptions.from_json(campaign.options).window.timezone or DEFAULT_TIMEZONE
    try:
        zone(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ShownZone()
    return ShownZone(name)
