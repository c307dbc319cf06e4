"""The HTML delivery report: one self-contained page a manager can read and forward.

Rendered from `templates/report.html.j2` by Jinja2 with autoescape on, so a contact variable
holding `<script>` is shown as text and never runs. Inline CSS and inline SVG charts (calls per
minute, call results, the answered rate); no scripts, fonts or images from the network. The page
is streamed (`Template.generate`), and the list of contacts needing attention (failed, unknown),
each with its reason, is capped at `ATTENTION_LIMIT` rows; the CSV report has them all.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

import jinja2
from sqlalchemy.orm import Session

from dialer.models import Campaign, ContactStatus
from dialer.reports.chart import chart
from dialer.reports.figures import DASH, report_figures
from dialer.reports.messages import Lang, Texts
from dialer.reports.outcome_charts import answered_rate_chart, dispositions_chart
from dialer.reports.rows import ContactRow, iter_contact_rows
from dialer.reports.summary import (
    calls_per_minute_series,
    campaign_summary,
    outcomes_per_minute_series,
)
from dialer.reports.zone import ShownZone, campaign_zone

ATTENTION = frozenset({ContactStatus.FAILED, ContactStatus.UNKNOWN})
ATTENTION_LIMIT = 1000


@functools.cache
def environment() -> jinja2.Environment:
    """The templates of the reports, autoescaped, shipped inside the package."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("dialer.reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@dataclass(frozen=True)
class AttentionRow:
    """A contact that needs a person's look, and why."""

    phone: str
    status: str
    attempts: int
    reason: str
    last_attempt: str
    external_id: str
    variables: str


def _attention(row: ContactRow, zone: ShownZone, texts: Texts) -> AttentionRow:
    if row["status"] == ContactStatus.UNKNOWN:
        reason = texts("reason.unknown")
    else:
        said = ": ".join(x for x in (row["error_mnemonic"], row["error_message"]) if x)
        reason = said or texts("reason.failed")
    return AttentionRow(
        phone=row["phone"],
        status=texts.status(row["status"]),
        attempts=row["attempts"],
        reason=reason,
        last_attempt=zone.show(row["last_attempt_at"], DASH),
        external_id=row["external_id"] or "",
        variables="; ".join(f"{k}: {v}" for k, v in row.variables.items()),
    )


def write_html(session: Session, campaign: Campaign, out: IO[str], lang: Lang = Lang.EN) -> None:
    """Write the campaign's HTML report to `out`."""
    texts = Texts(lang)
    zone = campaign_zone(campaign)
    summary = campaign_summary(session, campaign)
    need = summary.counts["failed"] + summary.counts["unknown"]
    attention: Iterator[AttentionRow] = (
        _attention(row, zone, texts)
        for row in iter_contact_rows(session, campaign.id, ATTENTION, limit=ATTENTION_LIMIT)
    )
    page = environment().get_template("report.html.j2")
    for chunk in page.generate(
        t=texts,
        lang=lang.value,
        campaign=campaign,
        started=zone.show(campaign.started_at, DASH),
        finished=zone.show(campaign.finished_at, DASH),
        figures=report_figures(campaign, summary, zone, texts),
        chart=chart(calls_per_minute_series(session, campaign.id), zone, texts),
        dispositions_chart=dispositions_chart(summary.dispositions, texts),
        answered_chart=answered_rate_chart(
            outcomes_per_minute_series(session, campaign.id), zone, texts
        ),
        statuses={texts.status(s): n for s, n in summary.counts.items()},
        dispositions={texts.disposition(d): n for d, n in summary.dispositions.items()},
        known=summary.outcome_known,
        errors=summary.errors,
        total=summary.total,
        failed=summary.counts["failed"],
        need=need,
        attention=attention,
        limit=ATTENTION_LIMIT,
    ):
        out.write(chunk)
