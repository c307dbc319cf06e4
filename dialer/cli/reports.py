"""Reports, lookups and live status: `dialer report`, `dialer call show`, `dialer campaign show`
and `dialer campaign list`. Thin commands over `dialer.reports`; an unknown campaign or call id,
or an output file that cannot be written, exits with code 2 and one line on stderr.

Every human-facing text comes in the language of `--lang` (or `DIALER_LANG`), with times in the
campaign's zone, named; `--json` and the standard CSV stay ISO 8601 with offsets."""

from __future__ import annotations

import datetime as dt
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
from dialer.cli.app import LangOption, app, call_app, campaign_app
from dialer.cli.database import fail, open_database
from dialer.config import get_settings
from dialer.db import read_only, transaction
from dialer.models import Campaign
from dialer.reports.csv_report import CsvDialect, write_csv
from dialer.reports.html_report import write_html
from dialer.reports.json_report import write_json
from dialer.reports.lookup import (
    AttemptView,
    CallDetails,
    PhoneHistory,
    call_details,
    phone_history,
)
from dialer.reports.messages import Lang, Texts
from dialer.reports.status import (
    CampaignStatus,
    campaign_progress,
    campaign_status,
    format_duration,
)
from dialer.reports.summary import campaign_summary
from dialer.reports.table import summary_table
from dialer.reports.xlsx_report import write_xlsx
from dialer.reports.zone import ShownZone


class Format(enum.StrEnum):
    """The report formats."""

    TABLE = "table"
    CSV = "csv"
    JSON = "json"
    HTML = "html"
    XLSX = "xlsx"


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


def _writable(path: Path, texts: Texts) -> None:
    # Checked before any query runs, so that a typo in the folder costs nothing and says so.
    folder = path.parent
    if not folder.is_dir():
        fail(texts("error.no_dir", path=str(path), folder=str(folder)))
    if path.is_dir():
        fail(texts("error.not_writable", path=str(path), reason="it is a folder"))


