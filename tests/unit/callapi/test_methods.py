"""The per-method schemas against the docs' examples, and one test per validation rule."""

from __future__ import annotations

from typing import Any

import pytest

from dialer.callapi.errors import InvalidParams
from dialer.callapi.methods import SCHEMAS, START_METHODS, validate_params
from tests.unit.callapi.vectors import REQUESTS, SIMPLE_CALL_REFERENCE_PARAMS

INFORMER = "start.informer_call"
EMPLOYEE = "start.employee_call"
SIMPLE = "start.simple_call"


def example(method: str, **changes: Any) -> dict[str, Any]:
    """The docs' request params for `method`, without the token, with `changes` applied."""
    params = {k: v for k, v in REQUESTS[method]["params"].items() if k != "access_token"}
    params.update(changes)
    return params


def refusal(method: str, params: dict[str, Any], **kwargs: Any) -> InvalidParams:
    """The InvalidParams that validation raises for these params."""
    with pytest.raises(InvalidParams) as caught:
        validate_params(method, params, require_token=False, **kwargs)
    return caught.value


def test_start_methods_are_the_five_start_calls() -> None:
    names = {"informer", "scenario", "employee", "simple", "vnumber"}
    assert {f"start.{name}_call" for name in names} == START_METHODS
    assert all(name in SCHEMAS for name in START_METHODS)


@pytest.mark.parametrize("method", sorted(REQUESTS))
def test_doc_request_example_passes_with_its_token(method: str) -> None:
    validate_params(method, REQUESTS[method]["params"])


@pytest.mark.parametrize("method", sorted(set(REQUESTS) - {"login.user"}))
def test_doc_request_example_passes_without_the_token(method: str) -> None:
    validate_params(method, example(method), require_token=False)


@pytest.mark.parametrize("method", sorted(set(REQUESTS) - {"login.user"}))
def test_token_is_required_by_default(method: str) -> None:
    with pytest.raises(InvalidParams) as caught:
        validate_params(method, example(method))
    assert (caught.value.field, caught.value.mnemonic) == (
        "access_token",
        "required_parameter_missed",
    )


def test_reference_simple_call_with_operator_object_is_refused_as_wrong_type() -> None:
    # The schema follows the English page (operator is a number string); see methods.py.
    error = refusal(
        SIMPLE, {k: v for k, v in SIMPLE_CALL_REFERENCE_PARAMS.items() if k != "access_token"}
    )
    assert (error.field, error.mnemonic) == ("operator", "data_type_error")


def test_informer_page_adds_virtual_phone_usage_rule() -> None:
    validate_params(
        INFORMER, example(INFORMER, virtual_phone_usage_rule="regional_random"), require_token=False
    )
    error = refusal(INFORMER, example(INFORMER, virtual_phone_usage_rule="sometimes"))
    assert (error.field, error.mnemonic) == ("virtual_phone_usage_rule", "invalid_parameter_value")


def test_unknown_method() -> None:
    error = refusal("start.magic_call", {})
    assert (error.method, error.field, error.mnemonic) == (
        "start.magic_call",
        "method",
        "method_not_found",
    )


def test_params_must_be_an_object() -> None:
    error = refusal(INFORMER, ["not", "an", "object"])  # type: ignore[arg-type]
    assert (error.field, error.mnemonic) == ("params", "data_type_error")


def test_missing_required_parameter() -> None:
    params = example(INFORMER)
    del params["contact_message"]
    error = refusal(INFORMER, params)
    assert (error.method, error.field, error.mnemonic) == (
        INFORMER,
        "contact_message",
        "required_parameter_missed",
    )


def test_allow_missing_lets_a_campaign_leave_out_the_contact() -> None:
    params = example(INFORMER)
    del params["contact"]
    assert refusal(INFORMER, params).field == "contact"
    validate_params(INFORMER, params, require_token=False, allow_missing={"contact"})


def test_missing_nested_field_is_named_with_a_dot() -> None:
    error = refusal(EMPLOYEE, example(EMPLOYEE, employee={"phone_number": "79260000001"}))
    assert (error.field, error.mnemonic) == ("employee.id", "required_parameter_missed")


def test_unexpected_parameter() -> None:
    error = refusal(INFORMER, example(INFORMER, callback_url="https://example.org"))
    assert (error.field, error.mnemonic) == ("callback_url", "unexpected_parameters")


def test_unexpected_nested_parameter() -> None:
    message = {"type": "tts", "value": "Привет", "voice": "alena"}
    error = refusal(INFORMER, example(INFORMER, contact_message=message))
    assert (error.field, error.mnemonic) == ("contact_message.voice", "unexpected_parameters")


def test_parameter_of_another_method_is_unexpected() -> None:
    # early_switching belongs to employee and simple calls only.
    error = refusal("start.scenario_call", example("start.scenario_call", early_switching=False))
    assert (error.field, error.mnemonic) == ("early_switching", "unexpected_parameters")


@pytest.mark.parametrize(
    ("method", "field", "value"),
    [
        (INFORMER, "dialing_timeout", "25"),
        (INFORMER, "dialing_timeout", True),  # a bool is not a number
        (INFORMER, "contact", 79260000000),
        (INFORMER, "external_id", 42),
        (INFORMER, "contact_message", "Привет"),
        (INFORMER, "direction", None),
        (EMPLOYEE, "switch_at_once", "true"),
        (EMPLOYEE, "media_file_id", False),
        ("release.call", "call_session_id", "28575639"),
    ],
)
def test_wrong_json_type(method: str, field: str, value: Any) -> None:
    error = refusal(method, example(method, **{field: value}))
    assert (error.field, error.mnemonic) == (field, "data_type_error")


