"""The figures of a report, as one list shared by every human-facing output (table and HTML).

Each figure is a label in the report's language and its value already written for a person:
times in the campaign's zone with the zone named, rates to two decimals, a dash for "none".
"""

from __future__ import annotations

from dataclasses import dataclass

from dialer.models import Campaign
from dialer.reports.messages import Texts
from dialer.reports.summary import Summary
from dialer.reports.zone import ShownZone

DASH = "—"


@dataclass(frozen=True)
class Figure:
    """One line of the report's overview."""

    key: str
    label: str
    value: str


def report_figures(
    campaign: Campaign, summary: Summary, zone: ShownZone, texts: Texts
) -> list[Figure]:
    """The overview figures of `campaign`, in the order every output shows them."""
    rate = summary.calls_per_minute
    values: list[tuple[str, object]] = [
        ("method", campaign.method),
        ("state", texts.state(campaign.state)),
        ("contacts", summary.total),
        ("attempts", summary.attempts),
        ("placed", summary.counts["placed"]),
        ("failed", summary.counts["failed"]),
        ("blacklisted", summary.counts["blacklisted"]),
        ("unknown", summary.counts["unknown"]),
        ("answered", summary.counts["answered"]),
        ("not_answered", summary.counts["not_answered"]),
        ("answered_rate_known", _rate(summary.answered, summary.outcome_known, texts)),
        ("answered_rate_called", _rate(summary.answered, summary.called, texts)),
        ("to_dial", summary.to_dial),
        ("first_call", zone.show(summary.first_call_at, DASH)),
        ("last_call", zone.show(summary.last_call_at, DASH)),
        ("rate", DASH if rate is None else f"{rate:.2f}"),
        ("zone", zone.label()),
    ]
    if campaign.pause_reason:
        values.insert(2, ("paused_because", campaign.pause_reason))
    return [Figure(key, texts(f"fig.{key}"), str(value)) for key, value in values]


def _rate(part: int, whole: int, texts: Texts) -> str:
    # The share with the counts behind it: "75.00% (3 of 4)"; a dash before any is known.
    if not whole:
        return DASH
    return texts("fig.share", percent=100.0 * part / whole, part=part, whole=whole)


def disposition_figures(summary: Summary, texts: Texts) -> list[Figure]:
    """Contacts by the disposition of their latest known call, every disposition, table order."""
    return [Figure(key, texts.disposition(key), str(n)) for key, n in summary.dispositions.items()]
