"""`dialer contacts import`: a CSV file of contacts into a campaign."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from dialer.campaigns import CampaignError, find_campaign
from dialer.cli.app import contacts_app
from dialer.cli.csvoptions import Delimiter, Encoding
from dialer.cli.database import fail, open_database
from dialer.contacts import ContactsImportError, ImportSummary, import_contacts
from dialer.contacts import Progress as OnProgress
from dialer.db import transaction
from dialer.phones import DEFAULT_REGION
from dialer.templates import TemplateError


@contacts_app.command("import")
def import_command(
    campaign: Annotated[str, typer.Argument(help="The campaign's name (or id).")],
    file: Annotated[
        Path, typer.Argument(help="The CSV file: UTF-8, cp1251 or UTF-16; , ; or tab.")
    ],
    phone_column: Annotated[
        str | None, typer.Option("--phone-column", help="The column with the phone numbers.")
    ] = None,
    region: Annotated[
        str, typer.Option("--region", help="Country of numbers written without a country code.")
    ] = DEFAULT_REGION,
    rejects: Annotated[
        Path | None,
        typer.Option("--rejects", help="Where rejected rows go [<FILE>.rejects-<time>.csv]."),
    ] = None,
    encoding: Encoding = None,
    delimiter: Delimiter = None,
) -> None:
    """Import contacts; bad and duplicate rows go to the rejects file with line and reason."""
    if not file.is_file():
        fail(f"{file}: no such file")
    engine = open_database()
    try:
        with transaction(engine) as session, _progress(file) as on_progress:
            target = find_campaign(session, campaign)
            summary = import_contacts(
                session,
                target,
                file,
                phone_column=phone_column,
                region=region.upper(),
                encoding=encoding,
                delimiter=delimiter,
                rejects_path=rejects,
                progress=on_progress,
            )
    except (CampaignError, ContactsImportError, TemplateError) as exc:
        fail(str(exc))
    _report(file, summary)


@contextmanager
def _progress(file: Path) -> Iterator[OnProgress | None]:
    # A bar only for a person at a terminal; pipes and logs get just the summary.
    if not sys.stdout.isatty():
        yield None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn())
    with Progress(*columns, TimeRemainingColumn(), transient=True) as bar:
        task = bar.add_task(f"importing {file.name}", total=file.stat().st_size)

        def update(done_bytes: int, rows: int) -> None:
            bar.update(task, completed=done_bytes, description=f"{rows:,} rows")

        yield update


def _report(file: Path, summary: ImportSummary) -> None:
    delimiter = {"\t": "tab"}.get(summary.delimiter, summary.delimiter)
    typer.echo(f"{file} ({summary.encoding}, delimiter {delimiter!r})")
    typer.echo(
        f"read {summary.read}, imported {summary.imported}, duplicates {summary.duplicates}, "
        f"blacklisted {summary.blacklisted}, rejected {summary.rejected}"
    )
    if summary.foreign:
        listed = ", ".join(f'"{code}"' for code in summary.countries)
        typer.echo(
            f"warning: {summary.foreign} number(s) of other countries than "
            f"{', '.join(summary.countries)}, e.g. {'; '.join(summary.foreign_examples)}; "
            "they will be called. If that is meant, list the countries in the campaign file: "
            f"[contacts] countries = [{listed}, ...]",
            err=True,
        )
    if summary.rejects_path is not None:
        typer.echo(f"rows not imported, with line numbers and reasons: {summary.rejects_path}")
