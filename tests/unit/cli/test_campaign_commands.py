"""`dialer campaign create|preview|delete` through the real command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from typer.testing import CliRunner, Result

import dialer.cli.main  # noqa: F401  (registers every command)
from dialer import campaigns
from dialer.callapi.errors import from_error_object
from dialer.cli.app import app
from dialer.cli.database import open_database
from dialer.db import transaction
from dialer.models import Attempt, Campaign, CampaignState, Contact

EXAMPLES = Path(__file__).resolve().parents[3] / "campaigns"
ORDER_READY = EXAMPLES / "order-ready.toml"
TOKEN = "secret-token-of-the-account"
runner = CliRunner()


def run(*args: str | Path, input: str | None = None) -> Result:
    return runner.invoke(app, [str(a) for a in args], input=input)


def import_contacts(tmp_path: Path, *rows: str) -> None:
    csv_file = tmp_path / "contacts.csv"
    header = "Телефон;Имя;Номер заказа;Пункт выдачи"
    csv_file.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    result = run("contacts", "import", "order-ready", csv_file)
    assert result.exit_code == 0, result.stderr


def set_state(state: CampaignState) -> None:
    with transaction(open_database()) as session:
        session.execute(update(Campaign).values(state=state))


def count(model: type[Campaign] | type[Contact] | type[Attempt]) -> int:
    with transaction(open_database()) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def without_window(tmp_path: Path) -> Path:
    path = tmp_path / "anytime.toml"
    path.write_text(ORDER_READY.read_text(encoding="utf-8").split("[window]")[0], encoding="utf-8")
    return path


# --- create ---------------------------------------------------------------------------------


def test_create_warns_when_the_campaign_has_no_window(tmp_path: Path) -> None:
    result = run("campaign", "create", without_window(tmp_path))

    assert result.exit_code == 0
    assert result.stderr == (
        "warning: campaign 'order-ready' has no [window]: contacts may be called at any hour, "
        'night included; add one to its file, e.g. [window] hours = ["09:00-21:00"]\n'
    )


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.toml")), ids=lambda p: p.name)
def test_the_examples_carry_a_window(example: Path) -> None:
    result = run("campaign", "create", example)
    assert (result.exit_code, result.stderr) == (0, "")


def test_the_replace_hint_works_for_a_draft() -> None:
    assert run("campaign", "create", ORDER_READY).exit_code == 0

    again = run("campaign", "create", ORDER_READY)
    assert again.exit_code == 2
    assert "already exists (use --replace to update it)" in again.stderr

    replaced = run("campaign", "create", ORDER_READY, "--replace")
    assert replaced.exit_code == 0, replaced.stderr
    assert count(Campaign) == 1


def test_a_finished_campaign_is_not_replaced_and_the_hint_says_what_works() -> None:
    assert run("campaign", "create", ORDER_READY).exit_code == 0
    set_state(CampaignState.COMPLETED)

    for extra in ((), ("--replace",)):
        result = run("campaign", "create", ORDER_READY, *extra)
        assert result.exit_code == 2
        assert result.stderr == (
            "dialer: campaign 'order-ready' already exists and is completed (only a draft can "
            "be replaced): `dialer campaign delete order-ready` removes it, or give the file "
            "another name\n"
        )
    assert run("campaign", "delete", "order-ready", "--yes").exit_code == 0
    assert run("campaign", "create", ORDER_READY).exit_code == 0


def test_replace_refuses_a_file_the_imported_contacts_cannot_fill(tmp_path: Path) -> None:
    assert run("campaign", "create", ORDER_READY).exit_code == 0
    import_contacts(tmp_path, "79261112233;Анна;A-1;Тверская")
    changed = tmp_path / "changed.toml"
    text = ORDER_READY.read_text(encoding="utf-8").replace("{Имя}", "{Отчество}")
    changed.write_text(text, encoding="utf-8")

    result = run("campaign", "create", changed, "--replace")

    assert result.exit_code == 2
    assert "uses {Отчество}, which its imported contacts lack; nothing was changed" in (
        result.stderr
    )


# --- text-to-speech length ------------------------------------------------------------------


@pytest.fixture
def tts_limit(monkeypatch: pytest.MonkeyPatch) -> int:
    """DIALER_TTS_MAX_LENGTH at 80 characters (the example's text is 60 without its fields)."""
    monkeypatch.setattr(campaigns, "tts_max_length", lambda: 80)
    return 80


def test_a_text_too_long_for_the_tariff_is_refused_at_create(
    tmp_path: Path, tts_limit: int
) -> None:
    long_file = tmp_path / "long.toml"
    text = ORDER_READY.read_text(encoding="utf-8").replace("готов", "готов " + "и ждёт " * 10)
    long_file.write_text(text, encoding="utf-8")

    result = run("campaign", "create", long_file)

    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"dialer: {long_file}: [params].contact_message.value: the text-to-speech text is "
    )
    assert f"even with its placeholders empty, more than the {tts_limit} the tariff allows" in (
        result.stderr
    )
    assert count(Campaign) == 0


