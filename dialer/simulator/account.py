"""The simulated account: its tokens, known objects, blacklist and active calls, and what each
method does to them. Parameters arrive already checked against the docs' tables."""

from __future__ import annotations

import hmac
import itertools
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dialer.callapi.methods import START_METHODS
from dialer.simulator.config import FakeCallApi
from dialer.simulator.outcomes import Ending, OutcomeDrawer
from dialer.simulator.refusals import Refusal

# Call-control methods whose only effect the simulator models is "the session must exist".
SESSION_METHODS = frozenset(
    {
        "transfer.talk",
        "restore.talk",
        "unhold.call",
        "add.coach",
        "record.call",
        "disconnect.leg",
        "send.dtmf",
        "call.talk_option",
    }
)
OTHER_METHODS = frozenset(
    {
        "login.user",
        "logout.user",
        "make.call",
        "hold.call",
        "tag.call",
        "block.contact",
        "list.calls",
        "list.talk_options",
        "release.call",
    }
)
METHODS = START_METHODS | SESSION_METHODS | OTHER_METHODS

# The separate method pages (newer than the reference) default `direction` to `in`;
# the scenario call has only the reference's table, which says `out`.
DEFAULT_DIRECTION = {"start.scenario_call": "out"}
MESSAGE_FIELDS = ("contact_message", "employee_message", "operator_message", "to_message")
# The docs' examples answer call control with the string "true", logout.user with a boolean.
SUCCESS: dict[str, Any] = {"success": "true"}
TALK_OPTIONS = [
    {
        "button": "1",
        "mnemonic": "tag_call",
        "name": "Проставить тег",
        "button_value": {"id": 254, "value": "Целевой"},
    }
]


@dataclass
class ActiveCall:
    """A call placed through the simulator, listed by list.calls until it ends."""

    call_session_id: int
    method: str
    direction: str
    started: float
    ends_at: float
    virtual_phone_number: str
    contact_phone_number: str
    external_id: str | None
    legs: list[dict[str, Any]]
    tags: list[dict[str, Any]] = field(default_factory=list)
    ending: Ending | None = None  # how the call ends (drawn when it is created)
    request_id: int = 0  # the provider's id of the start.* request (`call_api_request_id`)

    def as_listed(self) -> dict[str, Any]:
        """The call as list.calls shows it."""
        return {
            "call_session_id": self.call_session_id,
            "direction": self.direction,
            "start_time": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self.started)),
            "virtual_phone_number": self.virtual_phone_number,
            "contact_phone_number": self.contact_phone_number,
            "external_id": self.external_id,
            "tags": [dict(tag) for tag in self.tags],
            "legs": [dict(leg) for leg in self.legs],
        }


