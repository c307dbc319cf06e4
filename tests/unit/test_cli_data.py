"""`dialer db`, `dialer campaign create`, `dialer contacts import` and `dialer blacklist` through
the real command line, on a fresh SQLite file that the commands migrate themselves."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

import dialer.cli.main  # noqa: F401  (registers every command)
from dialer.cli.app import app
from dialer.cli.database import open_database
from dialer.config import get_settings
from dialer.db import engine_for, transaction
from dialer.models import BlacklistEntry, Campaign, Contact, ContactStatus

EXAMPLES = Path(__file__).resolve().parents[2] / "campaigns"
runner = CliRunner()


def run(*args: str | Path) -> Result:
    return runner.invoke(app, [str(a) for a in args])


def count(model: type[Campaign] | type[Contact] | type[BlacklistEntry]) -> int:
    with transaction(open_database()) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """A copy of the sample contacts, so the rejects file lands in tmp_path."""
    return Path(shutil.copy(EXAMPLES / "contacts-sample.csv", tmp_path / "contacts.csv"))


def test_db_upgrade_then_check() -> None:
    upgraded = run("db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    checked = run("db", "check")
    assert checked.exit_code == 0, checked.output
    assert "matches the models" in checked.stdout


def test_campaign_create_on_a_fresh_database() -> None:
    result = run("campaign", "create", EXAMPLES / "order-ready.toml")
    assert result.exit_code == 0, result.output
    assert "order-ready" in result.stdout
    assert count(Campaign) == 1


def test_a_bad_campaign_file_exits_2_naming_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    text = (EXAMPLES / "order-ready.toml").read_text(encoding="utf-8")
    bad.write_text(text.replace("dialing_timeout = 30", "dialing_timeout = 300"), encoding="utf-8")
    result = run("campaign", "create", bad)
    assert result.exit_code == 2
    assert "[params].dialing_timeout" in result.stderr
    assert str(bad) in result.stderr
    assert "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1
    assert count(Campaign) == 0


def test_create_twice_needs_replace_and_replace_refuses_a_started_campaign() -> None:
    path = EXAMPLES / "survey.toml"
    assert run("campaign", "create", path).exit_code == 0
    again = run("campaign", "create", path)
    assert again.exit_code == 2
    assert "--replace" in again.stderr
    assert run("campaign", "create", path, "--replace").exit_code == 0
    with transaction(engine_for(get_settings().database_url)) as session:
        session.scalars(select(Campaign)).one().state = "running"  # type: ignore[assignment]
    refused = run("campaign", "create", path, "--replace")
    assert refused.exit_code == 2
    assert "only a draft" in refused.stderr


def test_contacts_import_prints_the_summary(sample: Path) -> None:
    assert run("campaign", "create", EXAMPLES / "order-ready.toml").exit_code == 0
    assert run("blacklist", "import", EXAMPLES / "blacklist-sample.csv").exit_code == 0
    result = run("contacts", "import", "order-ready", sample)
    assert result.exit_code == 0, result.output
    assert "read 20, imported 15, duplicates 2, blacklisted 2, rejected 3" in result.stdout
    (rejects,) = sample.parent.glob("contacts.csv.rejects-*.csv")
    assert str(rejects) in result.stdout
    again = run("contacts", "import", "order-ready", sample, "--rejects", sample.parent / "r2.csv")
    assert "imported 0, duplicates 17" in again.stdout
    assert count(Contact) == 15


def test_each_import_keeps_its_own_rejects_file(sample: Path) -> None:
    assert run("campaign", "create", EXAMPLES / "order-ready.toml").exit_code == 0
    first = run("contacts", "import", "order-ready", sample)
    second = run("contacts", "import", "order-ready", sample)
    assert first.exit_code == second.exit_code == 0
    paths = sorted(sample.parent.glob("contacts.csv.rejects-*.csv"))
    assert len(paths) == 2  # the second import did not overwrite the first one's
    assert all(str(path) in first.stdout + second.stdout for path in paths)
    texts = {path.read_text(encoding="cp1251").count("\n") for path in paths}
    assert texts == {6, 21}  # a header, then 5 rows not imported the first time, all 20 next


def test_contacts_import_refuses_a_file_missing_a_placeholder_column(tmp_path: Path) -> None:
    assert run("campaign", "create", EXAMPLES / "order-ready.toml").exit_code == 0
    path = tmp_path / "c.csv"
    path.write_text("Телефон;Имя\n89260000001;Анна\n", encoding="utf-8")
    result = run("contacts", "import", "order-ready", path)
    assert result.exit_code == 2
    assert "{Номер заказа}" in result.stderr
    assert "nothing was imported" in result.stderr
    assert count(Contact) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("contacts", "import", "ghost", EXAMPLES / "contacts-sample.csv"), "no campaign named"),
        (("contacts", "import", "survey", "/nonexistent.csv"), "no such file"),
        (
            (
                "contacts",
                "import",
                "survey",
                EXAMPLES / "contacts-sample.csv",
                "--phone-column",
                "x",
            ),
            "no column 'x'",
        ),
    ],
)
def test_contacts_import_user_errors_exit_2(args: tuple[str | Path, ...], message: str) -> None:
    assert run("campaign", "create", EXAMPLES / "survey.toml").exit_code == 0
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_blacklist_add_list_remove(sample: Path) -> None:
    assert run("campaign", "create", EXAMPLES / "order-ready.toml").exit_code == 0
    assert run("contacts", "import", "order-ready", sample).exit_code == 0
    added = run("blacklist", "add", "8 (926) 000-00-02", "+7 926 000 00 03", "--note", "asked")
    assert added.exit_code == 0, added.output
    assert "added 2" in added.stdout
    listed = run("blacklist", "list")
    assert "79260000002\tmanual" in listed.stdout
    assert "asked" in listed.stdout
    with transaction(engine_for(get_settings().database_url)) as session:
        status = session.scalar(select(Contact.status).where(Contact.phone == "79260000002"))
    assert status == ContactStatus.BLACKLISTED
    removed = run("blacklist", "remove", "79260000002")
    assert "removed 1" in removed.stdout
    assert count(BlacklistEntry) == 1


def test_blacklist_add_refuses_a_bad_number_and_changes_nothing() -> None:
    result = run("blacklist", "add", "89260000001", "12")
    assert result.exit_code == 2
    assert "'12'" in result.stderr
    assert count(BlacklistEntry) == 0


# --- files as Excel makes them -------------------------------------------------------------------

DEBTORS_HEADER = "ФИО;Телефон;Сумма долга\r\n"


def _debtors(path: Path, encoding: str, rows: list[str], delimiter: str = ";") -> Path:
    text = (DEBTORS_HEADER + "".join(f"{row}\r\n" for row in rows)).replace(";", delimiter)
    path.write_bytes(text.encode(encoding))
    return path


def _survey() -> None:
    assert run("campaign", "create", EXAMPLES / "survey.toml").exit_code == 0


def _rejects_of(result: Result) -> list[list[str]]:
    marker = "rows not imported, with line numbers and reasons: "
    (line,) = [line for line in result.stdout.splitlines() if line.startswith(marker)]
    path = Path(line.removeprefix(marker))
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.reader(f, delimiter=";"))[1:]


def test_excel_unicode_text_imports(tmp_path: Path) -> None:
    _survey()
    rows = [f"Клиент {i};8 (926) 100-00-{i:02d};1500,50" for i in range(20)]
    path = _debtors(tmp_path / "debtors.txt", "utf-16", rows, delimiter="\t")
    result = run("contacts", "import", "survey", path)
    assert result.exit_code == 0, result.output
    assert "(utf-16, delimiter 'tab')" in result.stdout
    assert "read 20, imported 20" in result.stdout


def test_a_cp1251_file_is_read_as_cp1251(tmp_path: Path) -> None:
    _survey()
    rows = [f"Клиент {i};8 (926) 100-00-00;…" for i in range(150)]
    path = _debtors(tmp_path / "debtors.csv", "cp1251", rows)
    result = run("contacts", "import", "survey", path)
    assert result.exit_code == 0, result.output
    assert "(cp1251, delimiter ';')" in result.stdout
    assert "read 150, imported 1, duplicates 149" in result.stdout
    with transaction(open_database()) as session:
        variables = session.scalars(select(Contact.variables)).one()
    assert variables == {"ФИО": "Клиент 0", "Телефон": "8 (926) 100-00-00", "Сумма долга": "…"}


@pytest.mark.parametrize("command", [("contacts", "import", "survey"), ("blacklist", "import")])
def test_every_file_import_takes_encoding_and_delimiter(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    _survey()
    path = tmp_path / "odd.csv"
    path.write_bytes("Name|Phone\nZoë|89260000001\nJürgen|89260000002\n".encode("latin-1"))
    result = run(*command, path, "--encoding", "latin-1", "--delimiter", "|")
    assert result.exit_code == 0, result.output
    assert "read 2" in result.stdout
    assert count(Contact) + count(BlacklistEntry) == 2


@pytest.mark.parametrize("command", [("contacts", "import", "survey"), ("blacklist", "import")])
@pytest.mark.parametrize(
    ("option", "message"),
    [
        (("--encoding", "klingon"), "unknown encoding 'klingon' (usual ones: utf-8, cp1251"),
        (("--delimiter", ";;"), "';;' cannot be a delimiter: give one character"),
    ],
)
def test_a_bad_encoding_or_delimiter_exits_2(
    sample: Path, command: tuple[str, ...], option: tuple[str, str], message: str
) -> None:
    _survey()
    result = run(*command, sample, *option)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert count(Contact) + count(BlacklistEntry) == 0


def test_excel_scientific_numbers_and_extensions_get_reasons(tmp_path: Path) -> None:
    _survey()
    rows = ["Анна;7,92612E+10;1", "Борис;8 (926) 000-00-01 доб. 12;2", "Вера;89260000002;3"]
    path = _debtors(tmp_path / "d.csv", "utf-8", rows)
    result = run("contacts", "import", "survey", path)
    assert result.exit_code == 0, result.output
    assert "read 3, imported 1, duplicates 0, blacklisted 0, rejected 2" in result.stdout
    reasons = {row[0]: row[1] for row in _rejects_of(result)}
    assert "Excel wrote in scientific notation" in reasons["2"]
    assert "format the phone column as Number with 0 decimal places" in reasons["2"]
    assert "has an extension (12)" in reasons["3"]

    blacklisted = run("blacklist", "import", path)
    assert blacklisted.exit_code == 0
    assert "line 2: '7,92612E+10' is a number Excel wrote in scientific" in blacklisted.stderr
    assert "line 3: '8 (926) 000-00-01 доб. 12' has an extension (12)" in blacklisted.stderr


def test_a_2_mb_field_rejects_its_row_only(tmp_path: Path) -> None:
    _survey()
    rows = ["Анна;89260000001;1", f"{'x' * 2 * 2**20};89260000002;2", "Вера;89260000003;3"]
    result = run("contacts", "import", "survey", _debtors(tmp_path / "d.csv", "utf-8", rows))
    assert result.exit_code == 0, result.output
    assert "read 3, imported 2, duplicates 0, blacklisted 0, rejected 1" in result.stdout
    assert count(Contact) == 2


def test_numbers_of_other_countries_warn_unless_the_campaign_allows_them(tmp_path: Path) -> None:
    rows = ["Анна;89260000001;1", "Богдан;+380 44 123 4567;2", "Вера;+380 44 123 4568;3"]
    path = _debtors(tmp_path / "d.csv", "utf-8", rows)
    _survey()
    result = run("contacts", "import", "survey", path)
    assert result.exit_code == 0, result.output
    assert "imported 3" in result.stdout
    assert (
        "warning: 2 number(s) of other countries than RU, e.g. line 3: +380 44 123 4567 (UA); "
        "line 4: +380 44 123 4568 (UA); they will be called" in result.stderr
    )
    assert '[contacts] countries = ["RU", ...]' in result.stderr

    text = (EXAMPLES / "survey.toml").read_text(encoding="utf-8")
    allowing = tmp_path / "both.toml"
    allowing.write_text(
        text.replace('name = "survey"', 'name = "both"')
        + '\n[contacts]\ncountries = ["RU", "UA"]\n',
        encoding="utf-8",
    )
    assert run("campaign", "create", allowing).exit_code == 0
    quiet = run("contacts", "import", "both", path)
    assert quiet.exit_code == 0, quiet.output
    assert "imported 3" in quiet.stdout
    assert "warning" not in quiet.stderr


def test_a_bad_country_in_the_campaign_file_names_the_key(tmp_path: Path) -> None:
    text = (EXAMPLES / "survey.toml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text(text + '\n[contacts]\ncountries = ["RU", "Ukraine"]\n', encoding="utf-8")
    result = run("campaign", "create", bad)
    assert result.exit_code == 2
    assert '[contacts].countries[1]: "Ukraine" is not a country code' in result.stderr
    assert count(Campaign) == 0


@pytest.mark.parametrize(
    ("content", "code", "message"),
    [
        (b"", 2, "the file is empty (a header row is required)"),
        ("Телефон;Имя\r\n".encode("cp1251"), 0, "read 0, imported 0"),
        (b"\x00\xff\xfe\x81" * 50, 2, "no phone column among:"),
        (
            b'phone;note\n89260000001;"open\n89260000002;x\n',
            0,
            "read 1, imported 0, duplicates 0, blacklisted 0, rejected 1",
        ),
    ],
)
def test_odd_files_give_a_clear_answer(
    tmp_path: Path, content: bytes, code: int, message: str
) -> None:
    _survey()
    path = tmp_path / "odd.csv"
    path.write_bytes(content)
    result = run("contacts", "import", "survey", path)
    assert result.exit_code == code, result.output
    assert message in result.output
    assert "Traceback" not in result.output