def test_a_contact_whose_filled_text_is_too_long_is_rejected_at_import(
    tmp_path: Path, tts_limit: int
) -> None:
    assert run("campaign", "create", ORDER_READY).exit_code == 0
    import_contacts(
        tmp_path, "79261112233;Анна;A-1;Тверская", f"79261112234;{'Я' * 40};A-2;Тверская"
    )

    assert count(Contact) == 1
    rejects = next(tmp_path.glob("*rejects*")).read_text(encoding="utf-8")
    assert "79261112234" in rejects
    assert f"once filled in, more than the {tts_limit} the tariff allows" in rejects


# --- preview --------------------------------------------------------------------------------


def test_preview_shows_the_exact_request_with_the_token_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIALER_CALLAPI_ACCESS_TOKEN", TOKEN)
    assert run("campaign", "create", ORDER_READY).exit_code == 0
    import_contacts(tmp_path, "79261112233;Анна;A-1;Тверская", "8 926 111-22-44;Борис;A-2;Арбат")

    result = run("campaign", "preview", "order-ready", "--contact", "+7 926 111 22 44")

    assert result.exit_code == 0, result.stderr
    url, body = result.stdout.split("\n", 1)
    assert url == "POST https://callapi.uiscom.ru/v4.0"
    request = json.loads(body)
    assert request["method"] == "start.informer_call"
    params = request["params"]
    assert params["contact"] == "79261112244"
    assert params["contact_message"] == {
        "type": "tts",
        "value": "Здравствуйте, Борис! Ваш заказ A-2 готов к выдаче в пункте «Арбат».",
    }
    assert params["access_token"] == "***"
    assert params["external_id"].startswith("dialer-")
    assert TOKEN not in result.stdout + result.stderr


