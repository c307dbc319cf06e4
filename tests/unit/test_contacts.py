"""CSV import: encodings, delimiters, quoting, line numbers, rejects, duplicates, the blacklist."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialer.blacklist import add_numbers
from dialer.campaigns import create_campaign, parse_campaign
from dialer.contacts import ContactsImportError, import_contacts
from dialer.csvfiles import (
    MAX_FIELD_CHARS,
    CsvShape,
    detect_delimiter,
    detect_encoding,
    find_phone_column,
    open_csv,
)
from dialer.models import BlacklistSource, Campaign, Contact, ContactStatus
from dialer.phones import normalize_phone
from dialer.rejects import RejectsWriter, default_rejects_path

EXAMPLES = Path(__file__).resolve().parents[2] / "campaigns"

CAMPAIGN = """
name = "{name}"
method = "start.informer_call"
[params]
virtual_phone_number = "74993720692"
contact_message = {{ type = "tts", value = "{text}" }}
"""


def _campaign(session: Session, text: str = "Здравствуйте!", name: str = "c") -> Campaign:
    return create_campaign(session, parse_campaign(CAMPAIGN.format(name=name, text=text)))


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def _contacts(session: Session, campaign: Campaign) -> list[Contact]:
    stmt = select(Contact).where(Contact.campaign_id == campaign.id).order_by(Contact.line_no)
    return list(session.scalars(stmt))


def _rejects(path: Path, encoding: str = "utf-8", delimiter: str = ",") -> list[list[str]]:
    with path.open(encoding=encoding, newline="") as f:
        return list(csv.reader(f, delimiter=delimiter))


ROWS = "Телефон;Имя клиента;Заказ\n8 (926) 000-00-01;Анна;A-1\n+7 926 000 00 02;Борис;A-2\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1251"])
def test_encodings_are_detected(session: Session, tmp_path: Path, encoding: str) -> None:
    campaign = _campaign(session, "Здравствуйте, {Имя клиента}!")
    path = _write(tmp_path / "c.csv", ROWS, encoding)
    summary = import_contacts(session, campaign, path)
    assert summary.encoding == encoding
    assert summary.imported == 2
    first = _contacts(session, campaign)[0]
    assert first.variables == {
        "Телефон": "8 (926) 000-00-01",
        "Имя клиента": "Анна",
        "Заказ": "A-1",
    }


def test_cp1251_detection_on_a_larger_sample() -> None:
    text = "Телефон;Имя;Город\n" + "".join(f"8926000{i:04d};Пётр;Москва\n" for i in range(500))
    assert detect_encoding(text.encode("cp1251")) == "cp1251"
    assert detect_encoding(text.encode("utf-8")[:1001]) == "utf-8"  # cut mid-character


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_delimiters_are_detected(session: Session, tmp_path: Path, delimiter: str) -> None:
    campaign = _campaign(session)
    path = _write(tmp_path / "c.csv", ROWS.replace(";", delimiter))
    summary = import_contacts(session, campaign, path)
    assert summary.delimiter == delimiter
    assert [c.phone for c in _contacts(session, campaign)] == ["79260000001", "79260000002"]


def test_delimiter_fallback_counts_the_header() -> None:
    assert detect_delimiter("phone;name") == ";"
    assert detect_delimiter("phone") == ","


def test_quoted_fields_crlf_and_physical_line_numbers(session: Session, tmp_path: Path) -> None:
    campaign = _campaign(session)
    text = (
        "phone,note,city\r\n"
        '89260000001,"two\r\nlines, with a comma",Москва\r\n'
        "\r\n"
        '89260000002,"say ""hi""",Тверь\r\n'
    )
    path = _write(tmp_path / "c.csv", text)
    summary = import_contacts(session, campaign, path)
    assert (summary.read, summary.imported) == (2, 2)
    first, second = _contacts(session, campaign)
    assert first.variables["note"] == "two\r\nlines, with a comma"
    assert first.line_no == 2
    assert second.variables["note"] == 'say "hi"'
    assert second.line_no == 5  # the quoted newline and the blank line count


