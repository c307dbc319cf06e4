"""Importing contacts from CSV: detect the file's shape, normalize phones, dedupe, keep rejects.

The file is streamed: rows are read, checked and inserted in batches, so memory stays flat however
long the file is. Duplicates are found by the database, not by a set in memory: each batch is
inserted with `ON CONFLICT (campaign_id, phone) DO NOTHING`, then the stored row of each phone is
read back; a row whose line is not the stored one is a duplicate, of an earlier line of this file
or of a contact that was already there. Every row that is not imported goes to the rejects file
with its line number and the reason. Numbers on the blacklist are marked at the end, in one
statement, inside the same transaction.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import multiprocessing
import os
import re
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import IO, Any

from charset_normalizer import from_bytes
from sqlalchemy import ColumnElement, Engine, Insert, String, any_, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from dialer import lifecycle
from dialer.campaigns import contact_problem
from dialer.db import transaction, utcnow
from dialer.models import BlacklistEntry, Campaign, Contact, ContactStatus
from dialer.phones import DEFAULT_REGION, ParsedPhone, parse_many
from dialer.templates import placeholders

BATCH_SIZE = 5_000
# Phone parsing is most of an import's CPU time; below this size a worker process costs more to
# start than it saves.
PARALLEL_MIN_BYTES = 8 * 2**20
MAX_WORKERS = 3
SAMPLE_BYTES = 64 * 1024
DELIMITERS = ",;\t"
# Header names that mean "the phone number", compared without case, spaces or punctuation.
PHONE_COLUMNS = (
    "phone",
    "phonenumber",
    "phones",
    "телефон",
    "телефоны",
    "номертелефона",
    "номер",
    "msisdn",
    "mobile",
    "mobilephone",
    "cell",
    "cellphone",
    "мобильный",
    "мобильныйтелефон",
    "сотовый",
    "tel",
    "telephone",
    "тел",
    "contact",
    "number",
)
_NAME_NOISE = re.compile(r"[\W_]+")

Progress = Callable[[int, int], None]  # (bytes read so far, rows read so far)


class ContactsImportError(ValueError):
    """The file cannot be imported at all (no header, no phone column, a missing placeholder…)."""


# --- reading a CSV file of unknown shape ---------------------------------------------------------


@dataclass(frozen=True)
class CsvShape:
    """How a CSV file is written: its text encoding and field delimiter."""

    encoding: str
    delimiter: str


def detect_encoding(sample: bytes) -> str:
    """UTF-8 (with or without BOM) if the sample is valid UTF-8, else the likeliest code page."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        # Not final: the sample may end in the middle of a multi-byte character.
        codecs.getincrementaldecoder("utf-8")("strict").decode(sample, final=False)
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8"
    best = from_bytes(sample).best()
    # Excel on a Russian Windows writes cp1251; trust a guess only when it is a Cyrillic page.
    if best is not None and best.encoding in {"cp1251", "koi8_r", "cp866", "mac_cyrillic"}:
        return str(best.encoding)
    return "cp1251"


