"""The JSON-RPC error objects the simulator answers with, worded as the docs word them."""

from __future__ import annotations

from typing import Any

from dialer.callapi.methods import error_code_for, error_message_for

# Messages with blanks to fill, and those `methods.ERROR_MESSAGES` does not carry; the codes and
# the fixed messages come from `dialer.callapi.methods`, the one transcription of the docs' tables.
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
