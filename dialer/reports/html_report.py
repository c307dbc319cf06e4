"""The HTML delivery report: one self-contained page a manager can read and forward.

Inline CSS and an inline SVG chart; no scripts, fonts or images from the network. Every value
from the database goes through `html.escape`, so a contact variable holding `<script>` is shown
as text and never runs. The list of contacts needing attention (failed, unknown) is capped at
`ATTENTION_LIMIT` rows; the CSV report has them all.
"""

from __future__ import annotations

from html import escape
from typing import IO, Any

from sqlalchemy.orm import Session

from dialer.models import Campaign, ContactStatus
from dialer.reports.chart import chart_svg
from dialer.reports.rows import ContactRow, iter_contact_rows
from dialer.reports.summary import (
    Summary,
    calls_per_minute_series,
    campaign_info,
    campaign_summary,
    iso,
)

ATTENTION = frozenset({ContactStatus.FAILED, ContactStatus.UNKNOWN})
ATTENTION_LIMIT = 1000

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em;color:#222}
h1{font-size:1.6em;margin-bottom:.2em} h2{font-size:1.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0} td,th{padding:.25em .7em;border-bottom:1px solid #ddd}
th{text-align:left;background:#f4f4f4} td.n{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#666} .chart text{font-size:11px;fill:#555} .axis{stroke:#999}
.bar{fill:#4a7bd0} .limit{stroke:#d04a4a;stroke-width:2;stroke-dasharray:6 4;fill:none}
.limit-key{color:#d04a4a} .meter{display:inline-block;height:.8em;background:#4a7bd0}
"""


def _text(value: Any) -> str:
    return "" if value is None else escape(str(value))


def _pairs_table(pairs: list[tuple[str, Any]]) -> str:
    body = "".join(f"<tr><th>{_text(k)}</th><td>{_text(v)}</td></tr>" for k, v in pairs)
    return f"<table>{body}</table>"


def _breakdown(title: str, counts: dict[str, int], total: int) -> str:
    if not counts:
        return f"<h2>{_text(title)}</h2><p class='muted'>None.</p>"
    rows = []
    for key, n in counts.items():
        width = round(200 * n / total) if total else 0
        rows.append(
            f"<tr><td>{_text(key)}</td><td class='n'>{n}</td>"
            f"<td><span class='meter' style='width:{width}px'></span></td></tr>"
        )
    head = f"<tr><th>{_text(title)}</th><th>contacts</th><th></th></tr>"
    return f"<h2>{_text(title)}</h2><table>{head}{''.join(rows)}</table>"


def _overview(info: dict[str, Any], summary: Summary) -> str:
    rate = summary.calls_per_minute
    return _pairs_table(
        [
            ("Method", info["method"]),
            ("State", info["state"]),
            ("Paused because", info["pause_reason"] or "—"),
            ("Contacts", summary.total),
            ("Placed", summary.counts["placed"]),
            ("Failed", summary.counts["failed"]),
            ("Blacklisted", summary.counts["blacklisted"]),
            ("Unknown (not confirmed either way)", summary.counts["unknown"]),
            ("Still to dial", summary.to_dial),
            ("API requests (attempts)", summary.attempts),
            ("First call (UTC)", iso(summary.first_call_at) or "—"),
            ("Last call (UTC)", iso(summary.last_call_at) or "—"),
            ("Calls per minute achieved", "—" if rate is None else f"{rate:.2f}"),
        ]
    )


def _attention_row(row: ContactRow) -> str:
    variables = "; ".join(f"{k}: {v}" for k, v in row.variables.items())
    cells = (
        row.phone,
        row.status,
        row.attempts,
        row.error_mnemonic,
        row.error_message,
        iso(row.last_attempt_at),
        row.external_id,
        variables,
    )
    return "<tr>" + "".join(f"<td>{_text(c)}</td>" for c in cells) + "</tr>\n"


def _write_attention(session: Session, campaign: Campaign, summary: Summary, out: IO[str]) -> None:
    need = summary.counts["failed"] + summary.counts["unknown"]
    out.write(f"<h2>Contacts that need attention ({need})</h2>\n")
    if not need:
        out.write("<p class='muted'>None: no failed or unconfirmed contacts.</p>\n")
        return
    heads = ("phone", "status", "attempts", "error", "message", "last attempt", "external_id")
    out.write("<table><tr>" + "".join(f"<th>{h}</th>" for h in (*heads, "variables")) + "</tr>\n")
    for row in iter_contact_rows(session, campaign.id, ATTENTION, limit=ATTENTION_LIMIT):
        out.write(_attention_row(row))
    out.write("</table>\n")
    if need > ATTENTION_LIMIT:
        out.write(f"<p class='muted'>The first {ATTENTION_LIMIT} of {need}; the CSV has all.</p>\n")


def write_html(session: Session, campaign: Campaign, out: IO[str]) -> None:
    """Write the campaign's HTML report to `out`."""
    info = campaign_info(campaign)
    summary = campaign_summary(session, campaign)
    title = f"Delivery report: {campaign.name}"
    out.write(
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_text(title)}</title><style>{CSS}</style></head><body>\n"
        f"<h1>{_text(title)}</h1>\n"
        f"<p class='muted'>Started {_text(info['started_at'] or '—')}, "
        f"finished {_text(info['finished_at'] or '—')} (UTC).</p>\n"
    )
    out.write(_overview(info, summary) + "\n")
    series = calls_per_minute_series(session, campaign.id)
    out.write("<h2>Calls per minute</h2>\n" + chart_svg(series) + "\n")
    out.write(_breakdown("By status", summary.counts, summary.total) + "\n")
    out.write(_breakdown("Failed, by error", summary.errors, summary.counts["failed"]) + "\n")
    _write_attention(session, campaign, summary, out)
    out.write("</body></html>\n")
