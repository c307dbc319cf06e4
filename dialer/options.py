"""The optional sections of a campaign: calling windows, retries, a pace cap, contacts' countries.

Parsed from the campaign file by `dialer.campaigns`, stored as JSON on `Campaign.options`, and read
by the dispatcher and the dialing engine through `CampaignOptions.from_json`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_TIMEZONE = "Europe/Moscow"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Window:
    """When contacts may be called: weekdays (0 = Monday) and minute-of-day ranges [start, end)."""

    timezone: str = DEFAULT_TIMEZONE
    contact_timezone: bool = False  # use each contact's own zone (from its number) when known
    days: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)
    hours: tuple[tuple[int, int], ...] = ((0, 24 * 60),)


@dataclass(frozen=True)
class Retry:
    """How many rounds a contact gets (the file's `attempts`), and the delays (seconds) between
    them; the last delay repeats.

    `busy` and `no_answer` are the redial delays after a call with that result; None: no redial.
    """

    rounds: int = 3
    delays: tuple[float, ...] = (600.0,)
    busy: float | None = None
    no_answer: float | None = None

    def schedule_in(self, rounds_done: int) -> float | None:
        """Seconds until the next round after `rounds_done` rounds, or None when none is left."""
        if rounds_done >= self.rounds:
            return None
        index = min(max(rounds_done, 1), len(self.delays)) - 1
        return self.delays[index]

    def redial_in(self, result: str, rounds_done: int) -> float | None:
        """Seconds until a redial after a call that was `busy` or `no_answer`, or None when that
        result is not redialed or no round is left."""
        delay = {"busy": self.busy, "no_answer": self.no_answer}.get(result)
        if delay is None or rounds_done >= self.rounds:
            return None
        return delay


@dataclass(frozen=True)
class Pace:
    """A campaign's own cap, below the account's points limit."""

    calls_per_minute: int | None = None


@dataclass(frozen=True)
class Contacts:
    """Which countries' numbers the campaign calls without a warning at import (ISO codes).

    Empty: only the country the import reads numbers in (its `--region`).
    """

    countries: tuple[str, ...] = ()


@dataclass(frozen=True)
class CampaignOptions:
    """Everything about a campaign that is not an API parameter."""

    window: Window = field(default_factory=Window)
    retry: Retry = field(default_factory=Retry)
    pace: Pace = field(default_factory=Pace)
    contacts: Contacts = field(default_factory=Contacts)

    def to_json(self) -> dict[str, Any]:
        """The JSON stored on `Campaign.options`."""
        return {
            "window": {
                "timezone": self.window.timezone,
                "contact_timezone": self.window.contact_timezone,
                "days": list(self.window.days),
                "hours": [list(h) for h in self.window.hours],
            },
            "retry": {
                "rounds": self.retry.rounds,
                "delays": list(self.retry.delays),
                "busy": self.retry.busy,
                "no_answer": self.retry.no_answer,
            },
            "pace": {"calls_per_minute": self.pace.calls_per_minute},
            "contacts": {"countries": list(self.contacts.countries)},
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any] | None) -> CampaignOptions:
        """Read what `to_json` wrote; missing sections take their defaults."""
        raw = raw or {}
        w = raw.get("window") or {}
        r = raw.get("retry") or {}
        p = raw.get("pace") or {}
        window = Window(
            timezone=w.get("timezone", DEFAULT_TIMEZONE),
            contact_timezone=bool(w.get("contact_timezone", False)),
            days=tuple(w.get("days", Window.days)),
            hours=tuple((int(a), int(b)) for a, b in w.get("hours", Window.hours)),
        )
        retry = Retry(
            rounds=int(r.get("rounds", Retry.rounds)),
            delays=tuple(float(d) for d in r.get("delays", Retry.delays)),
            busy=_float_or_none(r.get("busy")),
            no_answer=_float_or_none(r.get("no_answer")),
        )
        c = raw.get("contacts") or {}
        return cls(
            window=window,
            retry=retry,
            pace=Pace(calls_per_minute=p.get("calls_per_minute")),
            contacts=Contacts(countries=tuple(c.get("countries", ()))),
        )


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)