def detect_delimiter(sample: str) -> str:
    """The field delimiter of a CSV sample: `,`, `;` or a tab."""
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        # The sniffer gives up on short or irregular samples: count in the header line instead.
        header = sample.splitlines()[0] if sample else ""
        counts = {d: header.count(d) for d in DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def detect_shape(path: Path) -> CsvShape:
    """The encoding and delimiter of the CSV file at `path`."""
    with path.open("rb") as f:
        sample = f.read(SAMPLE_BYTES)
    encoding = detect_encoding(sample)
    text = sample.decode(encoding, errors="ignore")
    if len(sample) == SAMPLE_BYTES:
        text = text.rsplit("\n", 1)[0]  # a cut-off last line would confuse the sniffer
    return CsvShape(encoding=encoding, delimiter=detect_delimiter(text))


@dataclass
class CsvRows:
    """An open CSV file: its header, and its data rows with their physical line numbers."""

    path: Path
    shape: CsvShape
    header: list[str]
    rows: Iterator[tuple[int, list[str]]]
    _binary: IO[bytes]

    def bytes_read(self) -> int:
        """How far into the file reading has got (for a progress bar)."""
        return self._binary.tell()


@contextmanager
def open_csv(path: str | Path, *, header: bool = True) -> Iterator[CsvRows]:
    """Open a CSV file of any usual shape; without `header`, every row is data."""
    path = Path(path)
    shape = detect_shape(path)
    with ExitStack() as stack:
        binary = stack.enter_context(path.open("rb"))
        text = stack.enter_context(io.TextIOWrapper(binary, encoding=shape.encoding, newline=""))
        reader = csv.reader(text, delimiter=shape.delimiter)
        records = _numbered(reader, path)
        names: list[str] = []
        if header:
            first = next(records, None)
            if first is None:
                raise ContactsImportError(f"{path}: the file is empty (a header row is required)")
            names = _header(path, first[1])
        yield CsvRows(path, shape, names, records, binary)


def _numbered(reader: Any, path: Path) -> Iterator[tuple[int, list[str]]]:
    # A record may span lines (a quoted newline): number it by the line it starts on.
    start = 1
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                yield start, row
            start = reader.line_num + 1
    except UnicodeDecodeError as exc:
        raise ContactsImportError(
            f"{path}: line {start}: the file is not valid {exc.encoding}; save it as UTF-8"
        ) from exc
    except csv.Error as exc:
        raise ContactsImportError(f"{path}: line {start}: {exc}") from exc


def _header(path: Path, row: list[str]) -> list[str]:
    names = [cell.strip() or f"column {i + 1}" for i, cell in enumerate(row)]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ContactsImportError(f"{path}: the header names column {name!r} twice")
        seen.add(name)
    return names


def find_phone_column(header: Sequence[str], wanted: str | None = None) -> int:
    """The index of the phone column: `wanted` (any case) or the first with a usual name."""
    folded = [_NAME_NOISE.sub("", name).casefold() for name in header]
    if wanted is not None:
        key = _NAME_NOISE.sub("", wanted).casefold()
        for index, name in enumerate(header):
            if name == wanted or folded[index] == key:
                return index
        raise ContactsImportError(f"no column {wanted!r} (columns: {', '.join(header)})")
    for candidate in PHONE_COLUMNS:
        if candidate in folded:
            return folded.index(candidate)
    raise ContactsImportError(
        f"no phone column among: {', '.join(header)} (name it with --phone-column)"
    )


# --- the rejects file ----------------------------------------------------------------------------


class RejectsWriter:
    """Writes rejected rows (line, reason, row) in the input's shape; creates the file lazily."""

    def __init__(self, path: Path, shape: CsvShape, header: Sequence[str]) -> None:
        self.path = path
        self.count = 0
        self._shape = shape
        self._header = header
        self._file: IO[str] | None = None
        self._writer: Any = None

    def write(self, line_no: int, row: Sequence[str], reason: str) -> None:
        """Record one rejected row."""
        if self._writer is None:
            self._file = self.path.open("w", encoding=self._shape.encoding, newline="")
            self._writer = csv.writer(self._file, delimiter=self._shape.delimiter)
            self._writer.writerow(["line", "reason", *self._header])
        self._writer.writerow([line_no, reason, *row])
        self.count += 1

    def close(self) -> None:
        """Close the file if one was written."""
        if self._file is not None:
            self._file.close()


def default_rejects_path(path: Path) -> Path:
    """Where the rejects of `path` go unless told otherwise: `<file>.rejects.csv`."""
    return path.with_name(path.name + ".rejects.csv")


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


@dataclass
class _Pending:
    line_no: int
    row: list[str]
    values: dict[str, Any]


def import_contacts(
    db: Session | Engine,
    campaign: Campaign,
    path: str | Path,
    *,
    phone_column: str | None = None,
    region: str = DEFAULT_REGION,
    rejects_path: str | Path | None = None,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
    workers: int | None = None,
) -> ImportSummary:
    """Import the CSV file at `path` into `campaign`; with an Engine, in one transaction of its own.

    Raises ContactsImportError, before importing anything, when the file has no header or phone
    column, or lacks a column the campaign's placeholders use. `workers` processes parse phones
    alongside (default: one less than the CPUs, up to 3, for files over 8 MB; 0: none).
    """
    if isinstance(db, Engine):
        with transaction(db) as session:
            return import_contacts(
                session,
                session.get_one(Campaign, campaign.id),
                path,
                phone_column=phone_column,
                region=region,
                rejects_path=rejects_path,
                batch_size=batch_size,
                progress=progress,
                workers=workers,
            )
    path = Path(path)
    with open_csv(path) as csv_rows:
        phone_index = find_phone_column(csv_rows.header, phone_column)
        _check_placeholders(campaign, path, csv_rows.header)
        summary = ImportSummary(
            encoding=csv_rows.shape.encoding,
            delimiter=csv_rows.shape.delimiter,
            columns=list(csv_rows.header),
        )
        rejects = RejectsWriter(
            Path(rejects_path) if rejects_path else default_rejects_path(path),
            csv_rows.shape,
            csv_rows.header,
        )
        try:
            _Importer(db, campaign.id, summary, rejects).run(
                csv_rows,
                phone_index,
                region,
                batch_size,
                progress,
                default_workers(path) if workers is None else workers,
            )
        finally:
            rejects.close()
        summary.rejects_path = rejects.path if rejects.count else None
        if summary.imported:
            lifecycle.reopen_for_new_contacts(db, campaign)
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
        self.statement = _insert_statement(session)

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
        in_flight: deque[tuple[list[tuple[int, list[str]]], Future[list[ParsedPhone]]]] = deque()
        with _PhoneParser(workers, region) as parser:
            for chunk in _chunked(csv_rows.rows, batch_size):
                phones = [row[phone_index] if phone_index < len(row) else "" for _, row in chunk]
                in_flight.append((chunk, parser.submit(phones)))
                if len(in_flight) > workers:
                    self._import_chunk(csv_rows.header, *in_flight.popleft())
                    if progress is not None:
                        progress(csv_rows.bytes_read(), self.summary.read)
            while in_flight:
                self._import_chunk(csv_rows.header, *in_flight.popleft())
                if progress is not None:
                    progress(csv_rows.bytes_read(), self.summary.read)
        self.mark_blacklisted()

    def _import_chunk(
        self,
        header: list[str],
        chunk: list[tuple[int, list[str]]],
        parsed: Future[list[ParsedPhone]],
    ) -> None:
        width = len(header)
        batch: list[_Pending] = []
        for (line_no, row), phone in zip(chunk, parsed.result(), strict=True):
            self.summary.read += 1
            if len(row) > width:
                self._reject(line_no, row, f"{len(row)} fields, the header has {width}")
                continue
            if len(row) < width:
                row = row + [""] * (width - len(row))  # Excel drops trailing empty cells
            if isinstance(phone, str):
                self._reject(line_no, row, phone)
                continue
            if problem := contact_problem(self.campaign, dict(zip(header, row, strict=True))):
                self._reject(line_no, row, problem)
                continue
            values = {
                "campaign_id": self.campaign_id,
                "phone": phone[0],
                "variables": dict(zip(header, row, strict=True)),
                "line_no": line_no,
                "timezone": phone[1],
                "status": ContactStatus.PENDING,
                "requests": 0,
                "rounds": 0,
                "updated_at": self.now,
            }
            batch.append(_Pending(line_no, row, values))
        self._flush(batch)

    def _reject(self, line_no: int, row: Sequence[str], reason: str) -> None:
        self.summary.rejected += 1
        self.rejects.write(line_no, row, reason)

    def _flush(self, batch: list[_Pending]) -> None:
        # A plain executemany (no RETURNING) keeps the fast path of both drivers; which rows went
        # in is read back afterwards: the stored row of a phone carries the line it came from.
        if not batch:
            return
        self.session.execute(self.statement, [p.values for p in batch])
        stored = self._stored({p.values["phone"] for p in batch})
        for pending in batch:
            contact_id, line_no = stored[pending.values["phone"]]
            if contact_id <= self.last_old_id:
                reason = f"already in the campaign (line {line_no} of an earlier import)"
            elif line_no != pending.line_no:
                reason = f"duplicate of line {line_no}"
            else:
                self.summary.imported += 1
                continue
            self.summary.duplicates += 1
            self.rejects.write(pending.line_no, pending.row, reason)

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


def _chunked(
    rows: Iterator[tuple[int, list[str]]], size: int
) -> Iterator[list[tuple[int, list[str]]]]:
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


def _insert_statement(session: Session) -> Insert:
    # The dialect's own INSERT for ON CONFLICT DO NOTHING on (campaign_id, phone).
    table = Contact.metadata.tables["contacts"]
    key = ["campaign_id", "phone"]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=key)
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=key)
    raise ContactsImportError(f"importing contacts is not supported on {dialect}")
