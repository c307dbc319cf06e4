"""The CSV delivery report: one row per contact, written row by row as the rows stream in.

UTF-8 with a byte-order mark, so that Excel opens Cyrillic text correctly. Two dialects:

- `standard` (the default): `,`, times as ISO 8601 with their offset, phones as E.164 digits: for
  programs, and for spreadsheets set to an English locale.
- `excel-ru`: what Russian Excel opens by double-click without the import wizard: `;` between
  cells, times as `23.11.2026 23:02:06` in the campaign's zone (named in the header), which Excel
  reads as dates, and phones written as people write them (`8 (926) 123-45-67`), which Excel keeps
  as text because of the brackets and dashes: no apostrophe, no `="…"` formula, no 7,93E+10.
  A number of another country is written in the international format (`+380 44 123 4567`).

In both, every text cell that a spreadsheet would run as a formula is neutralized OWASP-style
with a leading `'`: cells starting with `=`, `+`, `-`, `@`, a tab or a carriage return. The one
exception is a plain number (`-5`, `+79260000001`, `-12.50`, `3,5`): a spreadsheet reads it as a
value, never as a formula, so it is left as it is rather than turned into text.

Columns: `REPORT_COLUMNS`, then the contacts' own CSV columns: the union of the variable names of
*every* contact (not only the first rows), in first-seen order; see `rows.variable_keys`.
"""

from __future__ import annotations

import csv
import enum
import re
from collections.abc import Callable
from typing import IO, Any

import phonenumbers
from sqlalchemy.orm import Session

from dialer.models import Campaign
from dialer.phones import DEFAULT_REGION
from dialer.reports.rows import COLUMNS, Kind, iter_contact_rows, variable_keys
from dialer.reports.summary import iso
from dialer.reports.zone import ShownZone, campaign_zone

BOM = "\ufeff"
_FORMULA_START = frozenset("=+-@\t\r")
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:[.,]\d+)?")
EXCEL_TIME = "%d.%m.%Y %H:%M:%S"
_RU_MOBILE = re.compile(r"79\d{9}")


class CsvDialect(enum.StrEnum):
    """Who the CSV file is for."""

    STANDARD = "standard"
    EXCEL_RU = "excel-ru"


def neutralize(value: Any) -> str:
    """A cell as text that a spreadsheet shows but never evaluates."""
    if value is None:
        return ""
    text = str(value)
    if text[:1] in _FORMULA_START and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def spoken_phone(digits: str, region: str = DEFAULT_REGION) -> str:
    """E.164 digits as a person of `region` writes them: `8 (926) 123-45-67`, else international."""
    if region == DEFAULT_REGION and _RU_MOBILE.fullmatch(digits):
        # Most numbers of a Russian campaign, written the way phonenumbers would, four times
        # faster than asking it (a test checks the two agree).
        return f"8 ({digits[1:4]}) {digits[4:7]}-{digits[7:9]}-{digits[9:]}"
    try:
        number = phonenumbers.parse("+" + digits)
    except phonenumbers.NumberParseException:
        return digits
    home = phonenumbers.country_code_for_region(region)
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if number.country_code == home
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return str(phonenumbers.format_number(number, style))


Cell = Callable[[Any], Any]


def _cells(dialect: CsvDialect, zone: ShownZone) -> tuple[list[str], list[Cell]]:
    """The header of the fixed columns and how each writes its value, in this dialect."""
    excel = dialect is CsvDialect.EXCEL_RU

    def time(value: Any) -> Any:
        if value is None:
            return None
        return zone.local(value).strftime(EXCEL_TIME) if excel else iso(value)

    def phone(value: Any) -> Any:
        return spoken_phone(value) if excel and value else value

    by_kind: dict[Kind, Cell] = {Kind.TIME: time, Kind.PHONE: phone}
    header = [
        f"{c.name} ({zone.name})" if excel and c.kind is Kind.TIME else c.name for c in COLUMNS
    ]
    return header, [by_kind.get(c.kind, _as_is) for c in COLUMNS]


def _as_is(value: Any) -> Any:
    return value


def write_csv(
    session: Session,
    campaign: Campaign,
    out: IO[str],
    dialect: CsvDialect = CsvDialect.STANDARD,
) -> int:
    """Write the campaign's CSV report to `out` (opened with newline=""); return the row count."""
    keys = variable_keys(session, campaign.id)
    fixed, cells = _cells(dialect, campaign_zone(campaign))
    # Variable names that clash with a fixed column keep their value under a `var:` prefix.
    names = {c.name for c in COLUMNS}
    header = [*fixed, *(f"var:{k}" if k in names else k for k in keys)]
    writer = csv.writer(out, delimiter=";" if dialect is CsvDialect.EXCEL_RU else ",")
    out.write(BOM)
    writer.writerow([neutralize(h) for h in header])
    count = 0
    for row in iter_contact_rows(session, campaign.id):
        values = (
            *(cell(v) for cell, v in zip(cells, row.cells, strict=True)),
            *(row.variables.get(k) for k in keys),
        )
        # Only text can hold a formula; numbers and None (written empty) go out as they are.
        writer.writerow([neutralize(v) if isinstance(v, str) else v for v in values])
        count += 1
    return count
