"""Errors of the provider boundary (Call API and Data API), and how each one is handled.

The tree::

    CallApiError                    anything that went wrong talking to the provider's APIs
    ├── InvalidParams               our own check refused the parameters; nothing was sent
    ├── TransportError              no JSON-RPC answer came back
    │   ├── NotSentError            surely never reached the provider (refused, DNS, connect)
    │   ├── AmbiguousError          may have reached it (read timeout, connection cut after sending)
    │   ├── NoReplyError            no answer to a request that changes nothing (a report query)
    │   └── BadReplyError           an answer that is not a JSON-RPC reply (HTTP 5xx, HTML, garbage)
    └── ApiError                    the provider answered with a JSON-RPC error object
        ├── TransientApiError       internal_error and the like: try again later
        ├── RateLimitError          limit_exceeded: wait `retry_after` seconds, costs no attempt
        ├── AuthError               access_token_* / auth_error
        ├── ContactError            this contact can never be called
        │   └── BlacklistedError    contact_in_blacklist
        ├── CampaignFatalError      the campaign cannot go on (unknown number, scenario, ...)
        ├── DataApiAccessError      the Data API is closed to this key or machine (component, IP)
        └── RequestError            the request itself is wrong (a bug on our side)
            ├── DateIntervalError   date_interval_limit_reached: a report over more than 3 months
            └── FilterProhibitedError  filter_prohibited / sort_prohibited: not on the whitelist

Errors are classified by **mnemonic**, never by code alone: the docs give `contact_in_blacklist`
as -32602 on some pages and -32002 on others. An unknown mnemonic falls back to its code group.
The Data API reads a few mnemonics and code groups otherwise (`DATA_API_MNEMONICS`): there an
IP or component refusal means "no reports", never "stop the campaign".
Every class has exactly one `Handling`; `dialer.policy` says what follows from each.
"""

from __future__ import annotations

import enum
import re
from typing import Any

from dialer.callapi.limits import Limits


class Handling(enum.StrEnum):
    """What the dialer does about an error."""

    TRANSIENT = "transient"  # retry with capped, jittered backoff
    AMBIGUOUS = "ambiguous"  # the call may exist: look it up, never blindly redial
    RATE = "rate"  # wait for the reset the provider names
    AUTH = "auth"  # log in again once, then fatal for the campaign
    CONTACT = "contact"  # this contact ends
    CAMPAIGN = "campaign"  # pause the campaign with the reason
    REQUEST = "request"  # a bug in what we sent: pause the campaign, lose nothing
    NO_ACCESS = "no_access"  # no Data API access: say so once, keep dialing, outcomes unknown


class CallApiError(Exception):
    """Base of every error raised by the Call API client."""

    handling: Handling = Handling.REQUEST


class InvalidParams(CallApiError, ValueError):
    """The parameters fail the method's schema from the docs; raised before anything is sent."""

    handling = Handling.REQUEST

    def __init__(self, method: str, field: str, mnemonic: str, message: str) -> None:
        self.method = method
        self.field = field
        self.mnemonic = mnemonic
        self.message = message
        super().__init__(f"{method}: {field}: {message}")


class TransportError(CallApiError):
    """No JSON-RPC reply came back."""

    handling = Handling.TRANSIENT


class NotSentError(TransportError):
    """The request surely never reached the provider."""


class AmbiguousError(TransportError):
    """The request may have reached the provider; its effect is unknown."""

    handling = Handling.AMBIGUOUS


class NoReplyError(TransportError):
    """No answer came to a request that changes nothing at the provider: simply try again."""


# A proxy says these when the request never got through to the API.
REFUSED_UPSTREAM = frozenset({500, 503})


