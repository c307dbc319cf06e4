"""`dialer blacklist ...`: numbers that are never dialed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dialer import blacklist
from dialer.cli.app import blacklist_app
from dialer.cli.csvoptions import Delimiter, Encoding
from dialer.cli.database import fail, open_database
from dialer.csvfiles import CsvFileError
from dialer.db import transaction
from dialer.models import BlacklistSource
from dialer.phones import DEFAULT_REGION

Region = Annotated[
    str, typer.Option("--region", help="Country of numbers written without a country code.")
]


def _normalized(phones: list[str], region: str) -> list[str]:
    result = blacklist.normalize_all(phones, region.upper())
    if result.rejected:
        given, reason = result.rejected[0]
        fail(f"{given!r}: {reason}; nothing was changed")
    return result.phones


@blacklist_app.command("add")
def add(
    phones: Annotated[list[str], typer.Argument(help="Phone numbers, in any usual shape.")],
    note: Annotated[str | None, typer.Option("--note", help="Why, for the record.")] = None,
    region: Region = DEFAULT_REGION,
) -> None:
    """Blacklist numbers; their waiting contacts in every campaign are marked blacklisted."""
    numbers = _normalized(phones, region)
    with transaction(open_database()) as session:
        added = blacklist.add_numbers(session, numbers, BlacklistSource.MANUAL, note)
    typer.echo(f"added {added} number(s); {len(set(numbers)) - added} already on the blacklist")


@blacklist_app.command("remove")
def remove(
    phones: Annotated[list[str], typer.Argument(help="Phone numbers, in any usual shape.")],
    region: Region = DEFAULT_REGION,
) -> None:
    """Take numbers off the blacklist (contacts already marked blacklisted stay so)."""
    numbers = _normalized(phones, region)
    with transaction(open_database()) as session:
        removed = blacklist.remove_numbers(session, numbers)
    typer.echo(f"removed {removed} number(s); {len(set(numbers)) - removed} were not on it")


@blacklist_app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="A CSV file with a phone column, or one per line.")],
    phone_column: Annotated[
        str | None, typer.Option("--phone-column", help="The column with the phone numbers.")
    ] = None,
    note: Annotated[str | None, typer.Option("--note", help="Why, for the record.")] = None,
    region: Region = DEFAULT_REGION,
    encoding: Encoding = None,
    delimiter: Delimiter = None,
) -> None:
    """Blacklist every number of a CSV file."""
    if not file.is_file():
        fail(f"{file}: no such file")
    try:
        with transaction(open_database()) as session:
            summary = blacklist.import_file(
                session,
                file,
                phone_column=phone_column,
                region=region.upper(),
                note=note,
                encoding=encoding,
                delimiter=delimiter,
            )
    except CsvFileError as exc:
        fail(str(exc))
    typer.echo(
        f"read {summary.read}, added {summary.added}, rejected {len(summary.rejected)}"
        f" (the rest were already on the blacklist or repeated)"
    )
    for line_no, _value, reason in summary.rejected:
        typer.echo(f"line {line_no}: {reason}", err=True)


@blacklist_app.command("list")
def list_command() -> None:
    """Print every blacklisted number with its source, time and note."""
    with transaction(open_database()) as session:
        entries = blacklist.list_entries(session)
    for entry in entries:
        when = entry.created_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        note = f"  {entry.note}" if entry.note else ""
        typer.echo(f"{entry.phone}\t{entry.source.value}\t{when}{note}")
    typer.echo(f"{len(entries)} number(s)", err=True)
