"""Importing contacts from CSV: detect the file's shape, normalize phones, dedupe, keep rejects.

The file is streamed: rows are read, checked and inserted in batches, so memory stays flat however
long the file is. Duplicates are found by the database, not by a set in memory: each batch is
inserted with `ON CONFLICT (campaign_id, phone) DO NOTHING`, then the stored row of each phone is
read back; a row whose line is not the stored one is a duplicate, of an earlier line of this file
or of a contact that was already there. Every row that is not imported goes to the rejects file
(a new one per import) with its line number and the reason. Numbers on the blacklist are marked at
the end, in one statement, inside the same transaction. Numbers of countries the campaign does not
list are imported and counted, for the summary to warn about.

It is longer than most modules because the importer's fast path (batched inserts, read-back
only on conflicts, parsing beside inserting) is one pipeline that reads best in one file.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Insert, String, any_, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from dialer import lifecycle
from dialer.campaigns import contact_problem
from dialer.csvfiles import (
    CsvFileError,
    CsvRows,
    Row,
    find_phone_column,
    open_csv,
    row_problem,
)
from dialer.db import utcnow
from dialer.models import BlacklistEntry, Campaign, Contact, ContactStatus
from dialer.options import CampaignOptions
from dialer.phones import DEFAULT_REGION, ParsedPhone, format_international, parse_many
from dialer.rejects import RejectsWriter, default_rejects_path
from dialer.templates import placeholders

BATCH_SIZE = 5_000
# Phone parsing is most of an import's CPU time; below this size a worker process costs more to
# start than it saves.
PARALLEL_MIN_BYTES = 8 * 2**20
MAX_WORKERS = 3
# How many numbers of other countries the summary quotes.
FOREIGN_EXAMPLES = 3

Progress = Callable[[int, int], None]  # (bytes read so far, rows read so far)


class ContactsImportError(ValueError):
    """The file cannot be imported at all (no header, no phone column, a missing placeholder…)."""


# --- the import ----------------------------------------------------------------------------------


@dataclass
class ImportSummary:
    """What an import did. `read` = imported + duplicates + rejected."""

    read: int = 0
    imported: int = 0  # new contacts, the blacklisted ones included
    duplicates: int = 0  # of an earlier line, or of a contact already in the campaign
    blacklisted: int = 0  # imported with status blacklisted: never dialed
    rejected: int = 0  # not a usable row (bad phone, too many fields)
    rejects_path: Path | None = None  # written only when some row was not imported
    encoding: str = ""
    delimiter: str = ""
    columns: list[str] = field(default_factory=list)
    countries: tuple[str, ...] = ()  # the countries the campaign calls without a warning
    foreign: int = 0  # of the imported, how many have a number of another country
    foreign_examples: list[str] = field(default_factory=list)  # "line 7: +380 44 123 4567 (UA)"


@dataclass(slots=True)
class _Pending:
    line_no: int
    row: list[str]
    phone: str
    values: Sequence[Any] | dict[str, Any]  # the driver's parameters of its INSERT
    country: str


def import_contacts(
    session: Session,
    campaign: Campaign,
    path: str | Path,
    *,
    phone_column: str | None = None,
    region: str = DEFAULT_REGION,
    encoding: str | None = None,
    delimiter: str | None = None,
    rejects_path: str | Path | None = None,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
    workers: int | None = None,
) -> ImportSummary:
    """Import the CSV file at `path` into `campaign`, inside the caller's transaction.

    Raises ContactsImportError when the file cannot be read (no header or phone column, a column
    the campaign's placeholders use is missing: before importing anything; a part that cannot be
    decoded: when reached, so the caller rolls back). `encoding` and `delimiter` replace the
    detected ones. Rejected rows go to `rejects_path`, by default a new `<file>.rejects-<time>.csv`.
    `workers` processes parse phones alongside (default: one less than the CPUs, up to 3, for
    files over 8 MB; 0: none).
    """
    path = Path(path)
    try:
        with open_csv(path, encoding=encoding, delimiter=delimiter) as csv_rows:
            phone_index = find_phone_column(csv_rows.header, phone_column)
            _check_placeholders(campaign, path, csv_rows.header)
            return _import_rows(
                session,
                campaign,
                csv_rows,
                phone_index,
                region=region,
                rejects_path=Path(rejects_path) if rejects_path else None,
                batch_size=batch_size,
                progress=progress,
                workers=default_workers(path) if workers is None else workers,
            )
    except CsvFileError as exc:
        raise ContactsImportError(str(exc)) from exc


def _import_rows(
    session: Session,
    campaign: Campaign,
    csv_rows: CsvRows,
    phone_index: int,
    *,
    region: str,
    rejects_path: Path | None,
    batch_size: int,
    progress: Progress | None,
    workers: int,
) -> ImportSummary:
    summary = ImportSummary(
        encoding=csv_rows.shape.encoding,
        delimiter=csv_rows.shape.delimiter,
        columns=list(csv_rows.header),
        countries=CampaignOptions.from_json(campaign.options).contacts.countries or (region,),
    )
    rejects = RejectsWriter(
        rejects_path or default_rejects_path(csv_rows.path, dt.datetime.now()),
        csv_rows.shape,
        csv_rows.header,
        keep_existing=rejects_path is None,
    )
    importer = _Importer(session, campaign.id, summary, rejects)
    try:
        importer.run(csv_rows, phone_index, region, batch_size, progress, workers)
    except BaseException:
        rejects.discard()
        raise
    rejects.close()
    summary.rejects_path = rejects.path if rejects.count else None
    if summary.imported:
        lifecycle.reopen_for_new_contacts(campaign)
    return summary


def _check_placeholders(campaign: Campaign, path: Path, header: Sequence[str]) -> None:
    missing = sorted(placeholders(campaign.params) - set(header))
    if missing:
        names = ", ".join(f"{{{name}}}" for name in missing)
        raise ContactsImportError(
            f"campaign {campaign.name!r} uses {names}, but {path} has no such column "
            f"(columns: {', '.join(header)}); nothing was imported"
        )


class _Importer:
    """One import run: turns rows into contacts batch by batch."""

    def __init__(
        self, session: Session, campaign_id: int, summary: ImportSummary, rejects: RejectsWriter
    ) -> None:
        self.session = session
        self.campaign_id = campaign_id
        self.summary = summary
        self.rejects = rejects
        self.campaign = session.get_one(Campaign, campaign_id)
        self.now = utcnow()
        # Contacts with a higher id than this one were added by this import: a duplicate of one
        # of them repeats an earlier line of this file rather than an earlier import.
        self.last_old_id = (
            session.scalar(select(func.coalesce(func.max(Contact.id), 0)).select_from(Contact)) or 0
        )
        self.insert = _ContactsInsert(session, campaign_id, self.now)

    def run(
        self,
        csv_rows: CsvRows,
        phone_index: int,
        region: str,
        batch_size: int,
        progress: Progress | None,
        workers: int,
    ) -> None:
        """Read every row; phones of the next chunks are parsed while this one is inserted."""
        in_flight: deque[tuple[list[Row], Future[list[ParsedPhone]]]] = deque()
        with _PhoneParser(workers, region) as parser:
            for chunk in _chunked(csv_rows.rows, batch_size):
                phones = [row[phone_index] if phone_index < len(row) else "" for _, row in chunk]
                in_flight.append((chunk, parser.submit(phones)))
                if len(in_flight) > workers:
                    self._import_chunk(csv_rows, *in_flight.popleft())
                    if progress is not None:
                        progress(csv_rows.bytes_read(), self.summary.read)
            while in_flight:
                self._import_chunk(csv_rows, *in_flight.popleft())
                if progress is not None:
                    progress(csv_rows.bytes_read(), self.summary.read)
        self.mark_blacklisted()

    def _import_chunk(
        self,
        csv_rows: CsvRows,
        chunk: list[Row],
        parsed: Future[list[ParsedPhone]],
    ) -> None:
        header, delimiter = csv_rows.header, csv_rows.shape.delimiter
        width = len(header)
        batch: list[_Pending] = []
        for (line_no, row), phone in zip(chunk, parsed.result(), strict=True):
            self.summary.read += 1
            if len(row) > width:
                self._reject(line_no, row, f"{len(row)} fields, the header has {width}")
                continue
            problem = row_problem(row, width, delimiter)
            if problem is not None:
                self._reject(line_no, row, problem)
                continue
            if len(row) < width:
                row = [*row, *[""] * (width - len(row))]  # noqa: PLW2901 - Excel drops trailing empty cells
            if isinstance(phone, str):
                self._reject(line_no, row, phone)
                continue
            variables = dict(zip(header, row, strict=True))
            if problem := contact_problem(self.campaign, variables):
                self._reject(line_no, row, problem)
                continue
            values = self.insert.row(phone[0], variables, line_no, phone[1])
            batch.append(_Pending(line_no, row, phone[0], values, phone[2]))
        self._flush(batch)

    def _reject(self, line_no: int, row: Sequence[str], reason: str) -> None:
        self.summary.rejected += 1
        self.rejects.write(line_no, row, reason)

    def _flush(self, batch: list[_Pending]) -> None:
        # A plain executemany (no RETURNING) keeps the fast path of both drivers; which rows went
        # in is read back afterwards: the stored row of a phone carries the line it came from.
        # When the driver counts as many new rows as the batch has, every row went in: nothing
        # to read back, and no row is a duplicate.
        if not batch:
            return
        inserted = self.insert.run([p.values for p in batch])
        if inserted == len(batch):
            self._imported(batch)
            return
        stored = self._stored({p.phone for p in batch})
        for pending in batch:
            contact_id, line_no = stored[pending.phone]
            if contact_id <= self.last_old_id:
                reason = f"already in the campaign (line {line_no} of an earlier import)"
            elif line_no != pending.line_no:
                reason = f"duplicate of line {line_no}"
            else:
                self._imported([pending])
                continue
            self.summary.duplicates += 1
            self.rejects.write(pending.line_no, pending.row, reason)

    def _imported(self, pendings: list[_Pending]) -> None:
        self.summary.imported += len(pendings)
        countries = self.summary.countries
        for pending in pendings:
            if pending.country not in countries:
                self._note_foreign(pending)

    def _note_foreign(self, pending: _Pending) -> None:
        self.summary.foreign += 1
        if len(self.summary.foreign_examples) < FOREIGN_EXAMPLES:
            shown = format_international(pending.phone)
            self.summary.foreign_examples.append(
                f"line {pending.line_no}: {shown} ({pending.country})"
            )

    def _stored(self, phones: set[str]) -> dict[str, tuple[int, int | None]]:
        rows = self.session.execute(
            select(Contact.phone, Contact.id, Contact.line_no).where(
                Contact.campaign_id == self.campaign_id, _phone_in(self.session, phones)
            )
        )
        return {phone: (contact_id, line_no) for phone, contact_id, line_no in rows}

    def mark_blacklisted(self) -> None:
        """Set the new contacts whose number is on the blacklist to `blacklisted`, in one go."""
        result = self.session.execute(
            update(Contact)
            .where(
                Contact.campaign_id == self.campaign_id,
                Contact.id > self.last_old_id,
                Contact.status == ContactStatus.PENDING,
                Contact.phone.in_(select(BlacklistEntry.phone)),
            )
            .values(status=ContactStatus.BLACKLISTED)
            .execution_options(synchronize_session=False)
        )
        self.summary.blacklisted = result.rowcount  # type: ignore[attr-defined]


def _chunked(rows: Iterator[Row], size: int) -> Iterator[list[Row]]:
    while chunk := list(islice(rows, size)):
        yield chunk


def default_workers(path: Path) -> int:
    """Worker processes for parsing the phones of `path`: none for small files or one CPU."""
    cpus = os.cpu_count() or 1
    if cpus < 2 or path.stat().st_size < PARALLEL_MIN_BYTES:
        return 0
    return min(MAX_WORKERS, cpus - 1)


class _PhoneParser:
    """Parses chunks of phone texts in worker processes, or right here when `workers` is 0."""

    def __init__(self, workers: int, region: str) -> None:
        self.region = region
        # spawn, not fork: a forked child would share this process's database connections.
        context = multiprocessing.get_context("spawn")
        self.pool = ProcessPoolExecutor(workers, mp_context=context) if workers else None

    def submit(self, phones: list[str]) -> Future[list[ParsedPhone]]:
        """Start parsing `phones`; the future's result lists them in order."""
        if self.pool is not None:
            return self.pool.submit(parse_many, phones, self.region)
        done: Future[list[ParsedPhone]] = Future()
        done.set_result(parse_many(phones, self.region))
        return done

    def __enter__(self) -> _PhoneParser:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)


