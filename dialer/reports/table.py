"""The summary of a campaign as rich tables for the terminal."""

from __future__ import annotations

from rich.console import Group
from rich.markup import escape
from rich.table import Table

from dialer.models import Campaign
from dialer.reports.summary import Summary, iso


def summary_table(campaign: Campaign, summary: Summary) -> Group:
    """The figures, the contacts per status and the failures by error, ready to print."""
    # Names and reasons come from files and the provider: escaped, never read as rich markup.
    figures = Table(title=escape(f"Campaign {campaign.name} ({campaign.state})"), show_header=False)
    figures.add_column("figure")
    figures.add_column("value", justify="right")
    rate = summary.calls_per_minute
    for label, value in (
        ("contacts", summary.total),
        ("attempts", summary.attempts),
        ("placed", summary.counts["placed"]),
        ("failed", summary.counts["failed"]),
        ("blacklisted", summary.counts["blacklisted"]),
        ("unknown", summary.counts["unknown"]),
        ("still to dial", summary.to_dial),
        ("first call (UTC)", iso(summary.first_call_at) or "-"),
        ("last call (UTC)", iso(summary.last_call_at) or "-"),
        ("calls per minute", "-" if rate is None else f"{rate:.2f}"),
    ):
        figures.add_row(label, str(value))
    if campaign.pause_reason:
        figures.add_row("paused because", escape(campaign.pause_reason))

    statuses = Table(title="Contacts per status")
    statuses.add_column("status")
    statuses.add_column("contacts", justify="right")
    for status, n in summary.counts.items():
        statuses.add_row(status, str(n))

    errors = Table(title="Failed, by error")
    errors.add_column("error")
    errors.add_column("contacts", justify="right")
    for mnemonic, n in summary.errors.items():
        errors.add_row(escape(mnemonic), str(n))
    return Group(figures, statuses, errors)