def test_rejects_file_holds_line_reason_and_row(session: Session, tmp_path: Path) -> None:
    campaign = _campaign(session)
    text = (
        "name;phone\n"
        "Анна;8 (926) 000-00-01\n"
        "Игорь;12345\n"
        "Нет;\n"
        "Лишний;89260000003;x\n"
        "Анна снова;+7 926 000 00 01\n"
    )
    path = _write(tmp_path / "in.csv", text, "cp1251")
    summary = import_contacts(session, campaign, path)
    assert (summary.read, summary.imported, summary.rejected, summary.duplicates) == (5, 1, 3, 1)
    assert summary.rejects_path is not None
    assert re.fullmatch(r"in\.csv\.rejects-\d{8}-\d{6}\.csv", summary.rejects_path.name)
    assert summary.rejects_path.parent == tmp_path
    rows = _rejects(summary.rejects_path, "cp1251", ";")
    assert rows[0] == ["line", "reason", "name", "phone"]
    by_line = {row[0]: row for row in rows[1:]}
    assert by_line["3"][1:] == ["not a valid phone number: '12345'", "Игорь", "12345"]
    assert by_line["4"][1] == "empty phone number"
    assert by_line["5"][1] == "3 fields, the header has 2"
    assert by_line["6"][1:] == ["duplicate of line 2", "Анна снова", "+7 926 000 00 01"]
    assert len(rows) == 5


def test_duplicates_across_batches_and_reimport_adds_nothing(
    session: Session, tmp_path: Path
) -> None:
    campaign = _campaign(session)
    text = "phone\n89260000001\n89260000002\n89260000003\n+79260000001\n9260000002\n"
    path = _write(tmp_path / "c.csv", text)
    first = import_contacts(session, campaign, path, batch_size=2)
    assert (first.imported, first.duplicates) == (3, 2)
    assert first.rejects_path is not None
    reasons = {row[0]: row[1] for row in _rejects(first.rejects_path)[1:]}
    assert reasons == {"5": "duplicate of line 2", "6": "duplicate of line 3"}

    again = import_contacts(session, campaign, path, rejects_path=tmp_path / "again.csv")
    assert (again.read, again.imported, again.duplicates) == (5, 0, 5)
    assert len(_contacts(session, campaign)) == 3
    reasons = {row[0]: row[1] for row in _rejects(tmp_path / "again.csv")[1:]}
    assert reasons["2"] == "already in the campaign (line 2 of an earlier import)"


def test_the_same_number_in_two_campaigns_is_two_contacts(session: Session, tmp_path: Path) -> None:
    one, two = _campaign(session, name="one"), _campaign(session, name="two")
    path = _write(tmp_path / "c.csv", "phone\n89260000001\n")
    assert import_contacts(session, one, path).imported == 1
    assert import_contacts(session, two, path).imported == 1


def test_blacklisted_numbers_are_imported_as_blacklisted(session: Session, tmp_path: Path) -> None:
    campaign = _campaign(session)
    add_numbers(session, ["79260000002"], BlacklistSource.MANUAL)
    path = _write(tmp_path / "c.csv", ROWS)
    summary = import_contacts(session, campaign, path)
    assert (summary.imported, summary.blacklisted) == (2, 1)
    statuses = {c.phone: c.status for c in _contacts(session, campaign)}
    assert statuses == {
        "79260000001": ContactStatus.PENDING,
        "79260000002": ContactStatus.BLACKLISTED,
    }


def test_a_missing_placeholder_column_imports_nothing(session: Session, tmp_path: Path) -> None:
    campaign = _campaign(session, "Здравствуйте, {Имя}! Заказ {Заказ}.")
    path = _write(tmp_path / "c.csv", ROWS)
    with pytest.raises(ContactsImportError) as info:
        import_contacts(session, campaign, path)
    assert "{Имя}" in str(info.value)
    assert "{Заказ}" not in str(info.value)  # that column exists
    assert _contacts(session, campaign) == []
    assert not list(tmp_path.glob("c.csv.rejects*"))


def test_time_zone_and_every_column_are_stored(session: Session, tmp_path: Path) -> None:
    campaign = _campaign(session)
    path = _write(tmp_path / "c.csv", "Номер;Офис\n8 (495) 123-45-67;Центр\n")
    import_contacts(session, campaign, path)
    (contact,) = _contacts(session, campaign)
    assert (contact.phone, contact.timezone) == ("74951234567", "Europe/Moscow")
    assert contact.variables == {"Номер": "8 (495) 123-45-67", "Офис": "Центр"}
    assert contact.status == ContactStatus.PENDING


