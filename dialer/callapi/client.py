"""The Call API v4.0 client: the `start.*` methods, `list.calls` and `release.call`, typed.

- Parameters are checked against the docs' schema first (`InvalidParams`, nothing is sent).
- The JSON-RPC exchange (tokens and login mode, errors by mnemonic, limits, timeouts, secrets
  kept out of logs) is `dialer.callapi.jsonrpc`'s, shared with the Data API client. A lost or
  unreadable answer to a `start.*` request is `AmbiguousError`: the call may exist.
- The read timeout of `start.*` is fitted to the provider's recent answer times when
  `answer_times` is given (`from_settings` gives one unless `DIALER_CALLAPI_FIT_START_TIMEOUT`
  is off): a few hung answers then cost seconds each, not the whole configured read timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

from dialer.callapi import errors
from dialer.callapi.answer_times import AnswerTimes
from dialer.callapi.jsonrpc import (
    Credentials,
    EndpointClient,
    JsonRpcEndpoint,
    Reply,
    is_integer,
)
from dialer.callapi.limits import Limits
from dialer.callapi.methods import (
    LIST_CALLS,
    METHOD_NOT_FOUND,
    RELEASE_CALL,
    START_METHODS,
    TOKEN,
    validate_params,
)
from dialer.config import Settings

__all__ = ["ActiveCall", "ActiveCalls", "CallApiClient", "Reply", "StartedCall"]


@dataclass(frozen=True)
class StartedCall:
    """A call a `start.*` method placed."""

    call_session_id: int
    limits: Limits | None


@dataclass(frozen=True)
class ActiveCall:
    """One active call from `list.calls`."""

    call_session_id: int
    direction: str
    start_time: str
    virtual_phone_number: str
    contact_phone_number: str
    external_id: str | None


@dataclass(frozen=True)
class ActiveCalls:
    """The active calls `list.calls` returned, with the limits of that reply."""

    calls: list[ActiveCall]
    limits: Limits | None


class CallApiClient(EndpointClient):
    """A synchronous Call API client; use it as a context manager so that it logs out."""

    def __init__(
        self,
        url: str,
        *,
        access_token: SecretStr | None = None,
        login: str | None = None,
        password: SecretStr | None = None,
        transport: httpx.BaseTransport | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
        answer_times: AnswerTimes | None = None,
    ) -> None:
        self.answer_times = answer_times
        self._rpc = JsonRpcEndpoint(
            url,
            api="Call API",
            credentials=Credentials(access_token, login, password),
            transport=transport,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            clock=clock,
            creates=START_METHODS,
            answer_times=answer_times,
        )

    @classmethod
    def from_settings(
        cls, settings: Settings, transport: httpx.BaseTransport | None = None
    ) -> CallApiClient:
        """A client for the URL, credentials and timeouts in `settings`."""
        return cls(
            settings.callapi_url,
            access_token=settings.access_token,
            login=settings.login,
            password=settings.password,
            transport=transport,
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            answer_times=start_answer_times(settings),
        )

    # --- the typed helpers ---------------------------------------------------------------------

    def start_call(self, method: str, params: Mapping[str, Any]) -> StartedCall:
        """Place a call with one of the `start.*` methods; return its `call_session_id`."""
        if method not in START_METHODS:
            raise errors.InvalidParams(method, "method", METHOD_NOT_FOUND, "not a start.* method")
        reply = self.call(method, params)
        session_id = reply.data.get("call_session_id") if isinstance(reply.data, dict) else None
        if not is_integer(session_id):
            # The provider said yes but not to which call: the call may well exist.
            raise errors.AmbiguousError(f"{method}: the reply has no integer call_session_id")
        return StartedCall(call_session_id=int(session_id), limits=reply.limits)

    def list_calls(self, **filters: str) -> ActiveCalls:
        """The active calls, optionally filtered by `direction` and `virtual_phone_number`."""
        reply = self.call(LIST_CALLS, filters)
        if not isinstance(reply.data, list):
            raise errors.BadReplyError(f"{LIST_CALLS}: data is not a list")
        return ActiveCalls(calls=[_active_call(item) for item in reply.data], limits=reply.limits)

    def release_call(self, call_session_id: int) -> Reply:
        """End a call session."""
        return self.call(RELEASE_CALL, {"call_session_id": call_session_id})

    def login(self) -> None:
        """Take a session token with `login.user` (done lazily by every call when needed)."""
        self._rpc.login()

    def logout(self) -> None:
        """End the session this client logged in with; a permanent key is left alone."""
        self._rpc.logout()

    # --- the generic call ----------------------------------------------------------------------

    def call(self, method: str, params: Mapping[str, Any]) -> Reply:
        """Validate, add the token, send one JSON-RPC request, and return its reply or raise."""
        params = {k: v for k, v in params.items() if k != TOKEN}
        validate_params(method, params, require_token=False)
        return self._rpc.request(method, params)


def start_answer_times(settings: Settings) -> AnswerTimes | None:
    """The tracker that fits the `start.*` read timeout, or None when fitting is off."""
    if not settings.fit_start_timeout:
        return None
    return AnswerTimes(
        floor=settings.start_timeout_floor,
        ceiling=settings.read_timeout,
        factor=settings.start_timeout_factor,
    )


# --- reading what came back ----------------------------------------------------------------------


def _active_call(item: Any) -> ActiveCall:
    if not isinstance(item, dict) or not is_integer(item.get("call_session_id")):
        raise errors.BadReplyError(f"{LIST_CALLS}: a call without an integer call_session_id")
    external_id = item.get("external_id")
    return ActiveCall(
        call_session_id=int(item["call_session_id"]),
        direction=str(item.get("direction") or ""),
        start_time=str(item.get("start_time") or ""),
        virtual_phone_number=str(item.get("virtual_phone_number") or ""),
        contact_phone_number=str(item.get("contact_phone_number") or ""),
        external_id=None if external_id is None else str(external_id),
    )
