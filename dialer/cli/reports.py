"""Reports, lookups and live status: `dialer report`, `dialer call show`, `dialer campaign show`
and `dialer campaign list`. Thin commands over `dialer.reports`; an unknown campaign or call id
exits with code 2 and one line on stderr."""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Annotated

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from dialer.campaigns import CampaignError, find_campaign
from dialer.cli.app import app, call_app, campaign_app
from dialer.cli.database import fail, open_database
from dialer.config import get_settings
from dialer.db import read_only, transaction
from dialer.models import Campaign
from dialer.reports.csv_report import write_csv
from dialer.reports.html_report import write_html
from dialer.reports.json_report import write_json
from dialer.reports.lookup import CallDetails, call_details
from dialer.reports.status import (
    CampaignStatus,
    campaign_progress,
    campaign_status,
    format_duration,
)
from dialer.reports.summary import campaign_summary, iso
from dialer.reports.table import summary_table


class Format(enum.StrEnum):
    """The report formats."""

    TABLE = "table"
    CSV = "csv"
    JSON = "json"
    HTML = "html"


@contextmanager
def _session() -> Iterator[Session]:
    # Reports only read: on SQLite they must not hold the write lock the workers need.
    with transaction(read_only(open_database())) as session:
        yield session


def _campaign(session: Session, name: str) -> Campaign:
    try:
        return find_campaign(session, name)
    except CampaignError as exc:
        fail(str(exc))


@contextmanager
def _output(path: Path | None) -> Iterator[IO[str]]:
    # Written beside the target and renamed at the end, so that a failed report leaves no
    # half-written file where the finished one is expected.
    if path is None:
        yield sys.stdout
        return
    partial = path.with_name(path.name + ".part")
    try:
        with partial.open("w", encoding="utf-8", newline="") as out:
            yield out
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(path)


@app.command("report")
def report(
    name: Annotated[str, typer.Argument(help="The campaign's name.")],
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.TABLE,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Print or write the delivery report of a campaign."""
    with _session() as session:
        campaign = _campaign(session, name)
        with _output(output) as out:
            _write_report(session, campaign, fmt, out, wide=output is not None)


def _write_report(
    session: Session, campaign: Campaign, fmt: Format, out: IO[str], wide: bool
) -> None:
    if fmt is Format.TABLE:
        console = Console(file=out, width=100 if wide else None)
        console.print(summary_table(campaign, campaign_summary(session, campaign)))
    elif fmt is Format.CSV:
        write_csv(session, campaign, out)
    elif fmt is Format.JSON:
        write_json(session, campaign, out)
    else:
        write_html(session, campaign, out)


def _print_call(details: CallDetails) -> None:
    # Plain lines, not a table: ids must come out whole whatever the terminal's width, and
    # text from the database must not be read as rich markup.
    contact, campaign = details.contact, details.campaign
    lines = [
        f"Campaign: {campaign['name']} ({campaign['state']}, {campaign['method']})",
        f"Contact: {contact['phone']}  status {contact['status']}  attempts {contact['attempts']}"
        + (f"  error {contact['error_mnemonic']}" if contact["error_mnemonic"] else ""),
        *(f"  {key}: {value}" for key, value in contact["variables"].items()),
        f"Attempts ({len(details.attempts)}; * = the one asked for):",
    ]
    for n, a in enumerate(details.attempts, 1):
        marker = "*" if a.external_id == details.matched.external_id else " "
        lines.append(
            f"{marker} {n}. {iso(a.requested_at)}  {a.outcome}  external_id {a.external_id}"
            + (f"  call_session_id {a.call_session_id}" if a.call_session_id else "")
            + (f"  answered {iso(a.answered_at)}" if a.answered_at else "")
        )
        if a.error_mnemonic or a.error_message:
            code = "" if a.error_code is None else f" {a.error_code}"
            lines.append(f"     error{code} {a.error_mnemonic or ''}: {a.error_message or ''}")
    typer.echo("\n".join(lines))


@call_app.command("show")
def show_call(
    key: Annotated[str, typer.Argument(help="The attempt's external_id or call_session_id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a call, its contact, its campaign and every attempt of that contact."""
    with _session() as session:
        details = call_details(session, key)
    if details is None:
        fail(f"no call with external_id or call_session_id {key!r}")
    if as_json:
        typer.echo(json.dumps(details.as_dict(), ensure_ascii=False, indent=2))
    else:
        _print_call(details)


def _print_status(status: CampaignStatus) -> None:
    lines = [
        f"Campaign: {status.name} ({status.method})",
        f"State: {status.state}"
        + (f" (paused: {status.pause_reason})" if status.pause_reason else ""),
    ]
    if status.waiting_reason:
        until = iso(status.waiting_until) or "further notice"
        lines.append(f"Waiting: {status.waiting_reason} until {until}")
    lines.append(f"Progress: {status.done}/{status.total} ({status.percent:.1f}%)")
    lines.append("Counts: " + ", ".join(f"{k} {v}" for k, v in status.counts.items()))
    lines.append(
        f"Calls per minute: {status.calls_per_minute:.2f} (last {status.recent_minutes:g} min)"
    )
    if status.budget:
        b = status.budget
        lines.append(
            f"Points left: {b.minute_remaining}/{b.minute_limit} this minute, "
            f"{b.day_remaining}/{b.day_limit} today (as of {iso(b.observed_at) or 'unknown'})"
        )
    if status.eta_seconds is not None:
        lines.append(f"Time to finish: {format_duration(status.eta_seconds)} ({status.eta_basis})")
    typer.echo("\n".join(lines))


@campaign_app.command("show")
def show_campaign(
    name: Annotated[str, typer.Argument(help="The campaign's name.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a campaign's live status: state, counts, pace, budget and time to finish."""
    settings = get_settings()
    with _session() as session:
        campaign = _campaign(session, name)
        status = campaign_status(
            session,
            campaign,
            account=settings.account_key,
            cost=settings.cost(campaign.method),
        )
    if as_json:
        typer.echo(json.dumps(status.as_dict(), ensure_ascii=False, indent=2))
    else:
        _print_status(status)


@campaign_app.command("list")
def list_campaigns(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List every campaign with its state and progress, one line each."""
    with _session() as session:
        progress = campaign_progress(session)
    if as_json:
        typer.echo(json.dumps([p.as_dict() for p in progress], ensure_ascii=False, indent=2))
        return
    if not progress:
        typer.echo("No campaigns.")
    width = max((len(p.name) for p in progress), default=0)
    for p in progress:
        typer.echo(f"{p.name:<{width}}  {p.state:<9}  {p.done}/{p.total} ({p.percent:.1f}%)")