def test_phone_column_by_option(session: Session, tmp_path: Path) -> None:
    campaign = _campaign(session)
    path = _write(tmp_path / "c.csv", "Клиент,Куда звонить\nАнна,89260000001\n")
    with pytest.raises(ContactsImportError, match="no phone column"):
        import_contacts(session, campaign, path)
    summary = import_contacts(session, campaign, path, phone_column="куда звонить")
    assert summary.imported == 1


@pytest.mark.parametrize(
    ("header", "index"),
    [(["Name", "PHONE"], 1), (["Телефон клиента", "Номер"], 1), (["MSISDN"], 0), (["tel."], 0)],
)
def test_phone_column_by_usual_names(header: list[str], index: int) -> None:
    assert find_phone_column(header) == index


def test_an_empty_file_needs_a_header(session: Session, tmp_path: Path) -> None:
    campaign = _campaign(session)
    with pytest.raises(ContactsImportError, match="header row is required"):
        import_contacts(session, campaign, _write(tmp_path / "c.csv", ""))


def test_region_option(session: Session, tmp_path: Path) -> None:
    campaign = _campaign(session)
    path = _write(tmp_path / "c.csv", "phone\n020 7946 0018\n")
    assert import_contacts(session, campaign, path, region="GB").imported == 1
    assert _contacts(session, campaign)[0].phone == "442079460018"


def test_the_sample_csv(session: Session, tmp_path: Path) -> None:
    campaign = create_campaign(session, parse_campaign((EXAMPLES / "order-ready.toml").read_text()))
    add_numbers(session, ["79260000009"], BlacklistSource.IMPORT)
    sample = EXAMPLES / "contacts-sample.csv"
    summary = import_contacts(session, campaign, sample, rejects_path=tmp_path / "r.csv")
    assert (summary.encoding, summary.delimiter) == ("cp1251", ";")
    assert summary.read == 20
    assert (summary.imported, summary.duplicates, summary.rejected) == (15, 2, 3)
    assert summary.blacklisted == 1


def test_worker_processes_give_the_same_result(session: Session, tmp_path: Path) -> None:
    campaign = _campaign(session)
    lines = [f"8926000{i:04d};{i}" for i in range(30)] + ["12;bad", "89260000001;again"]
    path = _write(tmp_path / "c.csv", "phone;n\n" + "\n".join(lines) + "\n")
    summary = import_contacts(session, campaign, path, batch_size=7, workers=1)
    assert (summary.read, summary.imported, summary.rejected, summary.duplicates) == (32, 30, 1, 1)
    contacts = _contacts(session, campaign)
    assert [c.line_no for c in contacts] == list(range(2, 32))
    assert contacts[5].variables == {"phone": "89260000005", "n": "5"}


def test_progress_is_reported(session: Session, tmp_path: Path) -> None:
    campaign = _campaign(session)
    path = _write(tmp_path / "c.csv", "phone\n" + "".join(f"8926000{i:04d}\n" for i in range(10)))
    calls: list[tuple[int, int]] = []
    import_contacts(
        session, campaign, path, batch_size=4, progress=lambda b, r: calls.append((b, r))
    )
    assert [rows for _, rows in calls] == [4, 8, 10]
    assert calls[-1][0] == path.stat().st_size


def test_excel_unicode_text_is_imported(session: Session, tmp_path: Path) -> None:
    campaign = _campaign(session, "Здравствуйте, {Имя клиента}!")
    path = _write(tmp_path / "u.txt", ROWS.replace(";", "\t").replace("\n", "\r\n"), "utf-16")
    summary = import_contacts(session, campaign, path)
    assert (summary.encoding, summary.delimiter, summary.imported) == ("utf-16", "\t", 2)
    assert _contacts(session, campaign)[1].variables["Имя клиента"] == "Борис"


