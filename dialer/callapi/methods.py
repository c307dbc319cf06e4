"""Parameter schemas of the Call API v4.0 methods the dialer uses, transcribed from the docs.

Each method's "Параметры запроса" table becomes a `MethodSchema`: its parameters with their JSON
type, whether they are required, the allowed values, and the fields of nested objects.
`validate_params` checks a request against it and raises `InvalidParams` carrying the mnemonic the
provider would answer with, so that the client refuses a bad request before sending it and the
simulator (`dialer.simulator`) answers exactly like the provider.

Where the pages disagree, the newer separate pages win: `virtual_phone_usage_rule` (informer,
employee) and `operator` of `start.simple_call` as a plain number string with
`operator_confirmation` (the English page; the full reference shows an object there).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from dialer.callapi.errors import InvalidParams

JsonType = Literal["string", "number", "boolean", "object"]
# A value check returns a complaint about the value, or None when it is fine.
Check = Callable[[Any], str | None]
# A combination check looks at the whole params object and names the field at fault, or None.
Combination = Callable[[Mapping[str, Any]], str | None]

LOGIN = "login.user"
LOGOUT = "logout.user"
LIST_CALLS = "list.calls"
RELEASE_CALL = "release.call"
BLOCK_CONTACT = "block.contact"
START_METHODS = frozenset(
    {
        "start.informer_call",
        "start.scenario_call",
        "start.employee_call",
        "start.simple_call",
        "start.vnumber_call",
    }
)
TOKEN = "access_token"  # noqa: S105 -- the name of the parameter, not a secret

UNEXPECTED = "unexpected_parameters"
MISSED = "required_parameter_missed"
WRONG_TYPE = "data_type_error"
BAD_VALUE = "invalid_parameter_value"
BAD_COMBINATION = "invalid_parameters_combination"
METHOD_NOT_FOUND = "method_not_found"

MAX_DIALING_TIMEOUT = 120
_DIGITS = re.compile(r"[0-9]+")
_DTMF = re.compile(r"[0-9*#.]+")
_CONFIRMATION_KEYS = frozenset("0123456789*#") | {"any"}


@dataclass(frozen=True)
class Param:
    """One request parameter: name, JSON type, required or not, allowed values, nested fields."""

    name: str
    type: JsonType
    required: bool = False
    enum: tuple[str, ...] = ()
    fields: tuple[Param, ...] = ()
    check: Check | None = None


@dataclass(frozen=True)
class MethodSchema:
    """The parameters of one method, and the rule that ties some of them together."""

    name: str
    params: tuple[Param, ...]
    combination: Combination | None = None

    def param(self, name: str) -> Param | None:
        """The top-level parameter called `name`, if the method has one."""
        return next((p for p in self.params if p.name == name), None)


# --- value checks -------------------------------------------------------------------------------


def _phone_number(value: Any) -> str | None:
    # E.164 without "+", or an employee's SIP / internal number: digits in every case.
    return None if _DIGITS.fullmatch(value) else "must be a phone number of digits only"


def _dtmf(value: Any) -> str | None:
    return None if _DTMF.fullmatch(value) else "may hold only 0-9, *, # and . (a 1 s pause)"


def _dialing_timeout(value: Any) -> str | None:
    if 0 < value <= MAX_DIALING_TIMEOUT:
        return None
    return f"must be more than 0 and at most {MAX_DIALING_TIMEOUT} seconds"


def _identifier(value: Any) -> str | None:
    integral = isinstance(value, int) or float(value).is_integer()
    return None if integral and value > 0 else "must be a positive whole number"


def _not_empty(value: Any) -> str | None:
    return None if value.strip() else "must not be empty"


def _confirmation(value: Any) -> str | None:
    return None if value in _CONFIRMATION_KEYS else "must be one key of 0-9, *, #, or any"


def _early_switching(leader: str) -> Combination:
    """`early_switching: true` needs `first_call` = `leader` and `switch_at_once: true`."""

    def check(params: Mapping[str, Any]) -> str | None:
        if params.get("early_switching") is not True:
            return None
        if params.get("first_call") == leader and params.get("switch_at_once") is True:
            return None
        return "early_switching"

    return check


# --- building blocks shared by the tables --------------------------------------------------------


def _token() -> Param:
    return Param(TOKEN, "string", required=True, check=_not_empty)


def _message(name: str, *, required: bool = False) -> Param:
    return Param(
        name,
        "object",
        required=required,
        fields=(
            Param("type", "string", required=True, enum=("media", "tts")),
            Param("value", "string", required=True, check=_not_empty),
        ),
    )


_VIRTUAL_NUMBER = Param("virtual_phone_number", "string", required=True, check=_phone_number)
_CONTACT = Param("contact", "string", required=True, check=_phone_number)
_EXTERNAL_ID = Param("external_id", "string")
_DTMF_STRING = Param("dtmf_string", "string", check=_dtmf)
_DIRECTION = Param("direction", "string", enum=("in", "out"))
_SWITCH_AT_ONCE = Param("switch_at_once", "boolean")
_EARLY_SWITCHING = Param("early_switching", "boolean")
_SHOW_VIRTUAL_NUMBER = Param("show_virtual_phone_number", "boolean")
_MEDIA_FILE_ID = Param("media_file_id", "number", check=_identifier)
_USAGE_RULE = Param(
    "virtual_phone_usage_rule",
    "string",
    enum=("fixed", "fixed_for_numa", "random", "regional_random", "regional_fixed_for_numa"),
)
_CALL_SESSION_ID = Param("call_session_id", "number", required=True, check=_identifier)


def _first_call(*values: str) -> Param:
    return Param("first_call", "string", required=True, enum=values)


SCHEMAS: dict[str, MethodSchema] = {
    schema.name: schema
    for schema in (
        MethodSchema(
            LOGIN,
            (
                Param("login", "string", required=True, check=_not_empty),
                Param("password", "string", required=True, check=_not_empty),
            ),
        ),
        MethodSchema(LOGOUT, (_token(),)),
        MethodSchema(
            "start.informer_call",
            (
                _token(),
                _VIRTUAL_NUMBER,
                _USAGE_RULE,
                _EXTERNAL_ID,
                _DTMF_STRING,
                _DIRECTION,
                _CONTACT,
                Param("dialing_timeout", "number", check=_dialing_timeout),
                _message("contact_message", required=True),
            ),
        ),
        MethodSchema(
            "start.scenario_call",
            (
                _token(),
                _VIRTUAL_NUMBER,
                _EXTERNAL_ID,
                _DTMF_STRING,
                _CONTACT,
                _first_call("contact", "employee"),
                _SWITCH_AT_ONCE,
                Param("scenario_id", "number", required=True, check=_identifier),
                _DIRECTION,
                _message("contact_message"),
            ),
        ),
        MethodSchema(
            "start.vnumber_call",
            (
                _token(),
                _VIRTUAL_NUMBER,
                _EXTERNAL_ID,
                _DTMF_STRING,
                _DIRECTION,
                _CONTACT,
                _first_call("contact", "employee"),
                _SWITCH_AT_ONCE,
                # Not in the reference's table, but in its example and the English page's digest.
                _SHOW_VIRTUAL_NUMBER,
                _message("contact_message"),
            ),
        ),
        MethodSchema(
            "start.employee_call",
            (
                _token(),
                _first_call("contact", "employee"),
                _SWITCH_AT_ONCE,
                _EARLY_SWITCHING,
                _MEDIA_FILE_ID,
                _VIRTUAL_NUMBER,
                _USAGE_RULE,
                _SHOW_VIRTUAL_NUMBER,
                _CONTACT,
                _EXTERNAL_ID,
                _DTMF_STRING,
                _DIRECTION,
                Param(
                    "employee",
                    "object",
                    required=True,
                    fields=(
                        Param("id", "number", required=True, check=_identifier),
                        Param("phone_number", "string", check=_phone_number),
                    ),
                ),
                _message("contact_message"),
                _message("employee_message"),
            ),
            combination=_early_switching("employee"),
        ),
        MethodSchema(
            "start.simple_call",
            (
                _token(),
                _first_call("contact", "operator"),
                _SWITCH_AT_ONCE,
                _EARLY_SWITCHING,
                _MEDIA_FILE_ID,
                _VIRTUAL_NUMBER,
                _SHOW_VIRTUAL_NUMBER,
                _CONTACT,
                _EXTERNAL_ID,
                _DTMF_STRING,
                _DIRECTION,
                Param("operator", "string", required=True, check=_phone_number),
                Param("operator_confirmation", "string", check=_confirmation),
                _message("contact_message"),
                _message("operator_message"),
            ),
            # The simple call's analogue of the employee is the operator.
            combination=_early_switching("operator"),
        ),
        MethodSchema(
            LIST_CALLS,
            (
                _token(),
                _DIRECTION,
                Param("virtual_phone_number", "string", check=_phone_number),
            ),
        ),
        MethodSchema(RELEASE_CALL, (_token(), _CALL_SESSION_ID)),
        MethodSchema(BLOCK_CONTACT, (_token(), _CALL_SESSION_ID)),
    )
}


# --- validation ---------------------------------------------------------------------------------


def validate_params(
    method: str,
    params: Mapping[str, Any],
    *,
    require_token: bool = True,
    allow_missing: Collection[str] = (),
) -> None:
    """Check `params` against the method's schema; raise `InvalidParams` on the first problem.

    With `require_token=False` the `access_token` may be absent; `allow_missing` names further
    top-level parameters that may be absent (a campaign file lacks `contact`, which the dialer
    fills per call). Problems are looked for in the provider's order: unknown keys, then each
    parameter in the table's order, then combinations.
    """
    schema = SCHEMAS.get(method)
    if schema is None:
        raise InvalidParams(method, "method", METHOD_NOT_FOUND, "no such method in Call API v4.0")
    if not isinstance(params, Mapping):
        raise InvalidParams(method, "params", WRONG_TYPE, "params must be an object")
    optional = set(allow_missing) | (set() if require_token else {TOKEN})
    _check_object(method, "", schema.params, params, optional)
    at_fault = schema.combination(params) if schema.combination else None
    if at_fault is not None:
        raise InvalidParams(
            method, at_fault, BAD_COMBINATION, "the combination of parameters is not permitted"
        )


def _check_object(
    method: str,
    prefix: str,
    params: tuple[Param, ...],
    given: Mapping[str, Any],
    optional: Collection[str] = (),
) -> None:
    known = {p.name for p in params}
    for key in given:
        if key not in known:
            raise InvalidParams(method, prefix + str(key), UNEXPECTED, "unexpected parameter")
    for param in params:
        field = prefix + param.name
        if param.name not in given:
            if param.required and param.name not in optional:
                raise InvalidParams(method, field, MISSED, "required parameter is missing")
            continue
        _check_value(method, field, param, given[param.name])


def _check_value(method: str, field: str, param: Param, value: Any) -> None:
    if not _has_type(value, param.type):
        raise InvalidParams(method, field, WRONG_TYPE, f"must be of type {param.type}")
    if param.enum and value not in param.enum:
        raise InvalidParams(method, field, BAD_VALUE, "must be one of " + ", ".join(param.enum))
    complaint = param.check(value) if param.check else None
    if complaint is not None:
        raise InvalidParams(method, field, BAD_VALUE, complaint)
    if param.type == "object":
        _check_object(method, field + ".", param.fields, value)


def _has_type(value: Any, kind: JsonType) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "number":
        # JSON has no separate boolean-as-number; Python's bool is an int, so exclude it.
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, Mapping)
