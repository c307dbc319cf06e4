"""The mnemonic → error class → handling table, and the code-group fallback."""

from __future__ import annotations

from typing import Any

import pytest

from dialer.callapi import errors
from dialer.callapi.errors import (
    CODE_GROUPS,
    MNEMONICS,
    ApiError,
    BlacklistedError,
    ContactError,
    Handling,
    RateLimitError,
    RequestError,
    from_error_object,
)
from dialer.callapi.limits import Limits
from dialer.simulator.refusals import error_code_for
from tests.unit.callapi.vectors import ERROR_EXAMPLE, LIMITS

# What each mnemonic must lead to, written out so that a change to MNEMONICS is a visible decision.
EXPECTED_HANDLING: dict[str, Handling] = {
    "internal_error": Handling.TRANSIENT,
    "limit_exceeded": Handling.RATE,
    "access_token_expired": Handling.AUTH,
    "access_token_blocked": Handling.AUTH,
    "access_token_invalid": Handling.AUTH,
    "auth_error": Handling.AUTH,
    "contact_in_blacklist": Handling.CONTACT,
    "own_virtual_phone_number_not_allowed": Handling.CONTACT,
    "tts_text_exceeded": Handling.CONTACT,
    "virtual_phone_number_not_found": Handling.CAMPAIGN,
    "scenario_not_found": Handling.CAMPAIGN,
    "media_file_not_found": Handling.CAMPAIGN,
    "employee_not_found": Handling.CAMPAIGN,
    "no_active_phone_number": Handling.CAMPAIGN,
    "component_disabled": Handling.CAMPAIGN,
    "ip_not_whitelisted": Handling.CAMPAIGN,
    "forbidden": Handling.CAMPAIGN,
    "account_inactive": Handling.CAMPAIGN,
    "parse_error": Handling.REQUEST,
    "invalid_request": Handling.REQUEST,
    "method_not_found": Handling.REQUEST,
    "data_type_error": Handling.REQUEST,
    "required_parameter_missed": Handling.REQUEST,
    "invalid_parameter_value": Handling.REQUEST,
    "unexpected_parameters": Handling.REQUEST,
    "invalid_parameters_combination": Handling.REQUEST,
    "character_encoding_not_allowed": Handling.REQUEST,
    "call_session_not_found": Handling.REQUEST,
    "batch_opreations_not_supported": Handling.REQUEST,
    "notifications_not_supported": Handling.REQUEST,
    "batch_operations_not_supported": Handling.REQUEST,
    "method_component_disabled": Handling.CAMPAIGN,
    "parameter_component_disabled": Handling.CAMPAIGN,
    "date_interval_limit_reached": Handling.REQUEST,
    "filter_prohibited": Handling.REQUEST,
    "sort_prohibited": Handling.REQUEST,
}
# The Data API's reading where it differs: no access to reports never stops the campaign.
DATA_API_ACCESS = (
    "ip_not_whitelisted",
    "forbidden",
    "component_disabled",
    "method_component_disabled",
    "parameter_component_disabled",
    "account_inactive",
)


def error_object(code: int, mnemonic: str | None = None, **data: Any) -> dict[str, Any]:
    """A JSON-RPC error object as the provider sends it."""
    if mnemonic is not None:
        data["mnemonic"] = mnemonic
    return {"code": code, "message": "text", "data": data}


def test_every_mnemonic_has_an_expected_handling() -> None:
    assert set(MNEMONICS) == set(EXPECTED_HANDLING)


@pytest.mark.parametrize(("mnemonic", "cls"), sorted(MNEMONICS.items()))
def test_mnemonic_maps_to_its_class_and_handling(mnemonic: str, cls: type[ApiError]) -> None:
    error = from_error_object(error_object(error_code_for(mnemonic), mnemonic))
    assert type(error) is cls
    assert error.mnemonic == mnemonic
    assert error.handling is EXPECTED_HANDLING[mnemonic]


@pytest.mark.parametrize("mnemonic", sorted(MNEMONICS))
def test_mnemonic_wins_over_a_misleading_code(mnemonic: str) -> None:
    # -32603 alone would mean "transient"; the mnemonic must decide.
    error = from_error_object(error_object(-32603, mnemonic))
    assert type(error) is MNEMONICS[mnemonic]


@pytest.mark.parametrize(("code", "cls"), sorted(CODE_GROUPS.items()))
def test_unknown_mnemonic_falls_back_to_its_code_group(code: int, cls: type[ApiError]) -> None:
    error = from_error_object(error_object(code, "brand_new_mnemonic"))
    assert type(error) is cls
    assert error.mnemonic == "brand_new_mnemonic"


def test_error_without_data_falls_back_to_its_code_group() -> None:
    error = from_error_object({"code": -32029, "message": "slow down"})
    assert type(error) is RateLimitError
    assert error.mnemonic is None


@pytest.mark.parametrize("code", [-32602, -32004, -32099, 0])
def test_unknown_mnemonic_in_another_group_is_a_request_error(code: int) -> None:
    assert type(from_error_object(error_object(code, "brand_new_mnemonic"))) is RequestError


@pytest.mark.parametrize("code", [-32602, -32002])
def test_blacklist_under_either_documented_code(code: int) -> None:
    error = from_error_object(error_object(code, "contact_in_blacklist", field="contact"))
    assert type(error) is BlacklistedError
    assert isinstance(error, ContactError)
    assert error.handling is Handling.CONTACT