class BadReplyError(TransportError):
    """The provider answered, but not with a JSON-RPC reply (HTTP 5xx, HTML, not JSON)."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        self.status_code = status_code
        super().__init__(message)


class ApiError(CallApiError):
    """A JSON-RPC error object from the provider."""

    def __init__(
        self,
        code: int,
        message: str,
        mnemonic: str | None = None,
        field: str | None = None,
        value: Any = None,
        params: dict[str, Any] | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.code = code
        self.message = message
        self.mnemonic = mnemonic
        self.field = field
        self.value = value
        self.params = params or {}
        self.limits = limits
        where = f" ({field})" if field else ""
        super().__init__(f"{mnemonic or code}: {message}{where}")


class TransientApiError(ApiError):
    """The provider failed internally; the same request may succeed later."""

    handling = Handling.TRANSIENT


class RateLimitError(ApiError):
    """`limit_exceeded`: the points budget is spent until the reset."""

    handling = Handling.RATE

    @property
    def limit_type(self) -> str:
        """`minute` or `day`, as the provider names it (defaults to `minute`)."""
        kind = str(self.params.get("limit_type") or "minute")
        return "day" if "day" in kind else "minute"

    @property
    def retry_after(self) -> float | None:
        """Seconds until the exhausted budget resets, when the reply said."""
        if self.limits is None:
            return None
        return self.limits.day_reset if self.limit_type == "day" else self.limits.minute_reset


class AuthError(ApiError):
    """The credentials were refused."""

    handling = Handling.AUTH


class ContactError(ApiError):
    """This contact can never be called with these parameters."""

    handling = Handling.CONTACT


class BlacklistedError(ContactError):
    """The contact is on the account's blacklist."""


class CampaignFatalError(ApiError):
    """The campaign cannot go on until someone fixes its definition or the account."""

    handling = Handling.CAMPAIGN


class DataApiAccessError(ApiError):
    """The Data API refuses this key or this machine (component off, IP not whitelisted)."""

    handling = Handling.NO_ACCESS


class RequestError(ApiError):
    """The request is malformed: a bug on our side, not the contact's fault."""

    handling = Handling.REQUEST


class DateIntervalError(RequestError):
    """`date_interval_limit_reached`: a report's `date_from`..`date_till` spans over 3 months."""


class FilterProhibitedError(RequestError):
    """A report was filtered or sorted on a field its method does not allow."""


MNEMONICS: dict[str, type[ApiError]] = {
    "internal_error": TransientApiError,
    "limit_exceeded": RateLimitError,
    "access_token_expired": AuthError,
    "access_token_blocked": AuthError,
    "access_token_invalid": AuthError,
    "auth_error": AuthError,
    "contact_in_blacklist": BlacklistedError,
    "own_virtual_phone_number_not_allowed": ContactError,
    # The TTS text is filled from each contact's columns, so its length is the contact's own.
    "tts_text_exceeded": ContactError,
    "virtual_phone_number_not_found": CampaignFatalError,
    "scenario_not_found": CampaignFatalError,
    "media_file_not_found": CampaignFatalError,
    "employee_not_found": CampaignFatalError,
    "no_active_phone_number": CampaignFatalError,
    "component_disabled": CampaignFatalError,
    "ip_not_whitelisted": CampaignFatalError,
    "forbidden": CampaignFatalError,
    "account_inactive": CampaignFatalError,
    "parse_error": RequestError,
    "invalid_request": RequestError,
    "method_not_found": RequestError,
    "data_type_error": RequestError,
    "required_parameter_missed": RequestError,
    "invalid_parameter_value": RequestError,
    "unexpected_parameters": RequestError,
    "invalid_parameters_combination": RequestError,
    "character_encoding_not_allowed": RequestError,
    "call_session_not_found": RequestError,
    "batch_opreations_not_supported": RequestError,
    "notifications_not_supported": RequestError,
    # The Data API's spellings and its get.* methods' own errors.
    "batch_operations_not_supported": RequestError,
    "method_component_disabled": CampaignFatalError,
    "parameter_component_disabled": CampaignFatalError,
    "date_interval_limit_reached": DateIntervalError,
    "filter_prohibited": FilterProhibitedError,
    "sort_prohibited": FilterProhibitedError,
}

# Where the Data API means something else by the same answer: without its component or from an
# IP off the whitelist, reports are unavailable, which must never stop calls.
DATA_API_MNEMONICS: dict[str, type[ApiError]] = {
    **MNEMONICS,
    "ip_not_whitelisted": DataApiAccessError,
    "forbidden": DataApiAccessError,
    "component_disabled": DataApiAccessError,
    "method_component_disabled": DataApiAccessError,
    "parameter_component_disabled": DataApiAccessError,
    "account_inactive": DataApiAccessError,
}

