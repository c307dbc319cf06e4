"""Campaign files: the examples load, and every mistake is reported with the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dialer.campaigns import (
    CampaignError,
    CampaignFileError,
    calls_at_any_hour,
    create_campaign,
    find_campaign,
    load_campaign_file,
    parse_campaign,
    tts_texts,
    tts_too_long,
)
from dialer.models import Campaign, CampaignState
from dialer.options import CampaignOptions

EXAMPLES = Path(__file__).resolve().parents[2] / "campaigns"

GOOD = """
name = "order-ready"
method = "start.informer_call"
[params]
virtual_phone_number = "74993720692"
dialing_timeout = 30
contact_message = { type = "tts", value = "Здравствуйте, {name}! Ваш заказ {order} готов." }
[window]
timezone = "Europe/Moscow"
contact_timezone = false
days = ["mon", "tue", "wed", "thu", "fri"]
hours = ["09:00-13:00", "14:00-24:00"]
[retry]
attempts = 3
delays = ["5m", 900, "30s", "2h"]
[pace]
calls_per_minute = 30
"""


def test_the_example_campaigns_load() -> None:
    informer = load_campaign_file(EXAMPLES / "order-ready.toml")
    assert informer.method == "start.informer_call"
    assert informer.placeholders == {"Имя", "Номер заказа", "Пункт выдачи"}
    survey = load_campaign_file(EXAMPLES / "survey.toml")
    assert survey.method == "start.scenario_call"
    assert survey.params["scenario_id"] == 23456


def test_a_good_file_is_parsed_into_params_and_options() -> None:
    spec = parse_campaign(GOOD, "good.toml")
    assert spec.name == "order-ready"
    assert spec.params["direction"] == "out"  # always sent explicitly
    assert spec.params["contact_message"]["value"].endswith("{order} готов.")
    window = spec.options.window
    assert window.days == (0, 1, 2, 3, 4)
    assert window.hours == ((540, 780), (840, 1440))
    assert spec.options.retry.rounds == 3
    assert spec.options.retry.delays == (300.0, 900.0, 30.0, 7200.0)
    assert spec.options.pace.calls_per_minute == 30
    assert CampaignOptions.from_json(spec.options.to_json()) == spec.options
    assert spec.source == GOOD


def test_optional_sections_take_their_defaults() -> None:
    spec = parse_campaign(
        'name = "x"\nmethod = "start.informer_call"\n[params]\n'
        'virtual_phone_number = "74993720692"\n'
        'contact_message = { type = "media", value = "237" }\ndirection = "in"\n'
    )
    assert spec.options == CampaignOptions()
    assert spec.params["direction"] == "in"


def _with(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (_with("dialing_timeout = 30", "dialing_timeout = 121"), "[params].dialing_timeout: must"),
        (
            _with('"14:00-24:00"', '"25:00-26:00"'),
            '[window].hours[1]: "25:00-26:00" is not a time range',
        ),
        (_with('"14:00-24:00"', '"13:00-09:00"'), '[window].hours[1]: "13:00-09:00" ends before'),
        (_with('"14:00-24:00"', '"12:00-15:00"'), "[window].hours: time ranges overlap"),
        ("colour = 1\n" + GOOD, "colour: unknown key"),
        (_with('timezone = "Europe/Moscow"', 'timezone = "Mars/Olympus"'), "[window].timezone:"),
        (_with("contact_timezone = false", "contact_timezone = 1"), "[window].contact_timezone"),
        (_with('"fri"]', '"fry"]'), '[window].days[4]: "fry" is not a weekday'),
        (_with("[pace]", "[pace]\nburst = 2"), "[pace].burst: unknown key"),
        (_with("calls_per_minute = 30", "calls_per_minute = 0"), "[pace].calls_per_minute"),
        (_with("attempts = 3", "attempts = 0"), "[retry].attempts"),
        (_with("attempts = 3", "attempts = true"), "[retry].attempts"),
        (_with('"30s"', '"soon"'), '[retry].delays[2]: "soon" is not a delay'),
        (_with("dialing_timeout = 30", 'contact = "79260000000"'), "[params].contact: is filled"),
        (_with("dialing_timeout = 30", 'access_token = "x"'), "[params].access_token: is filled"),
        (_with("dialing_timeout = 30", 'external_id = "x"'), "[params].external_id: is filled"),
        (_with("dialing_timeout = 30", "colour = 1"), "[params].colour:"),
        (_with('type = "tts"', 'type = "mp3"'), "[params].contact_message.type:"),
        (_with('virtual_phone_number = "74993720692"', ""), "[params].virtual_phone_number:"),
        (_with("готов.", "готов. {oops"), "[params].contact_message.value: unmatched"),
        (_with('method = "start.informer_call"', 'method = "list.calls"'), "method: 'list.calls'"),
        (_with('name = "order-ready"', 'name = ""'), "name: is required"),
        (_with("[params]", "[paramz]"), "paramz: unknown key"),
    ],
)
def test_each_mistake_names_the_file_and_the_key(text: str, expected: str) -> None:
    with pytest.raises(CampaignFileError) as info:
        parse_campaign(text, "campaigns/bad.toml")
    message = str(info.value)
    assert message.startswith("campaigns/bad.toml: ")
    assert expected in message


def test_a_toml_syntax_error_gives_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('name = "x"\nmethod = start.informer_call\n', encoding="utf-8")
    with pytest.raises(CampaignFileError) as info:
        load_campaign_file(path)
    assert str(path) in str(info.value)
    assert "TOML syntax error" in str(info.value)
    assert "line 2" in str(info.value)


def test_a_missing_file_is_a_campaign_file_error(tmp_path: Path) -> None:
    with pytest.raises(CampaignFileError, match="cannot read"):
        load_campaign_file(tmp_path / "nope.toml")


def test_create_stores_a_draft_and_replace_updates_it(session: Session) -> None:
    spec = parse_campaign(GOOD)
    campaign = create_campaign(session, spec)
    assert campaign.state == CampaignState.DRAFT
    assert campaign.options == spec.options.to_json()
    assert campaign.source == GOOD
    with pytest.raises(CampaignError, match="already exists"):
        create_campaign(session, spec)
    changed = parse_campaign(_with("dialing_timeout = 30", "dialing_timeout = 60"))
    again = create_campaign(session, changed, replace=True)
    assert again.id == campaign.id
    assert again.params["dialing_timeout"] == 60
    assert session.scalar(select(func.count()).select_from(Campaign)) == 1
    assert find_campaign(session, "order-ready").id == campaign.id
    assert find_campaign(session, str(campaign.id)).id == campaign.id


def test_replace_refuses_a_campaign_that_has_started(session: Session) -> None:
    campaign = create_campaign(session, parse_campaign(GOOD))
    campaign.state = CampaignState.RUNNING
    session.flush()
    with pytest.raises(CampaignError, match="only a draft can be replaced"):
        create_campaign(session, parse_campaign(GOOD), replace=True)


def test_find_campaign_fails_clearly(session: Session) -> None:
    with pytest.raises(CampaignError, match="no campaign named 'ghost'"):
        find_campaign(session, "ghost")


def test_tts_texts_are_found_at_any_depth() -> None:
    params = {
        "contact_message": {"type": "tts", "value": "Здравствуйте"},
        "operator_message": {"type": "media", "value": "123"},
        "menu": [{"prompt": {"type": "tts", "value": "Нажмите 1"}}],
    }
    assert list(tts_texts(params)) == [
        ("contact_message.value", "Здравствуйте"),
        ("menu[0].prompt.value", "Нажмите 1"),
    ]
    assert tts_too_long(params, 10) == ("contact_message.value", 12)
    assert tts_too_long(params, 12) is None


def test_only_a_file_without_a_window_calls_at_any_hour() -> None:
    assert not calls_at_any_hour(parse_campaign(GOOD).options.window)
    no_window = GOOD.split("[window]", maxsplit=1)[0] + "[retry]" + GOOD.split("[retry]")[1]
    assert calls_at_any_hour(parse_campaign(no_window).options.window)
