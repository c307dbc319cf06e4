"""Settings from `DIALER_*` variables: defaults, types, errors naming the variable, secrets."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dialer.config import ConfigError, get_settings, load_settings, variable


def test_defaults_run_on_a_laptop(tmp_path: Path) -> None:
    settings = load_settings()
    assert settings.home == tmp_path / "home"
    assert settings.database_url == f"sqlite:///{(tmp_path / 'home' / 'dialer.db').as_posix()}"
    assert settings.uses_embedded_broker
    assert settings.broker_folder == tmp_path / "home" / "broker"
    assert settings.access_token is None
    assert settings.dataapi_access_token is None
    assert settings.account_timezone == ZoneInfo("Europe/Moscow")
    assert settings.outcomes_enabled is True
    assert (settings.outcomes_interval, settings.outcome_timeout) == (60.0, 21_600.0)
    assert settings.tts_max_length is None
    assert settings.dataapi_url == "https://dataapi.uiscom.ru/v2.0"
    assert settings.account_key == "https://callapi.uiscom.ru/v4.0#anonymous"


def test_each_variable_reaches_its_attribute(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "CALLAPI_CONNECT_TIMEOUT": "2.5",
        "MINUTE_LIMIT": "120",
        "BACKOFF": "on",
        "OUTCOMES": "off",
        "METHOD_COSTS": "start.informer_call=2, list.calls=1",
        "ACCOUNT_TIMEZONE": "Asia/Yekaterinburg",
        "TTS_MAX_LENGTH": "1000",
        "QUEUE": " campaigns ",
    }.items():
        monkeypatch.setenv(f"DIALER_{name}", value)
    settings = load_settings()
    assert settings.connect_timeout == 2.5
    assert settings.minute_limit_guess == 120
    assert settings.backoff_enabled is True
    assert settings.outcomes_enabled is False
    assert settings.method_costs == {"start.informer_call": 2, "list.calls": 1}
    assert settings.cost("start.informer_call") == 2
    assert settings.cost("get.account") == 1
    assert settings.account_timezone == ZoneInfo("Asia/Yekaterinburg")
    assert settings.tts_max_length == 1000
    assert settings.queue == "campaigns"


def test_an_empty_variable_means_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIALER_MAX_QUEUED", "")
    monkeypatch.setenv("DIALER_BROKER_URL", "")
    assert load_settings().max_queued == 5_000
    assert load_settings().uses_embedded_broker


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("DIALER_MAX_QUEUED", "lots", "DIALER_MAX_QUEUED: Input should be a valid integer"),
        ("DIALER_CALLAPI_READ_TIMEOUT", "-1", "DIALER_CALLAPI_READ_TIMEOUT: Input should be"),
        ("DIALER_BACKOFF", "maybe", "DIALER_BACKOFF: Input should be a valid boolean"),
        ("DIALER_METHOD_COSTS", "start.informer_call", "DIALER_METHOD_COSTS: a method cost"),
        ("DIALER_ACCOUNT_TIMEZONE", "Mars/Olympus", "DIALER_ACCOUNT_TIMEZONE: not a time zone"),
        ("DIALER_BROKER_URL", "rabbitmq://guest@h//", "no broker scheme rabbitmq://, use amqp://"),
        ("DIALER_CALLAPI_LOGIN", "ops", "DIALER_CALLAPI_LOGIN and DIALER_CALLAPI_PASSWORD go"),
    ],
)
def test_a_bad_value_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, said: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert said in str(caught.value)
    assert "\n" not in str(caught.value)


def test_secrets_stay_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIALER_CALLAPI_ACCESS_TOKEN", "key-that-must-not-show")
    monkeypatch.setenv("DIALER_CALLAPI_LOGIN", "ops")
    monkeypatch.setenv("DIALER_CALLAPI_PASSWORD", "password-that-must-not-show")
    settings = load_settings()
    shown = repr(settings) + str(settings) + settings.account_key
    assert "key-that-must-not-show" not in shown
    assert "password-that-must-not-show" not in shown
    assert settings.access_token is not None
    assert settings.access_token.get_secret_value() == "key-that-must-not-show"


def test_a_bad_secret_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIALER_CALLAPI_ACCESS_TOKEN", "key-that-must-not-show")
    monkeypatch.setenv("DIALER_CALLAPI_LOGIN", "ops")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "key-that-must-not-show" not in str(caught.value)


def test_the_data_api_key_defaults_to_the_call_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIALER_CALLAPI_ACCESS_TOKEN", "one-key")
    assert load_settings().dataapi_access_token == load_settings().access_token
    monkeypatch.setenv("DIALER_DATAAPI_ACCESS_TOKEN", "other-key")
    token = load_settings().dataapi_access_token
    assert token is not None
    assert token.get_secret_value() == "other-key"


def test_the_account_key_names_the_account_not_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIALER_CALLAPI_ACCESS_TOKEN", "k1")
    first = load_settings().account_key
    monkeypatch.setenv("DIALER_CALLAPI_ACCESS_TOKEN", "k2")
    assert load_settings().account_key != first
    assert "k1" not in first
    assert first.startswith("https://callapi.uiscom.ru/v4.0#key:")
    monkeypatch.setenv("DIALER_CALLAPI_LOGIN", "ops")
    monkeypatch.setenv("DIALER_CALLAPI_PASSWORD", "pw")
    assert load_settings().account_key == "https://callapi.uiscom.ru/v4.0#ops"


def test_keywords_win_over_the_environment_and_settings_are_frozen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DIALER_MINUTE_LIMIT", "5")
    settings = load_settings(minute_limit_guess=7)
    assert settings.minute_limit_guess == 7
    assert settings.model_copy(update={"max_queued": 3}).max_queued == 3
    with pytest.raises(ValueError, match="frozen"):
        settings.max_queued = 1


def test_get_settings_is_read_once_until_cleared(monkeypatch: pytest.MonkeyPatch) -> None:
    first = get_settings()
    monkeypatch.setenv("DIALER_QUEUE", "other")
    assert get_settings() is first
    get_settings.cache_clear()
    assert get_settings().queue == "other"


def test_variable_names_the_environment_variable() -> None:
    assert variable("access_token") == "DIALER_CALLAPI_ACCESS_TOKEN"
    assert variable("minute_limit_guess") == "DIALER_MINUTE_LIMIT"
    assert variable("dispatch_interval") == "DIALER_DISPATCH_INTERVAL"
