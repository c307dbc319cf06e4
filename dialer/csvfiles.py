"""Reading CSV files as people make them: Excel's encodings and delimiters, a header, numbered rows.

A Russian user's file comes from Excel or 1C: UTF-8 (with or without a BOM), cp1251, or UTF-16
with a BOM and tabs (Excel's "Unicode text"). The encoding and the delimiter are detected from the
first 64 KB, preferring those over rarer code pages, and either can be given instead. Rows are
streamed with the physical line each starts on, so that a message can point at it.

Errors: `CsvFileError` (a ValueError) when the file cannot be read at all; its message names the
file and, where one is at fault, the line. A row that is merely unusable is the reader's to reject.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

SAMPLE_BYTES = 64 * 1024
DELIMITERS = ",;\t"
DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";"}
# The single-byte pages Cyrillic text comes in, most common first: a tie goes to the earlier one.
CYRILLIC_PAGES = ("cp1251", "koi8_r", "cp866", "mac_cyrillic")
# The csv module's limit on one field. A field this long is an unclosed quote swallowing the rest
# of the file, not data; importers reject rows with fields far shorter (MAX_FIELD_CHARS).
FIELD_LIMIT = 16 * 2**20
MAX_FIELD_CHARS = 128 * 1024
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
# Signs of a wrong code page: characters that are neither ASCII nor Russian letters, and a small
# letter followed by a capital inside a word (KOI8-R read as cp1251 gives "тЕЛЕФОН").
_ODD_CHAR = re.compile(r"[^\x00-\x7fА-яЁё]")
_CASE_FLIP = re.compile(r"[а-яё][А-ЯЁ]")

Row = tuple[int, list[str]]  # (the line the row starts on, its cells)


class CsvFileError(ValueError):
    """The file cannot be read as CSV (empty, undecodable, a column named twice...)."""


@dataclass(frozen=True)
class CsvShape:
    """How a CSV file is written: its text encoding and field delimiter."""

    encoding: str
    delimiter: str


def detect_encoding(sample: bytes) -> str:
    """UTF-8 or UTF-16 if the sample says so, else the Cyrillic code page that reads it best."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    bomless = _bomless_utf16(sample)  # before UTF-8: ASCII in UTF-16 is valid UTF-8 too
    if bomless is not None:
        return bomless
    try:
        # Not final: the sample may end in the middle of a multi-byte character.
        codecs.getincrementaldecoder("utf-8")("strict").decode(sample, final=False)
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8"
    # min() keeps the first of equals: the order of CYRILLIC_PAGES breaks ties.
    return min(CYRILLIC_PAGES, key=lambda page: _misreadings(sample, page))


def _bomless_utf16(sample: bytes) -> str | None:
    # Text in UTF-16 without a BOM: every other byte is zero (ASCII) or the same few (Cyrillic).
    pairs = len(sample) // 2
    if pairs < 2:
        return None
    zeros_odd = sample[1::2].count(0)
    zeros_even = sample[0::2].count(0)
    if zeros_odd > pairs // 2 and zeros_even == 0:
        return "utf-16-le"
    if zeros_even > pairs // 2 and zeros_odd == 0:
        return "utf-16-be"
    return None


def _misreadings(sample: bytes, page: str) -> int:
    # All capitals is no sign: a file of small letters in KOI8-R reads as capitals in cp1251,
    # byte for byte the same as a cp1251 file in capitals, and then the commoner page wins.
    text = sample.decode(page, errors="replace")
    return len(_ODD_CHAR.findall(text)) + len(_CASE_FLIP.findall(text))


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


def encoding_named(name: str) -> str:
    """The codec for a user-given encoding name; raises CsvFileError for an unknown one."""
    try:
        return codecs.lookup(name.strip()).name
    except LookupError:
        raise CsvFileError(
            f"unknown encoding {name!r} (usual ones: utf-8, cp1251, utf-16)"
        ) from None


def delimiter_named(text: str) -> str:
    """The delimiter for a user-given one (`;`, `tab`...); raises CsvFileError for a bad one."""
    delimiter = DELIMITER_NAMES.get(text.strip().lower(), text)
    if len(delimiter) != 1 or delimiter in '"\r\n' or delimiter.isalnum():
        raise CsvFileError(
            f"{text!r} cannot be a delimiter: give one character such as ';' or ',', or 'tab'"
        )
    return delimiter