def test_preview_without_a_contact_shows_the_next_one_to_dial(tmp_path: Path) -> None:
    assert run("campaign", "create", ORDER_READY).exit_code == 0
    import_contacts(tmp_path, "79261112233;Анна;A-1;Тверская")

    result = run("campaign", "preview", "order-ready")

    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout.split("\n", 1)[1])["params"]["contact"] == "79261112233"
    assert "contact 79261112233 (pending)" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("no-such",), "dialer: no campaign named 'no-such'\n"),
        (("order-ready", "--contact", "79269999999"), "has no contact 79269999999"),
        (("order-ready", "--contact", "12"), "--contact: not a valid phone number: '12'"),
    ],
)
def test_preview_mistakes_exit_2(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    assert run("campaign", "create", ORDER_READY).exit_code == 0
    import_contacts(tmp_path, "79261112233;Анна;A-1;Тверская")

    result = run("campaign", "preview", *args)

    assert result.exit_code == 2
    assert message in result.stderr


def test_preview_of_a_campaign_without_contacts_says_so() -> None:
    assert run("campaign", "create", ORDER_READY).exit_code == 0
    result = run("campaign", "preview", "order-ready")
    assert result.exit_code == 2
    assert "has no contacts to preview; import them first" in result.stderr


# --- delete ---------------------------------------------------------------------------------


def test_delete_asks_first_and_keeps_everything_on_no(tmp_path: Path) -> None:
    assert run("campaign", "create", ORDER_READY).exit_code == 0
    import_contacts(tmp_path, "79261112233;Анна;A-1;Тверская")

    result = run("campaign", "delete", "order-ready", input="n\n")

    assert result.exit_code == 1
    assert "Delete campaign 'order-ready' (draft) with its 1 contacts and 0 attempts?" in (
        result.stdout
    )
    assert "dialer: nothing was deleted" in result.stderr
    assert (count(Campaign), count(Contact)) == (1, 1)


def test_delete_on_yes_removes_the_campaign_with_its_contacts(tmp_path: Path) -> None:
    assert run("campaign", "create", ORDER_READY).exit_code == 0
    import_contacts(tmp_path, "79261112233;Анна;A-1;Тверская")
    set_state(CampaignState.CANCELLED)

    result = run("campaign", "delete", "order-ready", input="y\n")

    assert result.exit_code == 0, result.stderr
    assert result.stdout.endswith(
        "deleted campaign 'order-ready' (cancelled) with its 1 contacts and 0 attempts\n"
    )
    assert (count(Campaign), count(Contact)) == (0, 0)


@pytest.mark.parametrize("state", [CampaignState.RUNNING, CampaignState.PAUSED])
def test_a_campaign_still_in_progress_is_not_deleted(state: CampaignState) -> None:
    assert run("campaign", "create", ORDER_READY).exit_code == 0
    set_state(state)

    result = run("campaign", "delete", "order-ready", "--yes")

    assert result.exit_code == 2
    assert result.stderr == (
        f"dialer: campaign 'order-ready' is {state.value}: only a draft or a finished campaign "
        "can be deleted (`dialer campaign cancel order-ready` finishes it)\n"
    )
    assert count(Campaign) == 1


# --- the text-to-speech limit the provider named ----------------------------------------------


def provider_named_limit(limit: int) -> None:
    """The engine's step on a `tts_text_exceeded` answer naming `limit`."""
    refusal = from_error_object(
        {
            "code": -32602,
            "message": f"The maximum length of Text-to-Speech message is {limit}. "
            "The length of your message is 95",
            "data": {
                "mnemonic": "tts_text_exceeded",
                "field": "contact_message.value",
                "params": {"tts_message_max_length": limit, "sent_tts_message_length": 95},
            },
        }
    )
    with transaction(open_database()) as session:
        campaigns.learn_tts_limit(session, session.scalars(select(Campaign)).one(), refusal)


def test_after_the_provider_names_its_tts_limit_imports_and_show_follow_it(
    tmp_path: Path,
) -> None:
    assert run("campaign", "create", ORDER_READY).exit_code == 0
    provider_named_limit(80)
    provider_named_limit(90)  # a higher figure later does not loosen the limit

    import_contacts(
        tmp_path, "79261112233;Анна;A-1;Тверская", f"79261112234;{'Я' * 40};A-2;Тверская"
    )

    assert count(Contact) == 1
    rejects = next(tmp_path.glob("*rejects*")).read_text(encoding="utf-8")
    said = "as the provider said in an earlier tts_text_exceeded"
    assert f"once filled in, more than the 80 the tariff allows, {said}" in rejects
    shown = run("campaign", "show", "order-ready")
    assert shown.exit_code == 0
    assert (
        "Text-to-speech texts: at most 80 characters (named by the provider); "
        "longer ones fail without a request"
    ) in shown.stdout
    assert (
        json.loads(run("campaign", "show", "order-ready", "--json").stdout)["tts_limit_learned"]
        == 80
    )
    in_russian = run("campaign", "show", "order-ready", "--lang", "ru").stdout
    assert "Тексты для синтеза речи: не длиннее 80 символов (ограничение провайдера)" in in_russian