@contextmanager
def _partial(path: Path, texts: Texts) -> Iterator[Path]:
    # Written beside the target and renamed at the end, so that a failed report leaves no
    # half-written file where the finished one is expected.
    partial = path.with_name(path.name + ".part")
    try:
        yield partial
        partial.replace(path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        fail(texts("error.not_writable", path=str(path), reason=exc.strerror or exc))
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


@contextmanager
def _output(path: Path | None, texts: Texts) -> Iterator[IO[str]]:
    if path is None:
        yield sys.stdout
        return
    with _partial(path, texts) as partial, partial.open("w", encoding="utf-8", newline="") as out:
        yield out


@app.command("report")
def report(
    name: Annotated[str, typer.Argument(help="The campaign's name.")],
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.TABLE,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    dialect: Annotated[
        CsvDialect | None,
        typer.Option(
            "--dialect",
            help="CSV for programs (standard: ',', ISO 8601) or for Russian Excel (excel-ru: ';', "
            "local times, phones as text). Default: excel-ru with --lang ru, else standard.",
        ),
    ] = None,
    lang: LangOption = Lang.EN,
) -> None:
    """Print or write the delivery report of a campaign."""
    texts = Texts(lang)
    if fmt is Format.XLSX and output is None:
        fail(texts("error.xlsx_stdout"))
    if output is not None:
        _writable(output, texts)
    if dialect is None:
        dialect = CsvDialect.EXCEL_RU if lang is Lang.RU else CsvDialect.STANDARD
    with _session() as session:
        campaign = _campaign(session, name)
        if fmt is Format.XLSX:
            assert output is not None  # checked above
            with _partial(output, texts) as partial:
                write_xlsx(session, campaign, partial, texts)
            return
        with _output(output, texts) as out:
            if fmt is Format.TABLE:
                console = Console(file=out, width=100 if output is not None else None)
                summary = campaign_summary(session, campaign)
                console.print(summary_table(campaign, summary, texts))
            elif fmt is Format.CSV:
                write_csv(session, campaign, out, dialect)
            elif fmt is Format.JSON:
                write_json(session, campaign, out)
            else:
                write_html(session, campaign, out, lang)


def _attempt_line(a: AttemptView, zone: ShownZone, texts: Texts) -> str:
    # "Answered" is said only of a person picking up; the API's reply is "request answered".
    line = (
        f"{zone.show(a.requested_at)}  {texts.outcome(a.outcome)}  external_id {a.external_id}"
        + (f"  call_session_id {a.call_session_id}" if a.call_session_id else "")
        + (texts("call.replied", at=zone.show(a.replied_at)) if a.replied_at else "")
    )
    outcome = _outcome_line(a, zone, texts)
    if outcome:
        line += f"\n     {outcome}"
    if a.error_mnemonic or a.error_message:
        code = "" if a.error_code is None else f" {a.error_code}"
        line += f"\n     error{code} {a.error_mnemonic or ''}: {a.error_message or ''}"
    return line


def _outcome_line(a: AttemptView, zone: ShownZone, texts: Texts) -> str:
    # The call's end as the provider reported it, or why it is not known.
    if a.disposition is None:
        return texts(f"call.report_{a.report_status}") if a.report_status else ""
    parts = [texts("call.outcome", disposition=texts.disposition(a.disposition))]
    if a.finish_reason:
        parts.append(f"finish_reason {a.finish_reason}")
    if a.call_answered is not None:
        parts.append(texts("call.picked_up" if a.call_answered else "call.not_picked_up"))
    if a.listened_seconds is not None:
        parts.append(texts("call.listened", seconds=a.listened_seconds))
    if a.call_finished_at is not None:
        parts.append(texts("call.finished", at=zone.show(a.call_finished_at)))
    return ", ".join(parts)


def _print_call(details: CallDetails, texts: Texts) -> None:
    # Plain lines, not a table: ids must come out whole whatever the terminal's width, and
    # text from the database must not be read as rich markup.
    contact, campaign, zone = details.contact, details.campaign, details.zone
    lines = [
        texts(
            "call.campaign",
            name=campaign["name"],
            state=texts.state(campaign["state"]),
            method=campaign["method"],
        ),
        texts("call.contact", **contact)
        + (
            texts("call.error", error=contact["error_mnemonic"])
            if contact["error_mnemonic"]
            else ""
        ),
        *(f"  {key}: {value}" for key, value in contact["variables"].items()),
        texts("show.times_in", zone=zone.label()),
        texts("call.attempts", n=len(details.attempts)),
    ]
    for n, a in enumerate(details.attempts, 1):
        marker = "*" if a.external_id == details.matched.external_id else " "
        lines.append(f"{marker} {n}. {_attempt_line(a, zone, texts)}")
    typer.echo("\n".join(lines))


def _print_history(history: PhoneHistory, texts: Texts) -> None:
    zone = history.zone
    lines = [
        texts("call.by_phone", phone=history.phone, n=len(history.attempts)),
        texts("show.times_in", zone=zone.label()),
    ]
    for n, item in enumerate(history.attempts, 1):
        lines.append(
            f"  {n}. [{item.campaign}, {texts.status(item.contact_status)}] "
            + _attempt_line(item.attempt, zone, texts)
        )
    typer.echo("\n".join(lines))


@call_app.command("show")
def show_call(
    key: Annotated[
        str,
        typer.Argument(help="The attempt's external_id or call_session_id, or a phone number."),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    lang: LangOption = Lang.EN,
) -> None:
    """Show a call, its contact, its campaign and every attempt of that contact; or, given a
    phone number, every attempt to that number, newest first."""
    texts = Texts(lang)
    with _session() as session:
        shown = call_details(session, key) or phone_history(session, key)
    if shown is None:
        fail(texts("error.no_call", key=key))
    if as_json:
        typer.echo(json.dumps(shown.as_dict(), ensure_ascii=False, indent=2))
    elif isinstance(shown, CallDetails):
        _print_call(shown, texts)
    else:
        _print_history(shown, texts)


def _print_status(status: CampaignStatus, texts: Texts) -> None:
    zone = status.zone
    lines = [
        texts("show.campaign", name=status.name, method=status.method),
        texts("show.state", state=texts.state(status.state)),
    ]
    if status.pause_reason:
        lines.append(texts("show.paused_because", reason=status.pause_reason))
    if status.window_opens_at is not None:
        opens = zone.clock(status.window_opens_at, status.now)
        lines.append(texts("show.window_opens", at=opens))
    elif status.waiting:
        if status.waiting_until:
            until = zone.show(status.waiting_until)
            lines.append(texts("show.waiting_until", reason=status.waiting, until=until))
        else:
            lines.append(texts("show.waiting", reason=status.waiting))
    elif status.results_awaited:
        lines.append(texts("show.results_awaited_line", n=status.results_awaited))
    if not status.total:
        lines.append(texts("show.no_contacts"))
    else:
        progress = "show.progress_cancelled" if status.state == "cancelled" else "show.progress"
        lines.append(texts(progress, done=status.done, total=status.total, percent=status.percent))
    counts = ", ".join(f"{texts.status(k)} {v}" for k, v in status.counts.items())
    lines.append(texts("show.counts", counts=counts))
    lines.append(
        texts(
            "show.answered",
            answered=status.counts["answered"],
            not_answered=status.counts["not_answered"],
        )
    )
    if status.calls_per_minute is None:
        lines.append(texts("show.rate_measuring"))
    else:
        lines.append(
            texts("show.rate", rate=status.calls_per_minute, minutes=status.recent_minutes)
        )
    if status.budget:
        b = status.budget
        lines.append(
            texts(
                "show.points" if b.observed_at else "show.points_guess",
                minute=b.minute_remaining,
                minute_limit=b.minute_limit,
                day=b.day_remaining,
                day_limit=b.day_limit,
                at=zone.show(b.observed_at),
            )
        )
    if status.eta_seconds is not None and status.eta_basis is not None:
        basis = texts(f"basis.{status.eta_basis.replace('recent rate', 'rate')}")
        if status.eta_in_windows:
            basis += ", " + texts("basis.window")
        lines.append(texts("show.eta", eta=format_duration(status.eta_seconds, texts), basis=basis))
        if status.eta_seconds:
            finish = status.now + dt.timedelta(seconds=status.eta_seconds)
            lines.append(texts("show.finish_at", at=zone.show(finish)))
    if status.tts_limit_learned is not None:
        lines.append(texts("show.tts_limit", limit=status.tts_limit_learned))
    lines.append(texts("show.times_in", zone=zone.label()))
    typer.echo("\n".join(lines))


@campaign_app.command("show")
def show_campaign(
    name: Annotated[str, typer.Argument(help="The campaign's name.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    lang: LangOption = Lang.EN,
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
        _print_status(status, Texts(lang))


@campaign_app.command("list")
def list_campaigns(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    lang: LangOption = Lang.EN,
) -> None:
    """List every campaign with its state and progress, one line each."""
    with _session() as session:
        progress = campaign_progress(session)
    if as_json:
        typer.echo(json.dumps([p.as_dict() for p in progress], ensure_ascii=False, indent=2))
        return
    texts = Texts(lang)
    if not progress:
        typer.echo(texts("list.none"))
    width = max((len(p.name) for p in progress), default=0)
    for p in progress:
        state = texts.state(p.state)
        done = f"{p.done}/{p.total} ({p.percent:.1f}%)" if p.total else texts("list.no_contacts")
        typer.echo(f"{p.name:<{width}}  {state:<9}  {done}")