def test_wrong_type_of_nested_field() -> None:
    error = refusal(EMPLOYEE, example(EMPLOYEE, employee={"id": "25"}))
    assert (error.field, error.mnemonic) == ("employee.id", "data_type_error")


@pytest.mark.parametrize(
    ("method", "field", "value"),
    [
        (INFORMER, "direction", "both"),
        (EMPLOYEE, "first_call", "operator"),
        (SIMPLE, "first_call", "employee"),
        ("list.calls", "direction", "inbound"),
    ],
)
def test_value_outside_the_enum(method: str, field: str, value: Any) -> None:
    error = refusal(method, example(method, **{field: value}))
    assert (error.field, error.mnemonic) == (field, "invalid_parameter_value")


@pytest.mark.parametrize("timeout", [121, 0, -5, 120.5])
def test_dialing_timeout_out_of_range(timeout: float) -> None:
    error = refusal(INFORMER, example(INFORMER, dialing_timeout=timeout))
    assert (error.field, error.mnemonic) == ("dialing_timeout", "invalid_parameter_value")


@pytest.mark.parametrize("timeout", [1, 30, 120])
def test_dialing_timeout_in_range(timeout: int) -> None:
    validate_params(INFORMER, example(INFORMER, dialing_timeout=timeout), require_token=False)


@pytest.mark.parametrize("dtmf", ["12a", "1-2", "", "1 2"])
def test_bad_dtmf_string(dtmf: str) -> None:
    error = refusal(INFORMER, example(INFORMER, dtmf_string=dtmf))
    assert (error.field, error.mnemonic) == ("dtmf_string", "invalid_parameter_value")


def test_dtmf_alphabet_is_digits_star_hash_and_pause() -> None:
    validate_params(INFORMER, example(INFORMER, dtmf_string=".0123456789*#.."), require_token=False)


@pytest.mark.parametrize("field", ["contact_message", "employee_message"])
def test_message_type_must_be_media_or_tts(field: str) -> None:
    error = refusal(EMPLOYEE, example(EMPLOYEE, **{field: {"type": "text", "value": "x"}}))
    assert (error.field, error.mnemonic) == (f"{field}.type", "invalid_parameter_value")


def test_message_value_must_not_be_empty() -> None:
    error = refusal(INFORMER, example(INFORMER, contact_message={"type": "tts", "value": " "}))
    assert (error.field, error.mnemonic) == ("contact_message.value", "invalid_parameter_value")


@pytest.mark.parametrize("number", ["+79260000000", "8 (926) 000-00-00", "7926000000x", ""])
@pytest.mark.parametrize("field", ["contact", "virtual_phone_number"])
def test_phone_numbers_are_digit_strings(field: str, number: str) -> None:
    error = refusal(INFORMER, example(INFORMER, **{field: number}))
    assert (error.field, error.mnemonic) == (field, "invalid_parameter_value")


def test_nested_phone_number_is_named_with_a_dot() -> None:
    employee = {"id": 25, "phone_number": "+7 926 000-00-01"}
    error = refusal(EMPLOYEE, example(EMPLOYEE, employee=employee))
    assert (error.field, error.mnemonic) == ("employee.phone_number", "invalid_parameter_value")


@pytest.mark.parametrize("session_id", [0, -1, 1.5])
def test_call_session_id_is_a_positive_whole_number(session_id: float) -> None:
    error = refusal("release.call", {"call_session_id": session_id})
    assert (error.field, error.mnemonic) == ("call_session_id", "invalid_parameter_value")


@pytest.mark.parametrize("value", ["any", "1", "#", "*"])
def test_operator_confirmation_accepts_one_key_or_any(value: str) -> None:
    validate_params(SIMPLE, example(SIMPLE, operator_confirmation=value), require_token=False)


def test_operator_confirmation_refuses_several_keys() -> None:
    error = refusal(SIMPLE, example(SIMPLE, operator_confirmation="12"))
    assert (error.field, error.mnemonic) == ("operator_confirmation", "invalid_parameter_value")


@pytest.mark.parametrize(
    ("first_call", "switch_at_once"),
    [("contact", True), ("employee", False), ("contact", False), ("employee", None)],
)
def test_early_switching_needs_employee_first_and_switch_at_once(
    first_call: str, switch_at_once: bool | None
) -> None:
    params = example(EMPLOYEE, early_switching=True, first_call=first_call)
    params.pop("switch_at_once")
    if switch_at_once is not None:
        params["switch_at_once"] = switch_at_once
    error = refusal(EMPLOYEE, params)
    assert (error.field, error.mnemonic) == ("early_switching", "invalid_parameters_combination")


def test_early_switching_allowed_with_employee_first_and_switch_at_once() -> None:
    params = example(EMPLOYEE, early_switching=True, first_call="employee", switch_at_once=True)
    validate_params(EMPLOYEE, params, require_token=False)


def test_early_switching_false_is_always_allowed() -> None:
    params = example(EMPLOYEE, early_switching=False, first_call="contact", switch_at_once=False)
    validate_params(EMPLOYEE, params, require_token=False)


def test_simple_call_early_switching_needs_operator_first() -> None:
    allowed = example(SIMPLE, early_switching=True, first_call="operator", switch_at_once=True)
    validate_params(SIMPLE, allowed, require_token=False)
    refused = example(SIMPLE, early_switching=True, first_call="contact", switch_at_once=True)
    error = refusal(SIMPLE, refused)
    assert (error.field, error.mnemonic) == ("early_switching", "invalid_parameters_combination")


def test_invalid_params_text_names_method_and_field() -> None:
    error = refusal(INFORMER, example(INFORMER, direction="both"))
    assert str(error).startswith("start.informer_call: direction: ")
    assert isinstance(error, ValueError)
