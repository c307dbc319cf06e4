"""JSON-RPC 2.0 over HTTP as the provider speaks it: shared by the Call API and Data API clients.

- One request per POST, with a fresh `id` that the reply must carry back (or null, for errors the
  provider cannot tie to a request).
- `access_token` is inserted into every request but `login.user`: a permanent key as is, or a
  session token from `login.user`, taken lazily, renewed before its `expire_at` and once more when
  the provider calls it `access_token_invalid`.
- Every failure leaves as one of `dialer.callapi.errors`: httpx's exceptions are translated in
  one place (`_transport_error`), JSON-RPC error objects by mnemonic (the endpoint's `classify`).
- `metadata` is read from every reply, success or error: `limits` into `Reply.limits` /
  `ApiError.limits` and `JsonRpcEndpoint.last_limits`, with the seconds the reply took
  (`Limits.read_in`), `total_items` into `Reply.total_items`.
- Timeouts are always set; the read timeout of the `creates` methods (`start.*`) may be fitted
  to the provider's recent answer times (`dialer.callapi.answer_times`). Secrets
  (`access_token`, `password`) never reach logs, reprs or errors.

Its length is the transport's whole contract (envelope, ids, login mode, error translation,
secret masking) in one place, so that both clients share it rather than each half of it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any, Self, TypeGuard

import httpx
from pydantic import SecretStr

from dialer.callapi import errors
from dialer.callapi.answer_times import AnswerTimes
from dialer.callapi.limits import Limits, find_limits
from dialer.secrets import REDACTED, SECRET_KEYS, redact

HEADERS = {"Content-Type": "application/json; charset=UTF-8"}
LOGIN = "login.user"
LOGOUT = "logout.user"
TOKEN = "access_token"  # noqa: S105 -- the name of the parameter, not a secret
# Log in again this long before the session token's `expire_at`, so that a request sent just
# before the hour ends does not arrive with a dead token.
REFRESH_MARGIN = 60.0

Classify = Callable[[dict[str, Any], Limits | None], errors.ApiError]


@dataclass(frozen=True)
class Reply:
    """A successful reply: `result.data`, the limits it carried, and our request id."""

    data: Any
    limits: Limits | None
    request_id: str
    total_items: int | None = None  # `metadata.total_items` of a `get.*` reply

    @property
    def success(self) -> bool:
        """True when `data.success` is `true` (or the string `"true"`, as some examples show)."""
        return isinstance(self.data, Mapping) and is_true(self.data.get("success"))

    def __repr__(self) -> str:
        # The login.user reply carries the session token in `data`.
        return f"Reply(data={redact(self.data)!r}, limits={self.limits!r}, id={self.request_id!r})"

    __str__ = __repr__


@dataclass(frozen=True)
class Credentials:
    """How to authenticate: a permanent key, or a login and password for `login.user` sessions."""

    access_token: SecretStr | None = None
    login: str | None = None
    password: SecretStr | None = None

    def describe(self) -> str:
        """Which kind of credentials, never their value."""
        if self.access_token is not None:
            return "permanent key"
        if self.login is not None:
            return f"login {self.login!r}"
        return "no credentials"


class JsonRpcEndpoint:
    """One JSON-RPC URL of the provider, with its credentials; thread-safe.

    `api` names it in logs and messages ("Call API", "Data API"). `writes` says whether its
    methods may change something at the provider: when they may not (report queries), a lost
    answer is merely transient. `creates` names the methods whose unreadable answer may hide a
    call the provider did create; with `answer_times`, their read timeout is the one fitted to
    their recent answers (their cut answers are looked up like any lost one).
    """

    def __init__(
        self,
        url: str,
        *,
        api: str,
        credentials: Credentials,
        transport: httpx.BaseTransport | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
        writes: bool = True,
        creates: Collection[str] = frozenset(),
        classify: Classify = errors.from_error_object,
        answer_times: AnswerTimes | None = None,
    ) -> None:
        self.url = url
        self.api = api
        self.credentials = credentials
        self.last_limits: Limits | None = None
        self._clock = clock
        self._writes = writes
        self._creates = creates
        self._classify = classify
        self._answer_times = answer_times
        self._logger = logging.getLogger("dialer." + _slug(api))
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

    def __repr__(self) -> str:
        return f"JsonRpcEndpoint({self.url!r}, {self.credentials.describe()})"

    def close(self) -> None:
        """Log out if this endpoint logged in, then close the HTTP connections."""
        try:
            self.logout()
        except errors.CallApiError as exc:
            # The session dies by itself within the hour; closing must not fail because of it.
            self._logger.warning("%s logout on close failed: %s", _slug(self.api), exc)
        finally:
            self._http.close()

    # --- authentication ------------------------------------------------------------------------

    def login(self) -> None:
        """Take a session token with `login.user` (done lazily by every request when needed)."""
        login, password = self.credentials.login, self.credentials.password
        if login is None or password is None:
            message = f"no {self.api} login or password set"
            raise errors.AuthError(-32001, message, "auth_error")
        reply = self.send(LOGIN, {"login": login, "password": password.get_secret_value()})
        data = reply.data if isinstance(reply.data, dict) else {}
        token, expire_at = data.get(TOKEN), data.get("expire_at")
        if not isinstance(token, str) or not token or not is_number(expire_at):
            raise errors.BadReplyError(f"{LOGIN}: the reply has no access_token and expire_at")
        self._session_token = SecretStr(token)
        self._expire_at = float(expire_at)

    def logout(self) -> None:
        """End the session this endpoint logged in with; a permanent key is left alone."""
        token, self._session_token = self._session_token, None
        if token is not None:
            self.send(LOGOUT, {TOKEN: token.get_secret_value()})

    # --- requests ------------------------------------------------------------------------------

    def request(self, method: str, params: Mapping[str, Any]) -> Reply:
        """Send `method` with the token added (a caller's copy is dropped); log in again once
        when a session token is refused."""
        params = {k: v for k, v in params.items() if k != TOKEN}
        if method == LOGIN:
            return self.send(method, params)
        try:
            return self.send(method, {**params, TOKEN: self._token()})
        except errors.AuthError as exc:
            if not self._may_login_again(method, exc):
                raise
            self._logger.info(
                "%s %s: session token refused, logging in again", _slug(self.api), method
            )
            self._session_token = None
            return self.send(method, {**params, TOKEN: self._token()})

    def send(self, method: str, params: dict[str, Any]) -> Reply:
        """One JSON-RPC request with exactly these params; the reply or a typed error."""
        request_id = uuid.uuid4().hex
        body = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
        name = _slug(self.api)
        if self._logger.isEnabledFor(logging.DEBUG):
            self._logger.debug("%s %s id=%s params=%s", name, method, request_id, redact(params))
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
            self._logger.info(
                "%s %s id=%s %s in %.0f ms", name, method, request_id, outcome, elapsed
            )

    def _token(self) -> str:
        if self.credentials.access_token is not None:
            return self.credentials.access_token.get_secret_value()
        with self._token_lock:
            if self._session_token is None or self._clock() >= self._expire_at - REFRESH_MARGIN:
                self.login()
            assert self._session_token is not None  # login() sets it or raises
            return self._session_token.get_secret_value()

    def _secret_values(self) -> list[str]:
        """Every secret this endpoint may have sent, for masking where the provider quotes one."""
        held = (self.credentials.access_token, self.credentials.password, self._session_token)
        return [s.get_secret_value() for s in held if s is not None and s.get_secret_value()]

    def _may_login_again(self, method: str, exc: errors.AuthError) -> bool:
        # Only a session token goes stale within its hour; a refused permanent key stays refused.
        return (
            exc.mnemonic == "access_token_invalid"
            and self.credentials.access_token is None
            and self.credentials.login is not None
            and method != LOGOUT
        )

    def _exchange(self, method: str, request_id: str, body: dict[str, Any]) -> Reply:
        content = json.dumps(body, ensure_ascii=False).encode("utf-8")
        sent = self._clock()
        try:
            response = self._post(method, content)
        except httpx.HTTPError as exc:
            raise self._transport_error(method, exc) from exc
        read_in = max(0.0, self._clock() - sent)
        reply_body = self._json_rpc_body(method, response)
        error = reply_body.get("error")
        safe_error = (
            _scrubbed(_redacted_error(error), self._secret_values())
            if isinstance(error, dict)
            else None
        )
        # Redacting a reply walks all of it (a `list.calls` of thousands of active calls): only
        # when it is going to be logged.
        if self._logger.isEnabledFor(logging.DEBUG):
            self._logger.debug(
                "%s %s id=%s reply=%s",
                _slug(self.api),
                method,
                request_id,
                redact({**reply_body, "error": safe_error} if safe_error else reply_body),
            )
        limits = find_limits(reply_body)
        if limits is not None:
            self.last_limits = limits = replace(limits, read_in=read_in)
        _check_id(method, request_id, reply_body)
        if safe_error is not None:
            raise self._classify(safe_error, limits)
        result = reply_body["result"]
        return Reply(
            data=result.get("data"),
            limits=limits,
            request_id=request_id,
            total_items=_total_items(result),
        )

    def _post(self, method: str, content: bytes) -> httpx.Response:
        """POST one request, with the fitted read timeout for a `creates` method."""
        times = self._answer_times if method in self._creates else None
        if times is None:
            return self._http.post(self.url, content=content, headers=HEADERS)
        read = times.timeout()
        configured = self._http.timeout
        timeout = httpx.Timeout(
            connect=configured.connect, read=read, write=configured.write, pool=configured.pool
        )
        started = times.clock()
        try:
            response = self._http.post(self.url, content=content, headers=HEADERS, timeout=timeout)
        except httpx.ReadTimeout:
            times.record_cut(read)
            raise
        times.record(times.clock() - started)
        return response

    # --- translating what came back --------------------------------------------------------------

    def _transport_error(self, method: str, exc: httpx.HTTPError) -> errors.TransportError:
        """The one place where httpx's exceptions become ours."""
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
            return errors.NotSentError(f"{method}: not sent: {type(exc).__name__}: {exc}")
        if isinstance(exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError | httpx.ProxyError):
            return errors.NotSentError(f"{method}: not sent: {type(exc).__name__}: {exc}")
        message = f"{method}: no reply: {type(exc).__name__}: {exc}"
        if not self._writes:
            return errors.NoReplyError(message)
        # Read/write timeouts, a cut connection, a broken reply, anything unforeseen: the request
        # may have reached the provider, so its effect (a call) may exist.
        return errors.AmbiguousError(message)

    def _json_rpc_body(self, method: str, response: httpx.Response) -> dict[str, Any]:
        """The reply's JSON-RPC object, or an error for a 5xx or anything that is not one."""
        status = response.status_code
        if status >= 500:
            raise self._unreadable(method, f"{method}: HTTP {status}", status)
        try:
            body = response.json()
        except (ValueError, RecursionError):  # RecursionError: nested deeper than parsers go
            message = f"{method}: HTTP {status}, the body is not JSON"
            raise self._unreadable(method, message, status) from None
        is_reply = isinstance(body, dict) and (
            isinstance(body.get("result"), dict) or isinstance(body.get("error"), dict)
        )
        if not is_reply:
            message = f"{method}: HTTP {status}, the body is not a JSON-RPC reply"
            raise self._unreadable(method, message, status)
        return dict(body)

    def _unreadable(self, method: str, message: str, status: int) -> errors.TransportError:
        """An answer we cannot read: transient, unless a call may have been placed behind it.

        A gateway timeout (504), a bad gateway (502) or a mangled 200 to a `start.*` request may
        hide a call the provider did create, so it must be looked up, never simply sent again.
        """
        if method in self._creates and status not in errors.REFUSED_UPSTREAM:
            return errors.AmbiguousError(message)
        return errors.BadReplyError(message, status_code=status)


class EndpointClient:
    """The part every API client shares: its endpoint, its limits, and logging out on close."""

    _rpc: JsonRpcEndpoint

    @property
    def url(self) -> str:
        """The API's URL."""
        return self._rpc.url

    @property
    def last_limits(self) -> Limits | None:
        """`metadata.limits` of the latest reply that carried them (this API's own budget)."""
        return self._rpc.last_limits

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r}, {self._rpc.credentials.describe()})"

    def __enter__(self) -> Self:
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
        self._rpc.close()


