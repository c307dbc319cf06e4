"""The Call API v4.0 client: JSON-RPC 2.0 over HTTP, one request per call.

- Parameters are checked against the docs' schema first (`InvalidParams`, nothing is sent).
- `access_token` is inserted into every request but `login.user`: a permanent key as is, or a
  session token from `login.user`, taken lazily, renewed before its `expire_at` and once more when
  the provider calls it `access_token_invalid`.
- Every failure leaves as one of `dialer.callapi.errors`: httpx's exceptions are translated in
  one place (`_transport_error`), JSON-RPC error objects by mnemonic (`errors.from_error_object`).
- `metadata.limits` is read from every reply, success or error, into `Reply.limits` /
  `ApiError.limits` and `CallApiClient.last_limits`.
- Secrets (`access_token`, `password`) never reach logs, reprs or exception texts.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeGuard

import httpx
from pydantic import SecretStr

from dialer.callapi import errors
from dialer.callapi.limits import Limits, find_limits
from dialer.callapi.methods import (
    LIST_CALLS,
    LOGIN,
    LOGOUT,
    METHOD_NOT_FOUND,
    RELEASE_CALL,
    START_METHODS,
    TOKEN,
    validate_params,
)
from dialer.config import Settings
from dialer.secrets import REDACTED, SECRET_KEYS, redact

logger = logging.getLogger("dialer.callapi")

HEADERS = {"Content-Type": "application/json; charset=UTF-8"}
# Log in again this long before the session token's `expire_at`, so that a request sent just
# before the hour ends does not arrive with a dead token.
REFRESH_MARGIN = 60.0


@dataclass(frozen=True)
class Reply:
    """A successful reply: `result.data`, the limits it carried, and our request id."""

    data: Any
    limits: Limits | None
    request_id: str

    @property
    def success(self) -> bool:
        """True when `data.success` is `true` (or the string `"true"`, as some examples show)."""
        return isinstance(self.data, Mapping) and _is_true(self.data.get("success"))

    def __repr__(self) -> str:
        # The login.user reply carries the session token in `data`.
        return f"Reply(data={redact(self.data)!r}, limits={self.limits!r}, id={self.request_id!r})"

    __str__ = __repr__


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


class CallApiClient:
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
    ) -> None:
        self.url = url
        self._permanent_token = access_token
        self._login = login
        self._password = password
        self._clock = clock
        self._http = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(
                connect=connect_timeout,
                read=read_timeout,
                write=read_timeout,
                pool=connect_timeout,
            ),
        )
        self._session_token: SecretStr | None = None
        self._expire_at = 0.0
        self._token_lock = threading.Lock()
        self.last_limits: Limits | None = None

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
        )

    def __repr__(self) -> str:
        if self._permanent_token is not None:
            auth = "permanent key"
        elif self._login is not None:
            auth = f"login {self._login!r}"
        else:
            auth = "no credentials"
        return f"CallApiClient({self.url!r}, {auth})"

    def __enter__(self) -> CallApiClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Log out if this client logged in, then close the HTTP connections."""
        try:
            self.logout()
        except errors.CallApiError as exc:
            # The session dies by itself within the hour; closing must not fail because of it.
            logger.warning("callapi logout on close failed: %s", exc)
        finally:
            self._http.close()

    # --- the typed helpers ---------------------------------------------------------------------

    def start_call(self, method: str, params: Mapping[str, Any]) -> StartedCall:
        """Place a call with one of the `start.*` methods; return its `call_session_id`."""
        if method not in START_METHODS:
            raise errors.InvalidParams(method, "method", METHOD_NOT_FOUND, "not a start.* method")
        reply = self.call(method, params)
        session_id = reply.data.get("call_session_id") if isinstance(reply.data, dict) else None
        if not _is_integer(session_id):
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
        if self._login is None or self._password is None:
            raise errors.AuthError(-32001, "no Call API login or password set", "auth_error")
        reply = self._send(
            LOGIN, {"login": self._login, "password": self._password.get_secret_value()}
        )
        data = reply.data if isinstance(reply.data, dict) else {}
        token, expire_at = data.get(TOKEN), data.get("expire_at")
        if not isinstance(token, str) or not token or not _is_number(expire_at):
            raise errors.BadReplyError(f"{LOGIN}: the reply has no access_token and expire_at")
        self._session_token = SecretStr(token)
        self._expire_at = float(expire_at)

    def logout(self) -> None:
        """End the session this client logged in with; a permanent key is left alone."""
        token, self._session_token = self._session_token, None
        if token is not None:
            self._send(LOGOUT, {TOKEN: token.get_secret_value()})

    # --- the generic call ----------------------------------------------------------------------

    def call(self, method: str, params: Mapping[str, Any]) -> Reply:
        """Validate, add the token, send one JSON-RPC request, and return its reply or raise."""
        params = dict(params)
        params.pop(TOKEN, None)  # the client owns the token; never send a caller's copy
        validate_params(method, params, require_token=False)
        if method == LOGIN:
            return self._send(method, params)
        try:
            return self._send(method, {**params, TOKEN: self._token()})
        except errors.AuthError as exc:
            if not self._may_login_again(method, exc):
                raise
            logger.info("callapi %s: session token refused, logging in again", method)
            self._session_token = None
            return self._send(method, {**params, TOKEN: self._token()})

    def _token(self) -> str:
        if self._permanent_token is not None:
            return self._permanent_token.get_secret_value()
        with self._token_lock:
            if self._session_token is None or self._clock() >= self._expire_at - REFRESH_MARGIN:
                self.login()
            assert self._session_token is not None  # login() sets it or raises
            return self._session_token.get_secret_value()

    def _may_login_again(self, method: str, exc: errors.AuthError) -> bool:
        # Only a session token goes stale within its hour; a refused permanent key stays refused.
        return (
            exc.mnemonic == "access_token_invalid"
            and self._permanent_token is None
            and self._login is not None
            and method != LOGOUT
        )

    # --- one request ---------------------------------------------------------------------------

    def _send(self, method: str, params: dict[str, Any]) -> Reply:
        request_id = uuid.uuid4().hex
        body = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
        logger.debug("callapi %s id=%s params=%s", method, request_id, redact(params))
        started = time.monotonic()
        outcome = "error"
        try:
            reply = self._exchange(method, request_id, body)
            outcome = "ok"
            return reply
        except errors.ApiError as exc:
            outcome = exc.mnemonic or str(exc.code)
            raise
        except errors.CallApiError as exc:
            outcome = type(exc).__name__
            raise
        finally:
            elapsed = (time.monotonic() - started) * 1000
            logger.info("callapi %s id=%s %s in %.0f ms", method, request_id, outcome, elapsed)

    def _exchange(self, method: str, request_id: str, body: dict[str, Any]) -> Reply:
        content = json.dumps(body, ensure_ascii=False).encode("utf-8")
        try:
            response = self._http.post(self.url, content=content, headers=HEADERS)
        except httpx.HTTPError as exc:
            raise _transport_error(method, exc) from exc
        reply_body = _json_rpc_body(method, response)
        error = reply_body.get("error")
        safe_error = _redacted_error(error) if isinstance(error, dict) else None
        logger.debug(
            "callapi %s id=%s reply=%s",
            method,
            request_id,
            redact({**reply_body, "error": safe_error} if safe_error else reply_body),
        )
        limits = find_limits(reply_body)
        if limits is not None:
            self.last_limits = limits
        _check_id(method, request_id, reply_body)
        if safe_error is not None:
            raise errors.from_error_object(safe_error, limits)
        return Reply(data=reply_body["result"].get("data"), limits=limits, request_id=request_id)