# For a mnemonic we do not know: what its code group means (see the docs' "code groups").
CODE_GROUPS: dict[int, type[ApiError]] = {
    -32603: TransientApiError,
    -32029: RateLimitError,
    -32001: AuthError,
    -32002: ContactError,  # security rules forbid this direction, or the blacklist
    -32003: CampaignFatalError,
    -32007: CampaignFatalError,
    -32008: CampaignFatalError,
    -32009: CampaignFatalError,
}

DATA_API_CODE_GROUPS: dict[int, type[ApiError]] = {
    **CODE_GROUPS,
    -32002: RequestError,  # no contact is ever called through the Data API
    -32003: DataApiAccessError,
    -32007: RequestError,
    -32008: DataApiAccessError,
    -32009: DataApiAccessError,
}

# A value error on the contact field is the contact's fault, not the campaign's.
_CONTACT_FIELDS = frozenset({"contact"})
_VALUE_MNEMONICS = frozenset({"invalid_parameter_value", "data_type_error"})


def error_class(
    code: int, mnemonic: str | None, field: str | None = None, *, data_api: bool = False
) -> type[ApiError]:
    """The error class for a JSON-RPC error object: by mnemonic, else by code group."""
    if data_api:
        return _lookup(DATA_API_MNEMONICS, DATA_API_CODE_GROUPS, code, mnemonic)
    if mnemonic in _VALUE_MNEMONICS and field in _CONTACT_FIELDS:
        return ContactError
    return _lookup(MNEMONICS, CODE_GROUPS, code, mnemonic)


def _lookup(
    mnemonics: dict[str, type[ApiError]],
    code_groups: dict[int, type[ApiError]],
    code: int,
    mnemonic: str | None,
) -> type[ApiError]:
    if mnemonic is not None and mnemonic in mnemonics:
        return mnemonics[mnemonic]
    return code_groups.get(code, RequestError)


# The provider's words for `tts_text_exceeded`, for a reply whose `params` do not carry the limit.
_TTS_LIMIT_WORDS = re.compile(r"maximum length of Text-to-Speech message is\s*\{?(\d+)")


def tts_limit_named(error: CallApiError) -> int | None:
    """The longest text-to-speech text a `tts_text_exceeded` refusal names, else None.

    The docs put it in `data.params.tts_message_max_length` and in the message's words.
    """
    if not isinstance(error, ApiError) or error.mnemonic != "tts_text_exceeded":
        return None
    named = error.params.get("tts_message_max_length")
    if isinstance(named, int | str) and not isinstance(named, bool) and str(named).isdigit():
        return int(named) if int(named) > 0 else None
    match = _TTS_LIMIT_WORDS.search(error.message)
    return int(match.group(1)) if match and int(match.group(1)) > 0 else None


def from_data_api_error_object(error: dict[str, Any], limits: Limits | None = None) -> ApiError:
    """Build the typed error from a Data API reply's `error` object."""
    return from_error_object(error, limits, data_api=True)


def from_error_object(
    error: dict[str, Any], limits: Limits | None = None, *, data_api: bool = False
) -> ApiError:
    """Build the typed error from a reply's `error` object (a Call API one unless `data_api`)."""
    code = error.get("code")
    code = code if isinstance(code, int) and not isinstance(code, bool) else 0
    raw_data = error.get("data")
    data: dict[str, Any] = raw_data if isinstance(raw_data, dict) else {}
    mnemonic = data.get("mnemonic") if isinstance(data.get("mnemonic"), str) else None
    field = data.get("field") if isinstance(data.get("field"), str) else None
    params = data.get("params") if isinstance(data.get("params"), dict) else None
    cls = error_class(code, mnemonic, field, data_api=data_api)
    return cls(
        code=code,
        message=str(error.get("message") or ""),
        mnemonic=mnemonic,
        field=field,
        value=data.get("value"),
        params=params,
        limits=limits,
    )