def test_encoding_and_delimiter_given_replace_detection(session: Session, tmp_path: Path) -> None:
    campaign = _campaign(session)
    path = _write(tmp_path / "c.csv", "phone|city\n89260000001|Zürich\n", "latin-1")
    with pytest.raises(ContactsImportError, match=re.escape("no phone column among: phone|city")):
        import_contacts(session, campaign, path)
    summary = import_contacts(session, campaign, path, encoding="latin-1", delimiter="|")
    assert (summary.encoding, summary.delimiter, summary.imported) == ("iso8859-1", "|", 1)
    assert _contacts(session, campaign)[0].variables["city"] == "Zürich"


def test_a_2_mb_field_rejects_only_its_row(session: Session, tmp_path: Path) -> None:
    campaign = _campaign(session)
    big = "x" * (2 * 2**20)
    text = f"phone;note\n89260000001;ok\n89260000002;{big}\n89260000003;ok\n"
    summary = import_contacts(session, campaign, _write(tmp_path / "c.csv", text))
    assert (summary.read, summary.imported, summary.rejected) == (3, 2, 1)
    assert summary.rejects_path is not None
    with open_csv(summary.rejects_path) as rejected:  # beyond the csv module's own limit
        ((_, row),) = rejected.rows
    assert row[:2] == ["3", "a field of 2,097,152 characters (at most 131,072)"]
    assert row[3] == big  # the row is kept whole in the rejects file


def test_numbers_of_other_countries_are_counted_with_examples(
    session: Session, tmp_path: Path
) -> None:
    campaign = _campaign(session)
    foreign = ["+380 44 123 4567", "+7 701 234 5678", "+380 44 123 4568", "+380 44 123 4569"]
    text = "phone\n89260000001\n" + "\n".join(foreign) + "\n+380441234567\n"
    summary = import_contacts(session, campaign, _write(tmp_path / "c.csv", text))
    assert (summary.imported, summary.foreign, summary.countries) == (5, 4, ("RU",))
    assert summary.foreign_examples == [
        "line 3: +380 44 123 4567 (UA)",
        "line 4: +7 701 234 5678 (KZ)",
        "line 5: +380 44 123 4568 (UA)",
    ]


def test_a_campaign_allowing_countries_counts_only_the_others(
    session: Session, tmp_path: Path
) -> None:
    spec = parse_campaign(
        CAMPAIGN.format(name="c", text="Здравствуйте!") + '[contacts]\ncountries = ["ru", "UA"]\n'
    )
    assert spec.options.contacts.countries == ("RU", "UA")
    campaign = create_campaign(session, spec)
    text = "phone\n89260000001\n+380441234567\n+77012345678\n"
    summary = import_contacts(session, campaign, _write(tmp_path / "c.csv", text))
    assert (summary.imported, summary.foreign, summary.countries) == (3, 1, ("RU", "UA"))
    assert summary.foreign_examples == ["line 4: +7 701 234 5678 (KZ)"]


def test_a_default_rejects_path_never_overwrites_an_earlier_file(tmp_path: Path) -> None:
    when = dt.datetime(2026, 11, 23, 21, 5, 9)
    path = default_rejects_path(tmp_path / "c.csv", when)
    assert path.name == "c.csv.rejects-20261123-210509.csv"
    written = []
    for reason in ("first", "second", "third"):
        writer = RejectsWriter(path, CsvShape("utf-8", ";"), ["phone"], keep_existing=True)
        writer.write(2, ["12"], reason)
        writer.close()
        written.append(writer.path.name)
    assert written == [
        path.name,
        "c.csv.rejects-20261123-210509-2.csv",
        "c.csv.rejects-20261123-210509-3.csv",
    ]
    assert "first" in path.read_text(encoding="utf-8")


# --- bad input: whatever the file holds, a clear error or recorded rejections, no row lost -------