# --- translating what came back ------------------------------------------------------------------


def _transport_error(method: str, exc: httpx.HTTPError) -> errors.TransportError:
    """The one place where httpx's exceptions become ours."""
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return errors.NotSentError(f"{method}: not sent: {type(exc).__name__}: {exc}")
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError | httpx.ProxyError):
        return errors.NotSentError(f"{method}: not sent: {type(exc).__name__}: {exc}")
    # Read/write timeouts, a cut connection, a broken reply, anything unforeseen: the request may
    # have reached the provider, so the call may exist.
    return errors.AmbiguousError(f"{method}: no reply: {type(exc).__name__}: {exc}")


def _json_rpc_body(method: str, response: httpx.Response) -> dict[str, Any]:
    """The reply's JSON-RPC object, or an error for a 5xx or anything that is not one."""
    status = response.status_code
    if status >= 500:
        raise _unreadable(method, f"{method}: HTTP {status}", status)
    try:
        body = response.json()
    except ValueError:
        raise _unreadable(
            method, f"{method}: HTTP {status}, the body is not JSON", status
        ) from None
    is_reply = isinstance(body, dict) and (
        isinstance(body.get("result"), dict) or isinstance(body.get("error"), dict)
    )
    if not is_reply:
        raise _unreadable(
            method, f"{method}: HTTP {status}, the body is not a JSON-RPC reply", status
        )
    return dict(body)


# A proxy says these when the request never got through to the API.
_REFUSED_UPSTREAM = frozenset({500, 503})


def _unreadable(method: str, message: str, status: int) -> errors.TransportError:
    """An answer we cannot read: transient, unless a call may have been placed behind it.

    A gateway timeout (504), a bad gateway (502) or a mangled 200 to a `start.*` request may
    hide a call the provider did create, so it must be looked up, never simply sent again.
    """
    if method in START_METHODS and status not in _REFUSED_UPSTREAM:
        return errors.AmbiguousError(message)
    return errors.BadReplyError(message, status_code=status)


def _check_id(method: str, request_id: str, body: dict[str, Any]) -> None:
    # The provider answers errors it cannot tie to a request (parse errors) with id null.
    reply_id = body.get("id")
    if reply_id is not None and str(reply_id) != request_id:
        raise errors.BadReplyError(f"{method}: the reply is for another request id")


def _redacted_error(error: dict[str, Any]) -> dict[str, Any]:
    """The error object with secrets masked: the provider echoes the `value` we sent."""
    data = error.get("data")
    if not isinstance(data, dict):
        return error
    clean = redact(data)
    if clean.get("field") in SECRET_KEYS and clean.get("value") is not None:
        clean["value"] = REDACTED
    return {**error, "data": clean}


def _active_call(item: Any) -> ActiveCall:
    if not isinstance(item, dict) or not _is_integer(item.get("call_session_id")):
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


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_integer(value: Any) -> TypeGuard[int | float]:
    return _is_number(value) and float(value).is_integer()