def detect_shape(
    path: Path, *, encoding: str | None = None, delimiter: str | None = None
) -> CsvShape:
    """The encoding and delimiter of the CSV file at `path`; those given are taken as they are."""
    with path.open("rb") as f:
        sample = f.read(SAMPLE_BYTES)
    chosen = encoding_named(encoding) if encoding else detect_encoding(sample)
    if chosen == "utf-8" and sample.startswith(codecs.BOM_UTF8):
        chosen = "utf-8-sig"  # "utf-8" from the user means the BOM-less one is not required
    if delimiter:
        return CsvShape(encoding=chosen, delimiter=delimiter_named(delimiter))
    text = sample.decode(chosen, errors="ignore")
    if len(sample) == SAMPLE_BYTES:
        text = text.rsplit("\n", 1)[0]  # a cut-off last line would confuse the sniffer
    return CsvShape(encoding=chosen, delimiter=detect_delimiter(text))


@dataclass
class CsvRows:
    """An open CSV file: its header, and its data rows with the lines they start on."""

    path: Path
    shape: CsvShape
    header: list[str]
    rows: Iterator[Row]
    _binary: IO[bytes]

    def bytes_read(self) -> int:
        """How far into the file reading has got (for a progress bar)."""
        return self._binary.tell()


@contextmanager
def open_csv(
    path: str | Path,
    *,
    header: bool = True,
    encoding: str | None = None,
    delimiter: str | None = None,
) -> Iterator[CsvRows]:
    """Open a CSV file of any usual shape; without `header`, every row is data."""
    path = Path(path)
    shape = detect_shape(path, encoding=encoding, delimiter=delimiter)
    with ExitStack() as stack:
        stack.enter_context(_field_limit(FIELD_LIMIT))
        binary = stack.enter_context(path.open("rb"))
        text = stack.enter_context(io.TextIOWrapper(binary, encoding=shape.encoding, newline=""))
        reader = csv.reader(text, delimiter=shape.delimiter)
        records = _numbered(reader, path, shape)
        names: list[str] = []
        if header:
            first = next(records, None)
            if first is None:
                raise CsvFileError(f"{path}: the file is empty (a header row is required)")
            names = _header(path, first[1])
        yield CsvRows(path, shape, names, records, binary)


@contextmanager
def _field_limit(limit: int) -> Iterator[None]:
    # The limit is the csv module's, for the whole process: put back what was there.
    before = csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(before)


def _numbered(reader: Any, path: Path, shape: CsvShape) -> Iterator[Row]:
    # A record may span lines (a quoted newline): number it by the line it starts on.
    start = 1
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                yield start, row
            start = reader.line_num + 1
    except UnicodeDecodeError as exc:
        raise CsvFileError(
            f"{path}: line {start} or soon after: the file is not valid {shape.encoding}; "
            "give its encoding with --encoding, or save it from Excel as CSV UTF-8"
        ) from exc
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise CsvFileError(
                f"{path}: line {start}: a field longer than {FIELD_LIMIT // 2**20} MB; "
                'is a quote (") on that line left open?'
            ) from exc
        raise CsvFileError(f"{path}: line {start}: {exc}") from exc


def _header(path: Path, row: list[str]) -> list[str]:
    if row:
        row = [row[0].lstrip("\ufeff"), *row[1:]]  # a BOM the named encoding kept
    names = [cell.strip() or f"column {i + 1}" for i, cell in enumerate(row)]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise CsvFileError(f"{path}: the header names column {name!r} twice")
        seen.add(name)
    return names


def row_problem(row: Sequence[str], width: int, delimiter: str) -> str | None:
    """Why a row read from the file is not what its writer meant, or None.

    A field too long to be data, or one holding whole rows after a line break: a quote left open
    swallows the rows after it into one field, and they must show up as rejected, not vanish.
    """
    longest = max(map(len, row), default=0)
    if longest > MAX_FIELD_CHARS:
        return f"a field of {longest:,} characters (at most {MAX_FIELD_CHARS:,})"
    if width < 2 or "\n" not in "".join(row):  # one C-level look: most rows end here
        return None
    for cell in row:
        if "\n" in cell:
            swallowed = [
                line for line in cell.splitlines()[1:] if line.count(delimiter) >= width - 1
            ]
            if swallowed:
                return (
                    f"a field runs over {len(cell.splitlines())} lines and holds what looks "
                    f'like {len(swallowed)} more row(s): is a quote (") on this line left open?'
                )
    return None


def find_phone_column(header: Sequence[str], wanted: str | None = None) -> int:
    """The index of the phone column: `wanted` (any case) or the first with a usual name."""
    folded = [_NAME_NOISE.sub("", name).casefold() for name in header]
    if wanted is not None:
        key = _NAME_NOISE.sub("", wanted).casefold()
        for index, name in enumerate(header):
            if name == wanted or folded[index] == key:
                return index
        raise CsvFileError(f"no column {wanted!r} (columns: {', '.join(header)})")
    for candidate in PHONE_COLUMNS:
        if candidate in folded:
            return folded.index(candidate)
    raise CsvFileError(
        f"no phone column among: {', '.join(header)} (name it with --phone-column; "
        "if the names look garbled, give the file's --encoding)"
    )