PROPERTY = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_runs = itertools.count()
_CELL = st.text(alphabet="абвгдАБВГД abcXYZ0123456789+()-,;\t\"'\r\n№", max_size=12)
# A valid row's other cell holds no line break: a quoted cell whose later line looks like a whole
# row is rejected on purpose (the open-quote guard, `csvfiles.row_problem`), so such a row is not
# one the importer must keep. Ragged rows still carry line breaks anywhere.
_ONE_LINE_CELL = st.text(alphabet="абвгдАБВГД abcXYZ0123456789+()-,;\t\"'№", max_size=12)
_PHONE_SHAPES = ("8926{:07d}", "+7 926 {:07d}", "8 (926) {:07d}", "926{:07d}")
_VALID = st.tuples(st.integers(0, 999), st.sampled_from(_PHONE_SHAPES), _ONE_LINE_CELL).map(
    lambda v: ("valid", [v[1].format(v[0]), v[2]])
)
_RAGGED = st.lists(_CELL, max_size=5).map(lambda cells: ("other", cells))
_HUGE = st.integers(MAX_FIELD_CHARS + 1, MAX_FIELD_CHARS + 9).map(
    lambda n: ("other", ["89260000001", "x" * n])
)
_ROWS = st.lists(st.one_of(_VALID, _RAGGED, _HUGE), max_size=15)


def _import_checked(
    session: Session, path: Path, encoding: str | None = None, delimiter: str | None = None
) -> set[str] | None:
    """Import into a fresh campaign and check the accounts; the phones stored, or None after a
    clear error (and nothing kept)."""
    campaign = _campaign(session, name=f"run-{next(_runs)}")
    error = ""
    try:
        with session.begin_nested():
            summary = import_contacts(
                session, campaign, path, encoding=encoding, delimiter=delimiter
            )
    except ContactsImportError as exc:
        error = str(exc)
    if error:  # a clear message, and nothing kept
        assert _contacts(session, campaign) == []
        return None
    assert summary.read == summary.imported + summary.duplicates + summary.rejected
    assert len(_contacts(session, campaign)) == summary.imported
    not_imported = summary.duplicates + summary.rejected
    if not_imported:
        assert summary.rejects_path is not None
        with open_csv(summary.rejects_path, encoding=summary.encoding) as rejects:
            assert sum(1 for _ in rejects.rows) == not_imported
    else:
        assert summary.rejects_path is None
    return {c.phone for c in _contacts(session, campaign)}


@PROPERTY
@given(data=st.binary(max_size=2000), header=st.booleans())
def test_random_bytes(session: Session, tmp_path: Path, data: bytes, header: bool) -> None:
    path = tmp_path / f"{next(_runs)}.csv"
    path.write_bytes((b"phone;name\r\n" if header else b"") + data)
    _import_checked(session, path)


@PROPERTY
@given(rows=_ROWS, cuts=st.lists(st.integers(0, 10_000), max_size=3))
def test_invalid_utf8(session: Session, tmp_path: Path, rows: list[Any], cuts: list[int]) -> None:
    data = bytearray(_csv_text([cells for _, cells in rows], ";").encode("utf-8"))
    for cut in cuts:
        data.insert(cut % (len(data) + 1), 0xFF)  # never valid in UTF-8
    path = tmp_path / f"{next(_runs)}.csv"
    path.write_bytes(bytes(data))
    _import_checked(session, path)


@PROPERTY
@given(
    rows=_ROWS,
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1251", "utf-16"]),
    delimiter=st.sampled_from([",", ";", "\t"]),
)
def test_no_valid_row_is_lost(
    session: Session, tmp_path: Path, rows: list[Any], encoding: str, delimiter: str
) -> None:
    path = tmp_path / f"{next(_runs)}.csv"
    path.write_bytes(_csv_text([cells for _, cells in rows], delimiter).encode(encoding))
    stored = _import_checked(session, path)
    if stored is None:  # detection may give up, clearly; the file's shape given, it must not
        stored = _import_checked(session, path, encoding, delimiter)
    assert stored is not None
    valid = {normalize_phone(cells[0]) for kind, cells in rows if kind == "valid"}
    assert valid <= stored  # each valid row imported, or a duplicate of one that was


def _csv_text(rows: list[list[str]], delimiter: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(["phone", "name"])
    writer.writerows(rows)
    return out.getvalue()


def test_a_file_of_only_a_header_imports_nothing(session: Session, tmp_path: Path) -> None:
    summary = import_contacts(session, _campaign(session), _write(tmp_path / "h.csv", "phone;n\n"))
    assert (summary.read, summary.imported, summary.rejects_path) == (0, 0, None)
