"""The summary of a campaign as rich tables for the terminal."""

from __future__ import annotations

from rich.console import Group
from rich.markup import escape
from rich.table import Table

from dialer.models import Campaign
from dialer.reports.figures import disposition_figures, report_figures
from dialer.reports.messages import Texts
from dialer.reports.summary import Summary
from dialer.reports.zone import ShownZone, campaign_zone


def summary_table(
    campaign: Campaign,
    summary: Summary,
    texts: Texts | None = None,
    zone: ShownZone | None = None,
) -> Group:
    """The figures, the contacts per status and per call result, and the failures by error."""
    texts = texts or Texts()
    zone = zone or campaign_zone(campaign)
    # Names and reasons come from files and the provider: escaped, never read as rich markup.
    title = texts("report.table_title", name=campaign.name, state=texts.state(campaign.state))
    figures = Table(title=escape(title), show_header=False)
    figures.add_column("figure")
    figures.add_column("value", justify="right")
    for figure in report_figures(campaign, summary, zone, texts):
        figures.add_row(figure.label, escape(figure.value))

    statuses = Table(title=texts("report.by_status"))
    statuses.add_column(texts("report.status"))
    statuses.add_column(texts("report.count"), justify="right")
    for status, n in summary.counts.items():
        statuses.add_row(texts.status(status), str(n))

    dispositions = Table(title=texts("report.by_disposition"))
    dispositions.add_column(texts("report.disposition"))
    dispositions.add_column(texts("report.count"), justify="right")
    for figure in disposition_figures(summary, texts):
        dispositions.add_row(figure.label, figure.value)

    errors = Table(title=texts("report.by_error"))
    errors.add_column(texts("report.error"))
    errors.add_column(texts("report.count"), justify="right")
    for mnemonic, n in summary.errors.items():
        errors.add_row(escape(mnemonic), str(n))
    return Group(figures, statuses, dispositions, errors)