@pytest.mark.parametrize("mnemonic", ["invalid_parameter_value", "data_type_error"])
def test_bad_value_of_the_contact_is_the_contacts_fault(mnemonic: str) -> None:
    error = from_error_object(error_object(-32602, mnemonic, field="contact", value="номер"))
    assert type(error) is ContactError
    assert error.handling is Handling.CONTACT


def test_bad_value_of_another_field_is_our_fault() -> None:
    error = from_error_object(error_object(-32602, "invalid_parameter_value", field="dtmf_string"))
    assert type(error) is RequestError


def test_docs_error_example() -> None:
    error = from_error_object(ERROR_EXAMPLE["error"])
    assert type(error) is ContactError
    assert (error.code, error.mnemonic, error.field, error.value) == (
        -32602,
        "data_type_error",
        "contact",
        "номер",
    )
    assert error.message == "Data supplied is of wrong type"
    assert error.params == {"object": None}
    assert "data_type_error" in str(error)


@pytest.mark.parametrize(
    ("limit_type", "kind", "retry_after"), [("minute", "minute", 42.0), ("day", "day", 43200.0)]
)
def test_rate_limit_waits_for_the_named_reset(
    limit_type: str, kind: str, retry_after: float
) -> None:
    limits = Limits.from_mapping(LIMITS)
    raw = error_object(-32029, "limit_exceeded", params={"limit_type": limit_type})
    error = from_error_object(raw, limits)
    assert isinstance(error, RateLimitError)
    assert error.limit_type == kind
    assert error.retry_after == retry_after
    assert error.limits == limits


def test_rate_limit_without_limits_has_no_retry_after() -> None:
    error = from_error_object(error_object(-32029, "limit_exceeded"))
    assert isinstance(error, RateLimitError)
    assert error.retry_after is None


def test_transport_errors_handling() -> None:
    assert errors.NotSentError("x").handling is Handling.TRANSIENT
    assert errors.AmbiguousError("x").handling is Handling.AMBIGUOUS
    assert errors.BadReplyError("x", status_code=502).handling is Handling.TRANSIENT
    assert errors.NoReplyError("x").handling is Handling.TRANSIENT
    assert errors.InvalidParams("m", "f", "data_type_error", "x").handling is Handling.REQUEST


@pytest.mark.parametrize("mnemonic", DATA_API_ACCESS)
def test_data_api_reads_access_refusals_as_no_access(mnemonic: str) -> None:
    error = from_error_object(error_object(error_code_for(mnemonic), mnemonic), data_api=True)
    assert type(error) is errors.DataApiAccessError
    assert error.handling is Handling.NO_ACCESS


@pytest.mark.parametrize("code", [-32003, -32008, -32009])
def test_data_api_unknown_access_mnemonic_falls_back_to_no_access(code: int) -> None:
    error = from_error_object(error_object(code, "something_new"), data_api=True)
    assert error.handling is Handling.NO_ACCESS


@pytest.mark.parametrize(
    ("mnemonic", "cls"),
    [
        ("date_interval_limit_reached", errors.DateIntervalError),
        ("filter_prohibited", errors.FilterProhibitedError),
        ("sort_prohibited", errors.FilterProhibitedError),
        ("limit_exceeded", errors.RateLimitError),
        ("internal_error", errors.TransientApiError),
        ("access_token_invalid", errors.AuthError),
    ],
)
def test_data_api_shares_the_other_mnemonics(mnemonic: str, cls: type[ApiError]) -> None:
    error = from_error_object(error_object(error_code_for(mnemonic), mnemonic), data_api=True)
    assert type(error) is cls
    assert issubclass(cls, ApiError)


def test_call_api_still_pauses_the_campaign_on_an_ip_refusal() -> None:
    error = from_error_object(error_object(-32003, "ip_not_whitelisted"))
    assert error.handling is Handling.CAMPAIGN


def _tts_refusal(params: dict[str, Any] | None, message: str) -> ApiError:
    data: dict[str, Any] = {"mnemonic": "tts_text_exceeded", "field": "message.value"}
    if params is not None:
        data["params"] = params
    return from_error_object({"code": -32602, "message": message, "data": data})


@pytest.mark.parametrize(
    ("params", "message", "named"),
    [
        ({"tts_message_max_length": 250, "sent_tts_message_length": 300}, "refused", 250),
        ({"tts_message_max_length": "250"}, "refused", 250),
        # Without params, the docs' own words carry the number.
        (None, "The maximum length of Text-to-Speech message is 120. The length of ...", 120),
        (None, "The maximum length of Text-to-Speech message is {120}. ...", 120),
        (None, "too long", None),
        ({"tts_message_max_length": 0}, "refused", None),
    ],
)
def test_the_tts_limit_a_refusal_names(
    params: dict[str, Any] | None, message: str, named: int | None
) -> None:
    assert errors.tts_limit_named(_tts_refusal(params, message)) == named


def test_only_a_tts_refusal_names_a_tts_limit() -> None:
    other = from_error_object(
        {"code": -32602, "message": "x", "data": {"mnemonic": "invalid_parameter_value"}}
    )
    assert errors.tts_limit_named(other) is None