def _phone_in(session: Session, phones: set[str]) -> ColumnElement[bool]:
    # One parameter, and the same SQL text for every batch: an IN list of thousands of
    # placeholders is re-parsed by psycopg for each batch, and on SQLite each distinct length
    # is another prepared statement kept in the connection's cache (tens of MB over a big file).
    if session.get_bind().dialect.name == "postgresql":
        return Contact.phone == any_(bindparam("phones", sorted(phones), type_=ARRAY(String)))
    each = func.json_each(json.dumps(sorted(phones))).table_valued("value")
    return Contact.phone.in_(select(each.c.value))


_INSERTED = (
    *("campaign_id", "phone", "variables", "line_no", "timezone"),
    *("status", "requests", "rounds", "updated_at"),
)


class _ContactsInsert:
    """The import's INSERT … ON CONFLICT DO NOTHING, run by the driver itself.

    SQLAlchemy's executemany runs every column's bind processor for every row (the datetime,
    the status, the JSON), which was a third of an import's time; the columns that are the same
    for every row are processed once here, the JSON of the variables by the column type's own
    processor, so that the stored values are exactly those of an ORM insert.
    """

    def __init__(self, session: Session, campaign_id: int, now: dt.datetime) -> None:
        self.connection = session.connection()
        dialect = self.connection.dialect
        table = Contact.metadata.tables["contacts"]
        compiled = _insert_statement(dialect.name, table).compile(
            dialect=dialect, column_keys=list(_INSERTED)
        )
        self.sql = compiled.string
        self.positional = compiled.positional
        self.order = list(compiled.positiontup or _INSERTED)

        def processed(column: str, value: Any) -> Any:
            # The processor SQLAlchemy itself would run for this column on this dialect.
            process: Callable[[Any], Any] | None = table.c[column].type._cached_bind_processor(
                dialect
            )
            return process(value) if process is not None else value

        self.fixed = {
            "campaign_id": processed("campaign_id", campaign_id),
            "status": processed("status", ContactStatus.PENDING),
            "requests": processed("requests", 0),
            "rounds": processed("rounds", 0),
            "updated_at": processed("updated_at", now),
        }
        to_json: Callable[[Any], Any] | None = table.c.variables.type._cached_bind_processor(
            dialect
        )
        self.json = to_json or (lambda value: value)
        slots = {name: i for i, name in enumerate(self.order)}
        self.slots = (slots["phone"], slots["variables"], slots["line_no"], slots["timezone"])
        self.template = [self.fixed.get(name) for name in self.order]

    def row(
        self, phone: str, variables: dict[str, str], line_no: int, timezone: str | None
    ) -> Sequence[Any] | dict[str, Any]:
        """The driver's parameters for one new contact."""
        if not self.positional:
            return {
                **self.fixed,
                "phone": phone,
                "variables": self.json(variables),
                "line_no": line_no,
                "timezone": timezone,
            }
        params = self.template.copy()
        a, b, c, d = self.slots
        params[a], params[b], params[c], params[d] = phone, self.json(variables), line_no, timezone
        return tuple(params)

    def run(self, rows: list[Sequence[Any] | dict[str, Any]]) -> int:
        """Insert `rows`; how many went in by the driver's count (-1 when it does not say)."""
        result = self.connection.exec_driver_sql(self.sql, rows)
        return int(result.rowcount)


def _insert_statement(dialect: str, table: Any) -> Insert:
    # The dialect's own INSERT for ON CONFLICT DO NOTHING on (campaign_id, phone).
    key = ["campaign_id", "phone"]
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=key)
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=key)
    raise ContactsImportError(f"importing contacts is not supported on {dialect}")
