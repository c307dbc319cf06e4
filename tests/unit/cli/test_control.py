"""`dialer campaign start|pause|resume|cancel|requeue` through the real command line."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from sqlalchemy import update
from typer.testing import CliRunner, Result

import dialer.cli.main  # noqa: F401  (registers every command)
from dialer.cli.app import app
from dialer.cli.control import interrupted_message
from dialer.cli.database import open_database
from dialer.db import transaction
from dialer.models import Campaign, CampaignState, Contact, ContactStatus
from dialer.reports.messages import Lang, Texts

EXAMPLES = Path(__file__).resolve().parents[3] / "campaigns"
runner = CliRunner()


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Starting a campaign needs Call API credentials."""
    monkeypatch.setenv("DIALER_CALLAPI_ACCESS_TOKEN", "test-token")


def run(*args: str | Path) -> Result:
    return runner.invoke(app, [str(a) for a in args])


def campaign_state() -> tuple[CampaignState, str | None]:
    with transaction(open_database()) as session:
        campaign = session.query(Campaign).one()
        return campaign.state, campaign.pause_reason


def add_contacts(*statuses: ContactStatus) -> None:
    with transaction(open_database()) as session:
        campaign = session.query(Campaign).one()
        session.add_all(
            Contact(campaign_id=campaign.id, phone=f"7926000000{i}", status=status)
            for i, status in enumerate(statuses)
        )


def test_the_life_of_a_campaign() -> None:
    assert run("campaign", "create", EXAMPLES / "order-ready.toml").exit_code == 0
    add_contacts(ContactStatus.PENDING, ContactStatus.PLACED)

    started = run("campaign", "start", "order-ready")
    assert (started.exit_code, started.stdout) == (0, "order-ready: running\n")
    assert started.stderr == ""  # the example has a calling window: no warning
    assert run("campaign", "pause", "order-ready").stdout == "order-ready: paused\n"
    assert campaign_state() == (CampaignState.PAUSED, "paused by an operator")
    assert run("campaign", "resume", "order-ready").stdout == "order-ready: running\n"
    assert run("campaign", "cancel", "order-ready").stdout == "order-ready: cancelled\n"
    assert campaign_state()[0] == CampaignState.CANCELLED


def test_a_refused_transition_exits_2_with_one_line() -> None:
    assert run("campaign", "create", EXAMPLES / "order-ready.toml").exit_code == 0

    result = run("campaign", "resume", "order-ready")

    assert result.exit_code == 2
    assert result.stderr == "dialer: campaign 'order-ready' is draft, not paused\n"


def test_an_unknown_campaign_exits_2() -> None:
    result = run("campaign", "start", "no-such")
    assert result.exit_code == 2
    assert "no-such" in result.stderr


def test_requeue_sends_unknown_contacts_back() -> None:
    assert run("campaign", "create", EXAMPLES / "order-ready.toml").exit_code == 0
    add_contacts(ContactStatus.UNKNOWN, ContactStatus.UNKNOWN, ContactStatus.PLACED)
    with transaction(open_database()) as session:
        session.execute(update(Campaign).values(state=CampaignState.COMPLETED))

    result = run("campaign", "requeue", "order-ready")

    assert (result.exit_code, result.stdout) == (0, "2 contacts back to pending\n")
    assert campaign_state()[0] == CampaignState.PAUSED
    refused = run("campaign", "requeue", "order-ready", "--status", "placed")
    assert refused.exit_code == 2


def test_a_misspelt_status_lists_the_statuses() -> None:
    assert run("campaign", "create", EXAMPLES / "order-ready.toml").exit_code == 0

    result = run("campaign", "requeue", "order-ready", "--status", "placd")

    assert result.exit_code == 2
    statuses = ", ".join(status.value for status in ContactStatus)
    assert result.stderr == f"dialer: 'placd' is not a contact status (one of: {statuses})\n"
    assert "pending, queued, dialing, placed" in statuses


def test_help_names_its_placeholders() -> None:
    result = run("campaign", "requeue", "--help")
    assert result.exit_code == 0
    assert "--status STATUS" in result.stdout
    assert "cancelled, failed, unknown" in result.stdout
    assert "<list[str]>" not in result.stdout


def test_an_empty_campaign_is_not_started() -> None:
    assert run("campaign", "create", EXAMPLES / "order-ready.toml").exit_code == 0

    for command in (("campaign", "start"), ("run",)):
        result = run(*command, "order-ready")
        assert result.exit_code == 2, command
        assert result.stderr == (
            "dialer: campaign 'order-ready' has no contacts; import them first: "
            "`dialer contacts import order-ready contacts.csv`\n"
        )
    assert campaign_state() == (CampaignState.DRAFT, None)


def test_run_with_a_wrong_name_exits_2() -> None:
    result = run("run", "no-such")
    assert result.exit_code == 2
    assert result.stderr == "dialer: no campaign named 'no-such'\n"


def test_starting_a_campaign_without_a_window_warns(tmp_path: Path) -> None:
    campaign_file = tmp_path / "anytime.toml"
    text = (EXAMPLES / "order-ready.toml").read_text(encoding="utf-8")
    campaign_file.write_text(text.split("[window]")[0], encoding="utf-8")
    assert run("campaign", "create", campaign_file).exit_code == 0
    add_contacts(ContactStatus.PENDING)

    result = run("campaign", "start", "order-ready")

    assert (result.exit_code, result.stdout) == (0, "order-ready: running\n")
    assert (
        "warning: campaign 'order-ready' has no [window]: contacts may be called at any hour"
        in (result.stderr)
    )


