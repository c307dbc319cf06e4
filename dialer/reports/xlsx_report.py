"""The Excel delivery report (`.xlsx`): a sheet of figures (with contacts by call result) and a
sheet of contacts.

Written by XlsxWriter in constant-memory mode: each row goes to disk as it is written, so a
million contacts never sit in memory. Every cell has its real type, so nothing needs a visible
mark: phones and ids are text (no 7,93E+10, no lost digits), counts are numbers, times are Excel
date-times in the campaign's zone (named in the header). Text is written as text, never as a
formula or a link, so a contact variable `=HYPERLINK(…)` is shown as it is and never runs.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import xlsxwriter
from sqlalchemy.orm import Session

from dialer.models import Campaign
from dialer.reports.figures import disposition_figures, report_figures
from dialer.reports.messages import Texts
from dialer.reports.rows import COLUMNS, Kind, iter_contact_rows, variable_keys
from dialer.reports.summary import campaign_summary
from dialer.reports.zone import ShownZone, campaign_zone

_OPTIONS = {
    "constant_memory": True,
    "strings_to_numbers": False,
    "strings_to_formulas": False,
    "strings_to_urls": False,
}
TIME_FORMAT = "yyyy-mm-dd hh:mm:ss"


def write_xlsx(
    session: Session, campaign: Campaign, target: Path, texts: Texts | None = None
) -> int:
    """Write the campaign's Excel report to the file `target`; return the contacts written."""
    texts = texts or Texts()
    zone = campaign_zone(campaign)
    workbook = xlsxwriter.Workbook(str(target), _OPTIONS)
    try:
        bold = workbook.add_format({"bold": True})
        when = workbook.add_format({"num_format": TIME_FORMAT})

        figures = workbook.add_worksheet(texts("report.sheet_summary"))
        figures.set_column(0, 0, 28)
        figures.set_column(1, 1, 36)
        summary = campaign_summary(session, campaign)
        shown = report_figures(campaign, summary, zone, texts)
        for n, figure in enumerate(shown):
            figures.write_string(n, 0, figure.label, bold)
            figures.write_string(n, 1, figure.value)
        # Below the figures, after a blank row: contacts by call result, as numbers.
        start = len(shown) + 1
        figures.write_string(start, 0, texts("report.by_disposition"), bold)
        for n, figure in enumerate(disposition_figures(summary, texts), start + 1):
            figures.write_string(n, 0, figure.label)
            figures.write_number(n, 1, int(figure.value))

        sheet = workbook.add_worksheet(texts("report.sheet_contacts"))
        keys = variable_keys(session, campaign.id)
        names = {c.name for c in COLUMNS}
        header = [
            *(f"{c.name} ({zone.name})" if c.kind is Kind.TIME else c.name for c in COLUMNS),
            *(f"var:{k}" if k in names else k for k in keys),
        ]
        sheet.freeze_panes(1, 0)
        for col, name in enumerate(header):
            sheet.write_string(0, col, name, bold)
        count = 0
        for count, row in enumerate(iter_contact_rows(session, campaign.id), 1):
            for col, (column, value) in enumerate(zip(COLUMNS, row.cells, strict=True)):
                _write(sheet, (count, col), column.kind, value, when, zone)
            for col, key in enumerate(keys, len(COLUMNS)):
                _write(sheet, (count, col), Kind.TEXT, row.variables.get(key), when, zone)
        return count
    finally:
        workbook.close()


def _write(
    sheet: Any, at: tuple[int, int], kind: Kind, value: Any, when: Any, zone: ShownZone
) -> None:
    row, col = at
    if value is None:
        return
    if kind is Kind.NUMBER and isinstance(value, int | float):
        sheet.write_number(row, col, value)
    elif kind is Kind.TIME and isinstance(value, dt.datetime):
        # Excel has no zones: the local wall-clock time, with the zone named in the header.
        sheet.write_datetime(row, col, zone.local(value).replace(tzinfo=None), when)
    else:
        sheet.write_string(row, col, str(value))
