"""The simulator's error codes and messages, as the docs' pages give them."""

from __future__ import annotations

import pytest

from dialer.simulator.refusals import error_code_for, error_message_for

INFORMER = "start.informer_call"
EMPLOYEE = "start.employee_call"
SIMPLE = "start.simple_call"


@pytest.mark.parametrize(
    "mnemonic",
    [
        "unexpected_parameters",
        "required_parameter_missed",
        "data_type_error",
        "invalid_parameter_value",
        "invalid_parameters_combination",
    ],
)
def test_parameter_errors_have_code_32602(mnemonic: str) -> None:
    assert error_code_for(mnemonic) == -32602


@pytest.mark.parametrize(
    ("mnemonic", "method", "code"),
    [
        ("method_not_found", None, -32601),
        ("parse_error", None, -32700),
        ("invalid_request", None, -32600),
        ("internal_error", None, -32603),
        ("access_token_invalid", None, -32001),
        ("limit_exceeded", None, -32029),
        ("virtual_phone_number_not_found", INFORMER, -32007),
        ("contact_in_blacklist", INFORMER, -32602),
        ("contact_in_blacklist", "start.scenario_call", -32602),
        ("contact_in_blacklist", SIMPLE, -32002),
        ("contact_in_blacklist", EMPLOYEE, -32002),
        ("scenario_not_found", "start.scenario_call", -32602),
        ("scenario_not_found", "start.vnumber_call", -32007),
        ("notifications_not_supported", None, -32099),
    ],
)
def test_error_codes_follow_the_pages(mnemonic: str, method: str | None, code: int) -> None:
    assert error_code_for(mnemonic, method) == code


def test_error_messages_are_the_providers() -> None:
    assert error_message_for("invalid_parameters_combination") == (
        "The combination of parameters is not permitted"
    )
    assert error_message_for("required_parameter_missed") == (
        "The required parameter has been missed"
    )
    assert error_message_for("something_new") == "something_new"