def test_new_contacts_reopen_a_completed_campaign(tmp_path: Path) -> None:
    assert run("campaign", "create", EXAMPLES / "order-ready.toml").exit_code == 0
    add_contacts(ContactStatus.PLACED)
    with transaction(open_database()) as session:
        session.execute(update(Campaign).values(state=CampaignState.COMPLETED))
    contacts = tmp_path / "more.csv"
    contacts.write_text(
        "Телефон;Имя;Номер заказа;Пункт выдачи\n79261112233;Анна;1;Тверская\n", encoding="utf-8"
    )

    assert run("contacts", "import", "order-ready", contacts).exit_code == 0

    assert campaign_state() == (
        CampaignState.PAUSED,
        "new contacts imported; resume to dial them",
    )
    assert run("campaign", "resume", "order-ready").stdout == "order-ready: running\n"


@pytest.mark.parametrize("command", [("campaign", "start"), ("campaign", "resume"), ("run",)])
def test_no_credentials_stop_a_campaign_before_it_starts(
    monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...]
) -> None:
    monkeypatch.delenv("DIALER_CALLAPI_ACCESS_TOKEN")
    assert run("campaign", "create", EXAMPLES / "order-ready.toml").exit_code == 0

    result = run(*command, "order-ready")

    assert result.exit_code == 2
    assert result.stderr == (
        "dialer: no Call API credentials: set DIALER_CALLAPI_ACCESS_TOKEN, "
        "or DIALER_CALLAPI_LOGIN and DIALER_CALLAPI_PASSWORD\n"
    )
    assert campaign_state()[0] == CampaignState.DRAFT


# --- in Russian -----------------------------------------------------------------------------


def test_the_summaries_in_russian_with_lang_or_dialer_lang(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = run("campaign", "create", EXAMPLES / "order-ready.toml", "--lang", "ru")
    assert created.exit_code == 0
    assert created.stdout.startswith("кампания 'order-ready' (id 1) создана как черновик: ")
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(
        "Телефон;Имя;Номер заказа;Пункт выдачи\n79261112233;Анна;1;Тверская\nнет;Борис;2;Арбат\n",
        encoding="utf-8",
    )
    imported = run("contacts", "import", "order-ready", contacts, "--lang", "ru")
    assert imported.exit_code == 0
    assert "прочитано 2, загружено 1, повторов 0, в чёрном списке 0, отклонено 1" in (
        imported.stdout
    )
    assert "незагруженные строки, с номерами строк и причинами: " in imported.stdout

    monkeypatch.setenv("DIALER_LANG", "ru")
    assert run("campaign", "start", "order-ready").stdout == "order-ready: идёт\n"
    assert run("campaign", "pause", "order-ready").stdout == "order-ready: на паузе\n"
    assert run("campaign", "resume", "order-ready").stdout == "order-ready: идёт\n"
    listed = run("campaign", "list")
    assert listed.stdout.startswith("order-ready  идёт")
    assert run("campaign", "requeue", "order-ready").stdout == (
        "контактов возвращено в ожидание: 0\n"
    )
    assert run("campaign", "cancel", "order-ready").stdout == "order-ready: отменена\n"
    # English stays the default.
    monkeypatch.delenv("DIALER_LANG")
    assert run("campaign", "list").stdout.startswith("order-ready  cancelled")


def test_the_warning_without_a_window_in_russian(tmp_path: Path) -> None:
    campaign_file = tmp_path / "anytime.toml"
    text = (EXAMPLES / "order-ready.toml").read_text(encoding="utf-8")
    campaign_file.write_text(text.split("[window]")[0], encoding="utf-8")
    assert run("campaign", "create", campaign_file, "--lang", "ru").exit_code == 0
    add_contacts(ContactStatus.PENDING)

    result = run("campaign", "start", "order-ready", "--lang", "ru")

    assert result.exit_code == 0
    assert result.stderr.startswith(
        "внимание: у кампании 'order-ready' нет [window]: звонки возможны в любое время"
    )


def test_an_unknown_language_exits_2() -> None:
    result = run("campaign", "list", "--lang", "de")
    assert result.exit_code == 2
    assert "'de' is not one of 'en', 'ru'" in result.stderr


def _command_paths(command: object, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    subcommands = getattr(command, "commands", None)
    if subcommands is None:
        return [path]
    return [p for name, sub in subcommands.items() for p in _command_paths(sub, (*path, name))]


def test_no_option_shows_a_python_type_for_its_values() -> None:
    for path in _command_paths(typer.main.get_command(app)):
        options = run(*path, "--help").stdout.split("Options:")[-1]
        assert "<list[" not in options, path


def test_the_interrupted_run_says_how_to_go_on_in_russian() -> None:
    said = interrupted_message("order-ready", Texts(Lang.RU))
    assert said.startswith("прервано; кампания 'order-ready' продолжает работать")
    assert "`dialer run order-ready` продолжит её" in said


def test_a_campaign_without_contacts_says_so_instead_of_100_percent() -> None:
    assert run("campaign", "create", EXAMPLES / "order-ready.toml").exit_code == 0

    listed = run("campaign", "list").stdout
    shown = run("campaign", "show", "order-ready").stdout

    assert listed == "order-ready  draft      no contacts\n"
    assert "(100.0%)" not in shown
    assert "Progress: no contacts yet (add them with `dialer contacts import`)" in shown
    assert "нет контактов" in run("campaign", "list", "--lang", "ru").stdout
