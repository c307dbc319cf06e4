"""The CSV delivery report: one row per contact, written row by row as the rows stream in.

UTF-8 with a byte-order mark, so that Excel opens Cyrillic text correctly. Every cell that a
spreadsheet would run as a formula is neutralized OWASP-style with a leading `'`: cells starting
with `=`, `+`, `-`, `@`, a tab or a carriage return. The one exception is a plain number
(`-5`, `+79260000001`, `-12.50`, `3,5`): a spreadsheet reads it as a value, never as a formula,
so it is left as it is rather than turned into text.

Columns: `REPORT_COLUMNS`, then the contacts' own CSV columns: the union of the variable names of
*every* contact (not only the first rows), in first-seen order; see `rows.variable_keys`.
"""

from __future__ import annotations

import csv
import re
from typing import IO, Any

from sqlalchemy.orm import Session

from dialer.models import Campaign
from dialer.reports.rows import REPORT_COLUMNS, iter_contact_rows, variable_keys

BOM = "\ufeff"
_FORMULA_START = frozenset("=+-@\t\r")
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:[.,]\d+)?")


def neutralize(value: Any) -> str:
    """A cell as text that a spreadsheet shows but never evaluates."""
    if value is None:
        return ""
    text = str(value)
    if text[:1] in _FORMULA_START and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def write_csv(session: Session, campaign: Campaign, out: IO[str]) -> int:
    """Write the campaign's CSV report to `out` (opened with newline=""); return the row count."""
    keys = variable_keys(session, campaign.id)
    # Variable names that clash with a fixed column keep their value under a `var:` prefix.
    header = [*REPORT_COLUMNS, *(f"var:{k}" if k in REPORT_COLUMNS else k for k in keys)]
    writer = csv.writer(out)
    out.write(BOM)
    writer.writerow([neutralize(h) for h in header])
    count = 0
    for row in iter_contact_rows(session, campaign.id):
        cells = (*row.values(), *(row.variables.get(k) for k in keys))
        # Only text can hold a formula; numbers and None (written empty) go out as they are.
        writer.writerow([neutralize(v) if isinstance(v, str) else v for v in cells])
        count += 1
    return count
