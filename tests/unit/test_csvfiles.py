"""Reading CSV files as Excel and 1C write them: encodings, delimiters, overrides, huge fields."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from dialer import csvfiles
from dialer.csvfiles import (
    CsvFileError,
    delimiter_named,
    detect_encoding,
    detect_shape,
    encoding_named,
    open_csv,
)

HEADER = "ФИО;Телефон;Сумма долга"
# The file of the report: 150 rows like these, saved by Excel on a Russian Windows.
DEBTORS = HEADER + "\r\n" + "".join(f"Клиент {i};8 (926) 100-00-00;1500,50\r\n" for i in range(150))


def _write(path: Path, text: str, encoding: str) -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def _read(
    path: Path, encoding: str | None = None, delimiter: str | None = None
) -> tuple[list[str], list[tuple[int, list[str]]]]:
    with open_csv(path, encoding=encoding, delimiter=delimiter) as rows:
        return rows.header, list(rows.rows)


def test_a_valid_cp1251_file_is_not_taken_for_mac_cyrillic(tmp_path: Path) -> None:
    sample = DEBTORS.encode("cp1251")
    assert detect_encoding(sample) == "cp1251"
    header, rows = _read(_write(tmp_path / "d.csv", DEBTORS, "cp1251"))
    assert header == ["ФИО", "Телефон", "Сумма долга"]
    assert rows[0] == (2, ["Клиент 0", "8 (926) 100-00-00", "1500,50"])
    assert len(rows) == 150


@pytest.mark.parametrize(
    ("encoding", "detected"),
    [
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8-sig"),
        ("cp1251", "cp1251"),
        ("utf-16", "utf-16"),  # with a BOM, as Excel's "Unicode text"
        ("utf-16-le", "utf-16-le"),  # without one
        ("utf-16-be", "utf-16-be"),
        ("koi8_r", "koi8_r"),  # rarer, but told apart by its capitals
        ("cp866", "cp866"),
    ],
)
def test_encodings_people_use_are_detected(encoding: str, detected: str) -> None:
    assert detect_encoding(DEBTORS.encode(encoding)) == detected


def test_ambiguous_bytes_go_to_the_commonest_page() -> None:
    # Small letters in KOI8-R are capitals in cp1251, byte for byte: cp1251 is the likelier.
    assert detect_encoding("ТЕЛЕФОН;ИМЯ\n".encode("cp1251")) == "cp1251"


def test_excel_unicode_text_is_read(tmp_path: Path) -> None:
    text = DEBTORS.replace(";", "\t")
    path = _write(tmp_path / "u.txt", text, "utf-16")
    assert detect_shape(path) == csvfiles.CsvShape("utf-16", "\t")
    header, rows = _read(path)
    assert header == ["ФИО", "Телефон", "Сумма долга"]
    assert rows[-1] == (151, ["Клиент 149", "8 (926) 100-00-00", "1500,50"])


def test_encoding_and_delimiter_can_be_given(tmp_path: Path) -> None:
    # Detection would read this as UTF-8 with one column; the user knows better.
    path = _write(tmp_path / "p.csv", "phone|name\n89260000001|Ann\n", "utf-8")
    assert _read(path)[0] == ["phone|name"]
    header, rows = _read(path, encoding="latin-1", delimiter="|")
    assert header == ["phone", "name"]
    assert rows == [(2, ["89260000001", "Ann"])]
    assert detect_shape(path, delimiter="tab").delimiter == "\t"


def test_a_named_utf8_keeps_no_bom_in_the_header(tmp_path: Path) -> None:
    path = _write(tmp_path / "b.csv", "phone;name\n", "utf-8-sig")
    assert _read(path, encoding="utf-8")[0] == ["phone", "name"]
    path = _write(tmp_path / "w.csv", "phone;name\n", "utf-16")
    assert _read(path, encoding="utf-16-le")[0] == ["phone", "name"]


@pytest.mark.parametrize("name", ["klingon", "", "utf-9"])
def test_an_unknown_encoding_is_named(name: str) -> None:
    with pytest.raises(CsvFileError, match="unknown encoding"):
        encoding_named(name)


@pytest.mark.parametrize("text", ["", ";;", "a", '"', "\n"])
def test_a_bad_delimiter_is_named(text: str) -> None:
    with pytest.raises(CsvFileError, match="cannot be a delimiter"):
        delimiter_named(text)


@pytest.mark.parametrize(("text", "delimiter"), [("tab", "\t"), ("\\t", "\t"), (";", ";")])
def test_delimiters_by_name(text: str, delimiter: str) -> None:
    assert delimiter_named(text) == delimiter


def test_a_2_mb_field_is_read_and_the_limit_is_put_back(tmp_path: Path) -> None:
    before = csv.field_size_limit()
    big = "x" * (2 * 2**20)
    path = _write(tmp_path / "big.csv", f"phone;note\n89260000001;{big}\n89260000002;ok\n", "utf-8")
    _, rows = _read(path)
    assert [line for line, _ in rows] == [2, 3]
    assert len(rows[0][1][1]) == len(big)
    assert csv.field_size_limit() == before


def test_an_unclosed_quote_is_pointed_at(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csvfiles, "FIELD_LIMIT", 1000)
    rest = "".join(f"8926000{i:04d};ok\n" for i in range(200))
    path = _write(
        tmp_path / "q.csv", f'phone;note\n89260000001;ok\n89260000002;"open\n{rest}', "utf-8"
    )
    with pytest.raises(CsvFileError, match=r"line 3: .*quote") as info:
        _read(path)
    assert str(path) in str(info.value)


def test_a_file_changing_encoding_after_the_sample_is_a_clear_error(tmp_path: Path) -> None:
    head = "phone;name\n" + "".join(f"8926000{i:04d};Анна\n" for i in range(4000))
    path = tmp_path / "mixed.csv"
    path.write_bytes(head.encode("utf-8") + "89269999999;Борис\n".encode("cp1251"))
    assert len(head.encode("utf-8")) > csvfiles.SAMPLE_BYTES
    with pytest.raises(CsvFileError, match=r"not valid utf-8.*--encoding"):
        _read(path)


def test_an_empty_file_has_no_header(tmp_path: Path) -> None:
    with pytest.raises(CsvFileError, match="header row is required"):
        _read(_write(tmp_path / "e.csv", "\r\n \r\n", "utf-8"))


def test_a_column_named_twice(tmp_path: Path) -> None:
    with pytest.raises(CsvFileError, match="names column 'phone' twice"):
        _read(_write(tmp_path / "t.csv", "phone;phone\n", "utf-8"))


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (["89260000001", "ok"], None),
        (["89260000001", "ул. Тверская,\nд. 12"], None),  # a note over two lines is data
        (["89260000001", "open\n89260000002;Анна\n89260000003;Борис"], "looks like 2 more row"),
        (["89260000001", "x" * (csvfiles.MAX_FIELD_CHARS + 1)], "a field of 131,073 characters"),
    ],
)
def test_row_problems(row: list[str], problem: str | None) -> None:
    found = csvfiles.row_problem(row, 2, ";")
    assert found is None if problem is None else problem in (found or "")