def _slug(api: str) -> str:
    """`Call API` -> `callapi`: the logger's and the log lines' name."""
    return api.replace(" ", "").lower()


def _check_id(method: str, request_id: str, body: dict[str, Any]) -> None:
    # The provider answers errors it cannot tie to a request (parse errors) with id null.
    reply_id = body.get("id")
    if reply_id is not None and str(reply_id) != request_id:
        raise errors.BadReplyError(f"{method}: the reply is for another request id")


def _total_items(result: dict[str, Any]) -> int | None:
    metadata = result.get("metadata")
    total = metadata.get("total_items") if isinstance(metadata, dict) else None
    return int(total) if is_integer(total) else None


def _redacted_error(error: dict[str, Any]) -> dict[str, Any]:
    """The error object with secrets masked: the provider echoes the `value` we sent."""
    data = error.get("data")
    if not isinstance(data, dict):
        return error
    clean = redact(data)
    field = clean.get("field")
    if isinstance(field, str) and field in SECRET_KEYS and clean.get("value") is not None:
        clean["value"] = REDACTED
    return {**error, "data": clean}


def _scrubbed(value: Any, secrets: Collection[str]) -> Any:
    """A copy of a JSON value with every secret masked wherever it appears in a string.

    The provider may quote what we sent in an error's message or data, under any key.
    """
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, dict):
        return {_scrubbed(k, secrets): _scrubbed(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrubbed(v, secrets) for v in value]
    return value


def is_true(value: Any) -> bool:
    """JSON `true`, or the string `"true"` some of the docs' examples show."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


def is_number(value: Any) -> TypeGuard[int | float]:
    """A JSON number (not a boolean)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_integer(value: Any) -> TypeGuard[int | float]:
    """A JSON number with no fractional part (an int too big for a float is still one)."""
    if isinstance(value, float):
        return value.is_integer()
    return is_number(value)
