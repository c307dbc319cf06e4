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
from dialer.cli.app import LangOption, contacts_app
from dialer.cli.csvoptions import Delimiter, Encoding
from dialer.cli.database import fail, open_database
from dialer.contacts import ContactsImportError, ImportSummary, import_contacts
from dialer.contacts import Progress as OnProgress
from dialer.db import transaction
from dialer.phones import DEFAULT_REGION
from dialer.reports.messages import Lang, Texts
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
    lang: LangOption = Lang.EN,
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
    _report(file, summary, Texts(lang))


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


def _report(file: Path, summary: ImportSummary, texts: Texts) -> None:
    delimiter = {"\t": "tab"}.get(summary.delimiter, summary.delimiter)
    typer.echo(texts("import.file", file=file, encoding=summary.encoding, delimiter=delimiter))
    typer.echo(
        texts(
            "import.counts",
            read=summary.read,
            imported=summary.imported,
            duplicates=summary.duplicates,
            blacklisted=summary.blacklisted,
            rejected=summary.rejected,
        )
    )
    if summary.foreign:
        warning = texts(
            "import.foreign",
            n=summary.foreign,
            countries=", ".join(summary.countries),
            examples="; ".join(summary.foreign_examples),
            listed=", ".join(f'"{code}"' for code in summary.countries),
        )
        typer.echo(warning, err=True)
    if summary.rejects_path is not None:
        typer.echo(texts("import.rejects", path=summary.rejects_path))