class Account:
    """The state behind the API; not thread-safe (the simulator holds its lock around it)."""

    def __init__(self, config: FakeCallApi, first_call_session_id: int) -> None:
        self.config = config
        self.blacklist: set[str] = set(config.blacklist)
        self.calls: dict[int, ActiveCall] = {}
        self.history: list[ActiveCall] = []  # every call placed, in order: the reports' source
        self._endings = OutcomeDrawer(config.outcomes, config.seed)
        self._requests = itertools.count(first_call_session_id * 3)
        self._sessions: dict[str, float] = {}  # login.user token -> when it stops working
        self._known_sessions = set(config.known_call_sessions)
        self._ids = itertools.count(first_call_session_id)
        self._legs = itertools.count(first_call_session_id * 10)
        self._handlers: dict[str, Callable[[str, Mapping[str, Any], float], Any]] = {
            "login.user": self._login,
            "logout.user": self._logout,
            "list.calls": self._list_calls,
            "list.talk_options": lambda _m, _p, _n: [dict(o) for o in TALK_OPTIONS],
            "release.call": self._release,
            "block.contact": self._block,
            "tag.call": self._tag,
            "hold.call": self._session_with_messages,
            "make.call": self._session_with_messages,
        }

    # --- authentication ---------------------------------------------------------------------

    def authenticate(self, token: str, now: float) -> None:
        """Accept a permanent key or a live session token; refuse as the provider would."""
        if token in self.config.blocked_tokens:
            raise Refusal.of("access_token_blocked")
        if token in self.config.expired_tokens:
            raise Refusal.of("access_token_expired")
        if token in self.config.access_tokens:
            return
        expires = self._sessions.get(token)
        if expires is None or now >= expires:
            # A session token past its hour is "invalid", not "expired" (that is for keys).
            self._sessions.pop(token, None)
            raise Refusal.of("access_token_invalid")

    def expire_sessions(self) -> None:
        """Every session token issued so far is dead from now on."""
        self._sessions.clear()

    def _login(self, _method: str, params: Mapping[str, Any], now: float) -> Any:
        login_ok = hmac.compare_digest(str(params["login"]), self.config.login)
        password_ok = hmac.compare_digest(str(params["password"]), self.config.password)
        if not (login_ok and password_ok):
            raise Refusal.of("auth_error")
        token = secrets.token_hex(36)
        expires = now + self.config.token_lifetime
        self._sessions[token] = expires
        return {"access_token": token, "expire_at": int(expires)}

    def _logout(self, _method: str, params: Mapping[str, Any], _now: float) -> Any:
        # A permanent key is managed in the account settings: logging out leaves it working.
        self._sessions.pop(str(params["access_token"]), None)
        return {"success": True}

    # --- dispatch -----------------------------------------------------------------------------

    def handle(self, method: str, params: Mapping[str, Any], now: float) -> Any:
        """Carry out `method`; return the reply's `data` or raise a `Refusal`."""
        self._end_finished_calls(now)
        if method in START_METHODS:
            return self._start(method, params, now)
        handler = self._handlers.get(method, self._session_only)
        return handler(method, params, now)

    def _end_finished_calls(self, now: float) -> None:
        for call_id in [cid for cid, call in self.calls.items() if call.ends_at <= now]:
            del self.calls[call_id]

    # --- start.* ------------------------------------------------------------------------------

    def _start(self, method: str, params: Mapping[str, Any], now: float) -> Any:
        number = str(params["virtual_phone_number"])
        contact = str(params["contact"])
        self._check_virtual_number(method, number)
        self._check_objects(method, params)
        self._check_messages(params)
        if contact in self.config.virtual_numbers:
            raise Refusal.of("own_virtual_phone_number_not_allowed", field="contact", value=contact)
        if contact in self.blacklist:
            raise Refusal.of(
                "contact_in_blacklist",
                method=method,
                field="contact",
                value=contact,
                contact=contact,
            )
        call = self._new_call(method, params, number, contact, now)
        self.calls[call.call_session_id] = call
        self.history.append(call)
        return {"call_session_id": call.call_session_id}

    def _check_virtual_number(self, method: str, number: str) -> None:
        if number not in self.config.virtual_numbers:
            raise Refusal.of(
                "virtual_phone_number_not_found",
                field="virtual_phone_number",
                value=number,
                virtual_phone_number=number,
            )
        if method == "start.vnumber_call" and number in self.config.numbers_without_scenario:
            raise Refusal.of(
                "scenario_not_found",
                method=method,
                field="virtual_phone_number",
                value=number,
                message="Virtual phone number does not have a scenario",
            )

    def _check_objects(self, method: str, params: Mapping[str, Any]) -> None:
        scenario = params.get("scenario_id")
        if method == "start.scenario_call" and scenario not in self.config.scenario_ids:
            raise Refusal.of(
                "scenario_not_found", field="scenario_id", value=scenario, scenario_id=scenario
            )
        employee = params.get("employee")
        if isinstance(employee, Mapping) and employee.get("id") not in self.config.employee_ids:
            employee_id = employee.get("id")
            raise Refusal.of(
                "employee_not_found",
                field="employee.id",
                value=employee_id,
                employee_id=employee_id,
            )
        media = params.get("media_file_id")
        if media is not None and media not in self.config.media_files:
            raise Refusal.of(
                "media_file_not_found", field="media_file_id", value=media, media_file_id=media
            )

    def _check_messages(self, params: Mapping[str, Any]) -> None:
        for name in MESSAGE_FIELDS:
            message = params.get(name)
            if isinstance(message, Mapping):
                self._check_message(name, str(message.get("type")), str(message.get("value")))

    def _check_message(self, name: str, kind: str, value: str) -> None:
        limit = self.config.tts_max_length
        if kind == "tts" and len(value) > limit:
            raise Refusal.of(
                "tts_text_exceeded",
                field=f"{name}.value",
                value=value,
                tts_message_max_length=limit,
                sent_tts_message_length=len(value),
            )
        if kind == "media" and not self._is_media_file(value):
            raise Refusal.of(
                "media_file_not_found", field=f"{name}.value", value=value, media_file_id=value
            )

    def _is_media_file(self, value: str) -> bool:
        return value.isdigit() and int(value) in self.config.media_files

    def _new_call(
        self, method: str, params: Mapping[str, Any], number: str, contact: str, now: float
    ) -> ActiveCall:
        external_id = params.get("external_id")
        return ActiveCall(
            call_session_id=next(self._ids),
            method=method,
            direction=str(params.get("direction") or DEFAULT_DIRECTION.get(method, "in")),
            started=now,
            ends_at=now + self.config.call_duration,
            virtual_phone_number=number,
            contact_phone_number=contact,
            external_id=external_id if isinstance(external_id, str) else None,
            legs=self._legs_of(method, params, number, contact),
            ending=self._endings.draw(contact),
            request_id=next(self._requests),
        )

    def _legs_of(
        self, method: str, params: Mapping[str, Any], number: str, contact: str
    ) -> list[dict[str, Any]]:
        legs = [self._leg(number, contact, is_operator=False, employee_id=None)]
        employee = params.get("employee")
        if method == "start.employee_call" and isinstance(employee, Mapping):
            phone = str(employee.get("phone_number") or "")
            legs.append(self._leg(number, phone, is_operator=True, employee_id=employee.get("id")))
        if method == "start.simple_call":
            legs.append(self._leg(number, str(params.get("operator")), True, None))
        return legs

    def _leg(
        self, calling: str, called: str, is_operator: bool, employee_id: Any
    ) -> dict[str, Any]:
        return {
            "leg_id": next(self._legs),
            "calling_phone_number": calling,
            "called_phone_number": called,
            "is_operator": is_operator,
            "employee_id": employee_id,
            "employee_full_name": None if employee_id is None else f"Сотрудник {employee_id}",
            "record_call_enabled": False,
            "state": "Дозвон",
        }

    # --- call control -------------------------------------------------------------------------

    def _list_calls(self, _method: str, params: Mapping[str, Any], _now: float) -> Any:
        direction = params.get("direction")
        number = params.get("virtual_phone_number")
        return [
            call.as_listed()
            for call in self.calls.values()
            if (direction is None or call.direction == direction)
            and (number is None or call.virtual_phone_number == number)
        ]

    def _session(self, params: Mapping[str, Any]) -> ActiveCall | None:
        """The call named by `call_session_id`; None for a docs' session the simulator did not
        place; refused when there is no such session."""
        call_id = params.get("call_session_id")
        if "call_session_id" not in params:
            raise Refusal.of("required_parameter_missed", field="call_session_id")
        if isinstance(call_id, bool) or not isinstance(call_id, int):
            raise Refusal.of("data_type_error", field="call_session_id", value=call_id)
        if call_id in self.calls:
            return self.calls[call_id]
        if call_id in self._known_sessions:
            return None
        raise Refusal.of("call_session_not_found", field="call_session_id", value=call_id)

    def _session_only(self, _method: str, params: Mapping[str, Any], _now: float) -> Any:
        self._session(params)
        return dict(SUCCESS)

    def _session_with_messages(self, _method: str, params: Mapping[str, Any], _now: float) -> Any:
        self._session(params)
        self._check_messages(params)
        return dict(SUCCESS)

    def _release(self, _method: str, params: Mapping[str, Any], now: float) -> Any:
        call = self._session(params)
        call_id = params["call_session_id"]
        self.calls.pop(call_id, None)
        if call is None:
            self._known_sessions.discard(call_id)
        else:
            call.ends_at = min(call.ends_at, now)  # the reports show it ending now
        return dict(SUCCESS)

    def _block(self, _method: str, params: Mapping[str, Any], _now: float) -> Any:
        call = self._session(params)
        if call is None:
            # A docs' session: its caller is unknown to the simulator, so nothing to add.
            return dict(SUCCESS)
        contact = call.contact_phone_number
        if contact in self.blacklist:
            raise Refusal.of(
                "duplicate_contact",
                field="call_session_id",
                value=call.call_session_id,
                contact_phone_number=contact,
            )
        self.blacklist.add(contact)
        return dict(SUCCESS)

    def _tag(self, _method: str, params: Mapping[str, Any], _now: float) -> Any:
        call = self._session(params)
        tag_id = params.get("tag_id")
        name = self.config.tags.get(tag_id) if isinstance(tag_id, int) else None
        if name is None:
            raise Refusal.of("tag_not_found", field="tag_id", value=tag_id, tag_id=tag_id)
        if call is not None:
            if any(tag["tag_id"] == tag_id for tag in call.tags):
                raise Refusal.of("duplicate_tag", field="tag_id", value=tag_id)
            call.tags.append({"tag_id": tag_id, "tag_name": name})
        return dict(SUCCESS)
