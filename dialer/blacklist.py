"""The local blacklist: numbers that are never dialed, in any campaign.

Numbers are stored normalized (E.164 digits without `+`), with where they came from (an import
file, a person, or the provider answering `contact_in_blacklist`) and when. Adding a number also
ends every contact of it that is still waiting (pending or queued) with status `blacklisted`.
A file that cannot be read raises `dialer.csvfiles.CsvFileError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from dialer.csvfiles import CsvFileError, Row, find_phone_column, open_csv, row_problem
from dialer.db import utcnow
from dialer.models import BlacklistEntry, BlacklistSource, Contact, ContactStatus
from dialer.phones import DEFAULT_REGION, InvalidPhoneError, normalize_phone

# Enough to keep every IN (...) list well inside SQLite's limit on bound parameters.
CHUNK = 1_000
WAITING = (ContactStatus.PENDING, ContactStatus.QUEUED)


def _chunks(items: Iterable[str], size: int = CHUNK) -> Iterator[list[str]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def is_blacklisted(session: Session, phone: str) -> bool:
    """True when the normalized `phone` is on the blacklist."""
    return session.get(BlacklistEntry, phone) is not None


def add_numbers(
    session: Session,
    phones: Iterable[str],
    source: BlacklistSource | str,
    note: str | None = None,
) -> int:
    """Blacklist normalized `phones`; returns how many were new. Waiting contacts are marked."""
    source = BlacklistSource(source)
    unique = sorted(set(phones))
    for phone in unique:
        if not phone.isdigit():
            raise ValueError(f"{phone!r} is not a normalized number (E.164 digits without +)")
    added = 0
    now = utcnow()
    for chunk in _chunks(unique):
        known = set(
            session.scalars(select(BlacklistEntry.phone).where(BlacklistEntry.phone.in_(chunk)))
        )
        new = [p for p in chunk if p not in known]
        session.add_all(
            BlacklistEntry(phone=p, source=source, note=note, created_at=now) for p in new
        )
        added += len(new)
        mark_contacts(session, chunk)
    session.flush()
    return added


def mark_contacts(session: Session, phones: Sequence[str]) -> int:
    """Mark every waiting contact of `phones`, in any campaign, `blacklisted`; returns how many."""
    total = 0
    for chunk in _chunks(phones):
        result = session.execute(
            update(Contact)
            .where(Contact.phone.in_(chunk), Contact.status.in_(WAITING))
            .values(status=ContactStatus.BLACKLISTED, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        total += result.rowcount  # type: ignore[attr-defined]
    return total


def remove_numbers(session: Session, phones: Iterable[str]) -> int:
    """Take normalized `phones` off the blacklist; returns how many were on it.

    Contacts already marked `blacklisted` stay so: they were never called and are not revived.
    """
    removed = 0
    for chunk in _chunks(sorted(set(phones))):
        result = session.execute(delete(BlacklistEntry).where(BlacklistEntry.phone.in_(chunk)))
        removed += result.rowcount  # type: ignore[attr-defined]
    return removed


def list_entries(session: Session) -> list[BlacklistEntry]:
    """Every blacklist entry, oldest first."""
    stmt = select(BlacklistEntry).order_by(BlacklistEntry.created_at, BlacklistEntry.phone)
    return list(session.scalars(stmt))


@dataclass
class Normalized:
    """Phones given by a person or a file, split into usable numbers and rejected ones."""

    phones: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (what was given, why)


def normalize_all(raw: Iterable[str], region: str = DEFAULT_REGION) -> Normalized:
    """Normalize every number in `raw`, keeping the ones that fail with the reason."""
    result = Normalized()
    for text in raw:
        try:
            result.phones.append(normalize_phone(text, region))
        except InvalidPhoneError as exc:
            result.rejected.append((text, str(exc)))
    return result


@dataclass
class BlacklistImport:
    """What a blacklist import did."""

    read: int = 0
    added: int = 0
    rejected: list[tuple[int, str, str]] = field(default_factory=list)  # (line, value, reason)


def import_file(
    session: Session,
    path: str | Path,
    *,
    phone_column: str | None = None,
    region: str = DEFAULT_REGION,
    note: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
) -> BlacklistImport:
    """Blacklist every number of a CSV file (with a header, or just one number per line).

    `encoding` and `delimiter` replace the detected ones; raises CsvFileError.
    """
    path = Path(path)
    summary = BlacklistImport()
    with open_csv(path, header=False, encoding=encoding, delimiter=delimiter) as csv_rows:
        first = next(csv_rows.rows, None)
        if first is None:
            return summary
        index, rows = _phone_index(first, csv_rows.rows, phone_column, region)
        width, delimiter = len(first[1]), csv_rows.shape.delimiter
        batch: list[str] = []
        for line_no, row in rows:
            summary.read += 1
            value = row[index] if index < len(row) else ""
            problem = row_problem(row, width, delimiter)
            if problem is not None:
                summary.rejected.append((line_no, value, problem))
                continue
            try:
                batch.append(normalize_phone(value, region))
            except InvalidPhoneError as exc:
                summary.rejected.append((line_no, value, str(exc)))
            if len(batch) >= CHUNK:
                summary.added += add_numbers(session, batch, BlacklistSource.IMPORT, note)
                batch = []
        summary.added += add_numbers(session, batch, BlacklistSource.IMPORT, note)
    return summary


def _phone_index(
    first: Row, rows: Iterator[Row], phone_column: str | None, region: str
) -> tuple[int, Iterator[Row]]:
    # A file that starts with a number has no header: the numbers are in its first column.
    if phone_column is None and _is_phone(first[1][0], region):
        return 0, _chain(first, rows)
    try:
        return find_phone_column([c.strip() for c in first[1]], phone_column), rows
    except CsvFileError:
        if phone_column is None and len(first[1]) == 1:
            return 0, rows  # a one-column file with some header: take it
        raise


def _is_phone(text: str, region: str) -> bool:
    try:
        normalize_phone(text, region)
    except InvalidPhoneError:
        return False
    return True


def _chain(first: Row, rows: Iterator[Row]) -> Iterator[Row]:
    yield first
    yield from rows
