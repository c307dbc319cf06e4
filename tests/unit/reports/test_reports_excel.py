"""The reports in the formats Excel opens: the `excel-ru` CSV, parsed with `;`, and the `.xlsx`
file, read back with openpyxl; both through the command line."""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from pathlib import Path

import openpyxl
import phonenumbers
import pytest
from sqlalchemy import Engine

from dialer.reports.csv_report import spoken_phone
from tests.unit.reports.conftest import Invoke

FORMULA_START = tuple("=+-@\t\r")


def _rows(path: Path, delimiter: str) -> list[dict[str, str]]:
    text = path.read_bytes().decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text), delimiter=delimiter))


def test_excel_ru_csv_is_what_russian_excel_reads(
    database: Engine, tmp_path: Path, cli: Invoke
) -> None:
    target = tmp_path / "r.csv"
    result = cli(["report", "spring", "-f", "csv", "--dialect", "excel-ru", "-o", str(target)])
    assert result.exit_code == 0, result.output
    rows = {r["status"] + r["phone"][-2:]: r for r in _rows(target, ";")}
    assert len(rows) == 10
    placed = rows["placed05"]
    assert placed["phone"] == "8 (926) 000-00-05"  # text to Excel, no mark, no 7,93E+10
    # Local time in the campaign's zone, named in the header, in a form Excel reads as a date.
    assert placed["last_attempt_at (Europe/Moscow)"] == "02.03.2026 12:02:00"
    assert placed["call_session_id"] == "900004"
    # The formula guard still holds: a variable that is a formula stays text.
    assert placed["имя"] == '\'=HYPERLINK("http://x")'
    for row in rows.values():
        assert not row["phone"].startswith(FORMULA_START)
        assert not row["phone"].isdigit()


def test_lang_ru_defaults_to_excel_ru_and_standard_stays_available(
    database: Engine, tmp_path: Path, cli: Invoke
) -> None:
    ru, std = tmp_path / "ru.csv", tmp_path / "std.csv"
    assert cli(["report", "spring", "-f", "csv", "--lang", "ru", "-o", str(ru)]).exit_code == 0
    args = ["report", "spring", "-f", "csv", "--lang", "ru", "--dialect", "standard"]
    assert cli([*args, "-o", str(std)]).exit_code == 0
    assert len(_rows(ru, ";")) == 10
    standard = {r["phone"]: r for r in _rows(std, ",")}
    assert standard["79260000005"]["last_attempt_at"] == "2026-03-02T09:02:00+00:00"


def test_an_unknown_dialect_is_refused(database: Engine, cli: Invoke) -> None:
    result = cli(["report", "spring", "-f", "csv", "--dialect", "excel-fr"])
    assert result.exit_code == 2
    assert "excel-ru" in result.output


@pytest.mark.parametrize(
    ("digits", "shown"),
    [
        ("79261234567", "8 (926) 123-45-67"),
        ("380441234567", "+380 44 123 4567"),
        ("not-a-number", "not-a-number"),
    ],
)
def test_spoken_phone(digits: str, shown: str) -> None:
    assert spoken_phone(digits) == shown


def test_the_fast_path_for_russian_mobiles_agrees_with_phonenumbers() -> None:
    rng = random.Random(7)
    for _ in range(500):
        digits = f"79{rng.randrange(10**9):09d}"
        number = phonenumbers.parse("+" + digits)
        slow = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        assert spoken_phone(digits) == slow


def test_xlsx_report_reads_back_with_typed_cells(
    database: Engine, tmp_path: Path, cli: Invoke
) -> None:
    target = tmp_path / "r.xlsx"
    result = cli(["report", "spring", "-f", "xlsx", "--lang", "ru", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "r.xlsx.part").exists()
    book = openpyxl.load_workbook(target)
    assert book.sheetnames == ["сводка", "контакты"]
    figures = {row[0]: row[1] for row in book["сводка"].iter_rows(values_only=True)}
    assert figures["контактов"] == "10"
    assert str(figures["часовой пояс"]).startswith("Europe/Moscow")
    sheet = book["контакты"]
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["phone", "status", "attempts"]
    assert "last_attempt_at (Europe/Moscow)" in header
    by_phone = {
        row[0].value: dict(zip(header, row, strict=True)) for row in sheet.iter_rows(min_row=2)
    }
    assert len(by_phone) == 10
    placed = by_phone["79260000005"]
    assert placed["phone"].data_type == "s"  # a phone is text: no 7,93E+10, no lost digits
    assert placed["attempts"].value == 2
    assert placed["last_attempt_at (Europe/Moscow)"].value == dt.datetime(2026, 3, 2, 12, 2)
    assert placed["call_session_id"].value == "900004"
    # A formula-looking variable is stored as text, shown as it is and never run.
    assert placed["имя"].value == '=HYPERLINK("http://x")'
    assert placed["имя"].data_type == "s"


def test_xlsx_needs_an_output_file(database: Engine, cli: Invoke) -> None:
    result = cli(["report", "spring", "-f", "xlsx"])
    assert result.exit_code == 2
    assert "--output" in result.output
