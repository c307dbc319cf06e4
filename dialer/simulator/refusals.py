"""The JSON-RPC error objects the simulator answers with, coded and worded as the docs do.

The client needs none of this (it classifies by mnemonic, `dialer.callapi.errors`): the codes
and messages below are the provider's side of the exchange, transcribed from the docs' tables.
"""

from __future__ import annotations

from typing import Any

ERROR_CODES: dict[str, int] = {
    "parse_error": -32700,
    "invalid_request": -32600,
    "method_not_found": -32601,
    "internal_error": -32603,
    "access_token_expired": -32001,
    "access_token_blocked": -32001,
    "access_token_invalid": -32001,
    "auth_error": -32001,
    "forbidden": -32003,
    "ip_not_whitelisted": -32003,
    "virtual_phone_number_not_found": -32007,
    "component_disabled": -32008,
    "account_inactive": -32009,
    "limit_exceeded": -32029,
    "batch_opreations_not_supported": -32099,
    "notifications_not_supported": -32099,
    # The Data API's own (the overview page's table).
    "batch_operations_not_supported": -32099,
    "method_component_disabled": -32008,
    "parameter_component_disabled": -32008,
}
# Method-specific codes where the pages name another code than the usual one.
_METHOD_CODES: dict[tuple[str, str], int] = {
    ("contact_in_blacklist", "start.simple_call"): -32002,
    ("contact_in_blacklist", "start.employee_call"): -32002,
    ("scenario_not_found", "start.vnumber_call"): -32007,
}
PARAMS_CODE = -32602

ERROR_MESSAGES: dict[str, str] = {
    "parse_error": "Invalid JSON was received by the server.",
    "invalid_request": "Invalid Request The JSON sent is not a valid Request object",
    "method_not_found": "The method does not exist / is not available",
    "internal_error": "Internal error, contact the support service",
    "access_token_expired": "Access token has been expired",
    "access_token_blocked": "Access token has been blocked",
    "access_token_invalid": "Access token is invalid",
    "auth_error": "Login or password is wrong",
    "forbidden": "Permission denied",
    "account_inactive": "Your account has been disabled, contact the support service",
    "call_session_not_found": "Call session not found",
    "data_type_error": "Data supplied is of wrong type",
    "required_parameter_missed": "The required parameter has been missed",
    "invalid_parameter_value": "Invalid parameter value",
    "unexpected_parameters": "Unexpected method parameter(s)",
    "invalid_parameters_combination": "The combination of parameters is not permitted",
    "batch_opreations_not_supported": "Batch operations not supported",
    "notifications_not_supported": "Notifications not supported",
    "character_encoding_not_allowed": "The character encoding must be UTF-8",
    "date_interval_limit_reached": "Max value of requested date interval is 3 months",
    "filter_prohibited": "Filter by parameter is prohibited",
    "sort_prohibited": "Sort by parameter is prohibited",
}


def error_code_for(mnemonic: str, method: str | None = None) -> int:
    """The JSON-RPC code the provider sends with `mnemonic` (for `method`, where pages differ).

    Mnemonics not listed among the common errors are parameter errors, code -32602.
    """
    if method is not None and (mnemonic, method) in _METHOD_CODES:
        return _METHOD_CODES[(mnemonic, method)]
    return ERROR_CODES.get(mnemonic, PARAMS_CODE)


def error_message_for(mnemonic: str) -> str:
    """The provider's message text for a common mnemonic (the mnemonic itself when unknown)."""
    return ERROR_MESSAGES.get(mnemonic, mnemonic)


# Messages with blanks to fill, and those `ERROR_MESSAGES` does not carry.
TEMPLATES: dict[str, str] = {
    "limit_exceeded": "Limit per {limit_type} has been exceeded. "
    "Value of current limit per {limit_type} is {limit_max_value}",
    "tts_text_exceeded": "The maximum length of Text-to-Speech message is "
    "{tts_message_max_length}. The length of your message is {sent_tts_message_length}",
    "media_file_not_found": "The media file with id {media_file_id} not found",
    "virtual_phone_number_not_found": "Virtual phone number {virtual_phone_number} not found. "
    "It is not your virtual phone number.",
    "scenario_not_found": "Scenario with id {scenario_id} not found",
    "employee_not_found": "Employee with id {employee_id} not found. It is not your employee.",
    "own_virtual_phone_number_not_allowed": "Parameter `contact` can not contain own virtual "
    "phone number",
    "contact_in_blacklist": "The contact {contact} has been found in the blacklist",
    "duplicate_contact": "The contact with phone number {contact_phone_number} already exists",
    "tag_not_found": "Tag with {tag_id} not found",
    "duplicate_tag": "Duplicate tag",
}

# The docs: no limits are counted, and no limits metadata is returned, for these.
UNCOUNTED = frozenset(
    {
        "parse_error",
        "invalid_request",
        "method_not_found",
        "access_token_blocked",
        "access_token_invalid",
        "access_token_expired",
        "auth_error",
        "ip_not_whitelisted",
    }
)


class Refusal(Exception):
    """A JSON-RPC error the simulator answers with instead of a result."""

    def __init__(
        self,
        code: int,
        mnemonic: str,
        message: str,
        *,
        field: str | None = None,
        value: Any = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        self.code = code
        self.mnemonic = mnemonic
        self.message = message
        self.field = field
        self.value = value
        self.params = params
        super().__init__(f"{code} {mnemonic}: {message}")

    @classmethod
    def of(
        cls,
        mnemonic: str,
        *,
        field: str | None = None,
        value: Any = None,
        method: str | None = None,
        message: str | None = None,
        **params: Any,
    ) -> Refusal:
        """The provider's error for `mnemonic` (as `method` words it), filled from `params`."""
        template = TEMPLATES.get(mnemonic) or error_message_for(mnemonic)
        return cls(
            error_code_for(mnemonic, method),
            mnemonic,
            message if message is not None else template.format(**params),
            field=field,
            value=value,
            params=params or None,
        )

    @property
    def counted(self) -> bool:
        """Whether the reply carries limits metadata (the docs exempt some errors)."""
        return self.mnemonic not in UNCOUNTED

    def error_object(self) -> dict[str, Any]:
        """The reply's `error` member."""
        return {
            "code": self.code,
            "message": self.message,
            "data": {
                "mnemonic": self.mnemonic,
                "field": self.field,
                "value": self.value,
                "params": self.params,
                "extended_helper": None,
            },
        }
