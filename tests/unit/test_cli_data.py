"""`dialer db`, `dialer campaign create`, `dialer contacts import` and `dialer blacklist` through
the real command line, on a fresh SQLite file that the commands migrate themselves."""

from __future__ import annotations

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
