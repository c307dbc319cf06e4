"""The Call API client against `httpx.MockTransport`: requests, replies, faults, tokens, secrets."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from dialer.callapi import errors
from dialer.callapi.client import ActiveCall, CallApiClient, Reply
from dialer.callapi.limits import Limits
from dialer.config import load_settings
from tests.clock import Clock
from tests.unit.callapi.scripted import FakeApi, fail, ok
from tests.unit.callapi.vectors import (
    DOC_TOKEN,
    LIMITS,
    REPLIES,
    REQUESTS,
    START_CALL_SESSION_IDS,
)

URL = "https://callapi.test/v4.0"
PERMANENT_KEY = "permanent-key-7f3a9c"
SESSION_TOKEN = "session-token-51d0e2"
OTHER_SESSION_TOKEN = "session-token-88aa01"
LOGIN = "operator@example.org"
PASSWORD = "hunter2-pa55word"


def login_reply(token: str = SESSION_TOKEN, expire_at: float = 10_000.0) -> dict[str, Any]:
    """A login.user reply."""
    return ok({"access_token": token, "expire_at": expire_at})


def doc_params(method: str) -> dict[str, Any]:
    """The docs' example params for `method`, without the token."""
    return {k: v for k, v in REQUESTS[method]["params"].items() if k != "access_token"}


def keyed(api: FakeApi, **kwargs: Any) -> CallApiClient:
    """A client on a permanent key."""
    return CallApiClient(
        URL, access_token=SecretStr(PERMANENT_KEY), transport=api.transport, **kwargs
    )


def logged_in(api: FakeApi, clock: Clock | None = None) -> CallApiClient:
    """A client that logs in with login and password."""
    return CallApiClient(
        URL,
        login=LOGIN,
        password=SecretStr(PASSWORD),
        transport=api.transport,
        clock=clock or Clock(1_000.0),
    )


# --- the request on the wire ----------------------------------------------------------------------


def test_request_is_one_json_rpc_object_with_the_token() -> None:
    api = FakeApi(REPLIES["start.informer_call"])
    keyed(api).start_call("start.informer_call", doc_params("start.informer_call"))
    (request,) = api.requests
    assert request == {
        "jsonrpc": "2.0",
        "id": request["id"],
        "method": "start.informer_call",
        "params": {**doc_params("start.informer_call"), "access_token": PERMANENT_KEY},
    }
    raw = api.raw[0]
    assert raw.method == "POST"
    assert str(raw.url) == URL
    assert raw.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert int(raw.headers["Content-Length"]) == len(raw.content)
    # UTF-8 text, not \\u escapes.
    assert "Тестовое сообщение".encode() in raw.content


def test_every_request_gets_a_fresh_id() -> None:
    api = FakeApi(REPLIES["release.call"], REPLIES["release.call"])
    client = keyed(api)
    first = client.release_call(1)
    second = client.release_call(2)
    ids = [request["id"] for request in api.requests]
    assert len(set(ids)) == 2
    assert [first.request_id, second.request_id] == ids


def test_timeouts_are_explicit() -> None:
    api = FakeApi(REPLIES["release.call"])
    keyed(api, connect_timeout=2.0, read_timeout=7.0).release_call(1)
    assert api.raw[0].extensions["timeout"] == {
        "connect": 2.0,
        "read": 7.0,
        "write": 7.0,
        "pool": 2.0,
    }


def test_a_callers_access_token_is_replaced_by_the_clients() -> None:
    api = FakeApi(REPLIES["release.call"])
    keyed(api).call("release.call", {"access_token": "stale", "call_session_id": 5})
    assert api.tokens() == [PERMANENT_KEY]


def test_invalid_params_are_refused_before_sending() -> None:
    api = FakeApi()
    with pytest.raises(errors.InvalidParams) as caught:
        keyed(api).start_call("start.informer_call", {"contact": "79260000000"})
    assert caught.value.mnemonic == "required_parameter_missed"
    assert api.requests == []


def test_start_call_refuses_a_method_that_is_not_start() -> None:
    api = FakeApi()
    with pytest.raises(errors.InvalidParams) as caught:
        keyed(api).start_call("release.call", {"call_session_id": 1})
    assert caught.value.mnemonic == "method_not_found"
    assert api.requests == []


def test_from_settings_uses_url_credentials_and_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIALER_CALLAPI_URL", URL)
    monkeypatch.setenv("DIALER_CALLAPI_ACCESS_TOKEN", PERMANENT_KEY)
    monkeypatch.setenv("DIALER_CALLAPI_READ_TIMEOUT", "12")
    api = FakeApi(REPLIES["release.call"])
    CallApiClient.from_settings(load_settings(), transport=api.transport).release_call(1)
    assert str(api.raw[0].url) == URL
    assert api.tokens() == [PERMANENT_KEY]
    assert api.raw[0].extensions["timeout"]["read"] == 12.0


# --- the docs' replies ----------------------------------------------------------------------------


@pytest.mark.parametrize("method", sorted(START_CALL_SESSION_IDS))
def test_docs_start_reply_parses_into_started_call(method: str) -> None:
    api = FakeApi(REPLIES[method])
    started = keyed(api).start_call(method, doc_params(method))
    assert started.call_session_id == START_CALL_SESSION_IDS[method]
    assert api.methods == [method]


def test_docs_list_calls_reply_parses_into_active_calls() -> None:
    api = FakeApi(REPLIES["list.calls"])
    active = keyed(api).list_calls(direction="in", virtual_phone_number="74951045771")
    assert active.calls == [
        ActiveCall(
            call_session_id=206597836,
            direction="in",
            start_time="2016-10-19T12:26:48.418",
            virtual_phone_number="74951045771",
            contact_phone_number="74959268686",
            external_id=None,
        )
    ]
    assert api.requests[0]["params"] == {**doc_params("list.calls"), "access_token": PERMANENT_KEY}


def test_list_calls_keeps_the_external_id() -> None:
    item = {**REPLIES["list.calls"]["result"]["data"][0], "external_id": "camp-1:contact-9"}
    api = FakeApi(ok([item]))
    assert keyed(api).list_calls().calls[0].external_id == "camp-1:contact-9"


@pytest.mark.parametrize("method", ["release.call", "block.contact"])
def test_docs_success_string_true_counts_as_success(method: str) -> None:
    api = FakeApi(REPLIES[method])
    reply = keyed(api).call(method, doc_params(method))
    assert reply.success is True
    assert reply.data == {"success": "true"}


def test_success_false_is_not_success() -> None:
    api = FakeApi(ok({"success": False}))
    assert keyed(api).release_call(1).success is False


def test_docs_login_and_logout_replies() -> None:
    api = FakeApi(REPLIES["login.user"], REPLIES["logout.user"])
    client = CallApiClient(
        URL,
        login="your_login",
        password=SecretStr("your_password"),
        transport=api.transport,
        clock=Clock(1475853742 - 3600),
    )
    client.login()
    client.close()
    assert api.requests[0]["params"] == doc_params("login.user")
    assert api.requests[1]["params"] == REQUESTS["logout.user"]["params"]
    assert api.tokens() == [None, DOC_TOKEN]


@pytest.mark.parametrize(
    "data",
    [{}, {"call_session_id": "237859081"}, {"call_session_id": True}, {"call_session_id": 1.5}, []],
)
def test_start_success_without_integer_session_id_is_ambiguous(data: Any) -> None:
    # The provider said yes without naming the call: it may exist, so it must be looked up.
    api = FakeApi(ok(data))
    with pytest.raises(errors.AmbiguousError):
        keyed(api).start_call("start.informer_call", doc_params("start.informer_call"))


def test_list_calls_with_malformed_data_is_a_bad_reply() -> None:
    api = FakeApi(ok({"calls": []}), ok([{"direction": "in"}]))
    client = keyed(api)
    with pytest.raises(errors.BadReplyError):
        client.list_calls()
    with pytest.raises(errors.BadReplyError):
        client.list_calls()


# --- error replies and limits ---------------------------------------------------------------------


def test_error_reply_raises_the_typed_error() -> None:
    api = FakeApi(fail("contact_in_blacklist", -32002, field="contact", value="79260000000"))
    with pytest.raises(errors.BlacklistedError) as caught:
        keyed(api).start_call("start.simple_call", doc_params("start.simple_call"))
    assert (caught.value.code, caught.value.field, caught.value.value) == (
        -32002,
        "contact",
        "79260000000",
    )


def test_error_reply_with_null_id_is_still_read() -> None:
    body = {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32700, "message": "bad", "data": {"mnemonic": "parse_error"}},
    }
    api = FakeApi(httpx.Response(200, json=body))
    with pytest.raises(errors.RequestError) as caught:
        keyed(api).release_call(1)
    assert caught.value.mnemonic == "parse_error"


def test_reply_for_another_request_id_is_a_bad_reply() -> None:
    api = FakeApi(httpx.Response(200, json={**REPLIES["release.call"], "id": "someone-else"}))
    with pytest.raises(errors.BadReplyError):
        keyed(api).release_call(1)


def test_json_rpc_error_under_http_4xx_is_the_typed_error() -> None:
    api = FakeApi(
        lambda body: httpx.Response(400, json={**fail("forbidden", -32003), "id": body["id"]})
    )
    with pytest.raises(errors.CampaignFatalError) as caught:
        keyed(api).release_call(1)
    assert caught.value.mnemonic == "forbidden"


EXPECTED_LIMITS = Limits.from_mapping(LIMITS)


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(ok({"call_session_id": 7}, metadata={"limits": LIMITS}), id="result.metadata"),
        pytest.param({**ok({"call_session_id": 7}), "metadata": {"limits": LIMITS}}, id="metadata"),
    ],
)
def test_limits_from_a_success_reply(reply: dict[str, Any]) -> None:
    api = FakeApi(reply)
    client = keyed(api)
    started = client.start_call("start.informer_call", doc_params("start.informer_call"))
    assert started.limits == EXPECTED_LIMITS
    assert client.last_limits == EXPECTED_LIMITS


def test_limits_carry_the_seconds_their_reply_took() -> None:
    clock = Clock(1_000.0)

    def slow_reply(_: dict[str, Any]) -> dict[str, Any]:
        clock.advance(20.0)
        return ok({"call_session_id": 7}, metadata={"limits": LIMITS})

    client = keyed(FakeApi(slow_reply), clock=clock)
    started = client.start_call("start.informer_call", doc_params("start.informer_call"))
    assert started.limits is not None
    assert started.limits.read_in == 20.0
    # The provider's numbers alone are the limits: the time is ours, compared and sent nowhere.
    assert started.limits == EXPECTED_LIMITS
    assert started.limits.as_dict() == LIMITS


def _error_with_limits(where: str) -> dict[str, Any]:
    reply = fail("limit_exceeded", -32029, params={"limit_type": "minute"})
    if where == "error.data.metadata":
        reply["error"]["data"]["metadata"] = {"limits": LIMITS}
    elif where == "error.metadata":
        reply["error"]["metadata"] = {"limits": LIMITS}
    else:
        reply["metadata"] = {"limits": LIMITS}
    return reply


@pytest.mark.parametrize("where", ["metadata", "error.data.metadata", "error.metadata"])
def test_limits_from_an_error_reply(where: str) -> None:
    api = FakeApi(_error_with_limits(where))
    client = keyed(api)
    with pytest.raises(errors.RateLimitError) as caught:
        client.start_call("start.informer_call", doc_params("start.informer_call"))
    assert caught.value.limits == EXPECTED_LIMITS
    assert caught.value.retry_after == 42.0
    assert client.last_limits == EXPECTED_LIMITS


def test_last_limits_survive_a_reply_without_limits() -> None:
    later = {**LIMITS, "minute_remaining": 54}
    api = FakeApi(
        ok({"success": True}, metadata={"limits": LIMITS}),
        fail("access_token_invalid", -32001),
        ok({"success": True}, metadata={"limits": later}),
    )
    client = keyed(api)
    assert client.last_limits is None
    client.release_call(1)
    with pytest.raises(errors.AuthError):
        client.release_call(1)
    assert client.last_limits == EXPECTED_LIMITS
    assert client.release_call(1).limits == Limits.from_mapping(later)
    assert client.last_limits == Limits.from_mapping(later)


# --- transport faults -----------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_connection_refused_for_real_is_not_sent() -> None:
    client = CallApiClient(
        f"http://127.0.0.1:{_closed_port()}/v4.0", access_token=SecretStr(PERMANENT_KEY)
    )
    with pytest.raises(errors.NotSentError) as caught:
        client.release_call(1)
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (httpx.ConnectError("Connection refused"), errors.NotSentError),
        (httpx.ConnectError("[Errno -2] Name or service not known"), errors.NotSentError),
        (httpx.ConnectTimeout("connect timed out"), errors.NotSentError),
        (httpx.PoolTimeout("no free connection"), errors.NotSentError),
        (httpx.ReadTimeout("read timed out"), errors.AmbiguousError),
        (httpx.WriteTimeout("write timed out"), errors.AmbiguousError),
        (httpx.ReadError("connection reset by peer"), errors.AmbiguousError),
        (httpx.RemoteProtocolError("server disconnected"), errors.AmbiguousError),
    ],
)
def test_transport_fault_is_translated(
    fault: httpx.HTTPError, expected: type[errors.TransportError]
) -> None:
    api = FakeApi(fault)
    with pytest.raises(errors.TransportError) as caught:
        keyed(api).start_call("start.informer_call", doc_params("start.informer_call"))
    assert type(caught.value) is expected
    assert caught.value.__cause__ is fault


@pytest.mark.parametrize(
    ("response", "status"),
    [
        (httpx.Response(502, text="<html>Bad Gateway</html>"), 502),
        (httpx.Response(503, json={"jsonrpc": "2.0", "id": None, "result": {"data": {}}}), 503),
        (httpx.Response(200, text="<html><body>maintenance</body></html>"), 200),
        (httpx.Response(404, text="<html>Not Found</html>"), 404),
        (httpx.Response(200, json={"hello": "world"}), 200),
        (httpx.Response(200, json=["not", "an", "object"]), 200),
        (httpx.Response(200, content=b""), 200),
    ],
)
def test_answer_that_is_not_json_rpc_is_a_bad_reply(response: httpx.Response, status: int) -> None:
    api = FakeApi(response)
    with pytest.raises(errors.BadReplyError) as caught:
        keyed(api).release_call(1)
    assert caught.value.status_code == status
    assert caught.value.handling is errors.Handling.TRANSIENT


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (httpx.Response(500, text="<html>Internal Server Error</html>"), errors.BadReplyError),
        (httpx.Response(503, text="<html>Service Unavailable</html>"), errors.BadReplyError),
        (httpx.Response(502, text="<html>Bad Gateway</html>"), errors.AmbiguousError),
        (httpx.Response(504, text="<html>Gateway Timeout</html>"), errors.AmbiguousError),
        (httpx.Response(200, text="<html>maintenance</html>"), errors.AmbiguousError),
        (httpx.Response(200, json={"hello": "world"}), errors.AmbiguousError),
    ],
)
def test_an_unreadable_answer_to_a_start_call_is_ambiguous_unless_refused_upstream(
    response: httpx.Response, expected: type[errors.TransportError]
) -> None:
    # Behind a gateway timeout or a mangled 200 the call may exist: never simply send it again.
    api = FakeApi(response)
    with pytest.raises(errors.TransportError) as caught:
        keyed(api).start_call("start.informer_call", doc_params("start.informer_call"))
    assert type(caught.value) is expected


# --- tokens ---------------------------------------------------------------------------------------


def test_permanent_key_never_logs_in_nor_out() -> None:
    api = FakeApi(REPLIES["release.call"], REPLIES["release.call"])
    with keyed(api) as client:
        client.release_call(1)
        client.release_call(2)
    assert api.methods == ["release.call", "release.call"]
    assert api.tokens() == [PERMANENT_KEY, PERMANENT_KEY]


def test_permanent_key_refused_is_an_auth_error_without_login() -> None:
    api = FakeApi(fail("access_token_invalid", -32001))
    with pytest.raises(errors.AuthError):
        keyed(api).release_call(1)
    assert api.methods == ["release.call"]


def test_no_credentials_is_an_auth_error_without_a_request() -> None:
    api = FakeApi()
    with pytest.raises(errors.AuthError):
        CallApiClient(URL, transport=api.transport).release_call(1)
    assert api.requests == []


def test_logs_in_lazily_once_and_uses_the_session_token() -> None:
    api = FakeApi(login_reply(), REPLIES["release.call"], REPLIES["release.call"])
    client = logged_in(api)
    assert api.requests == []
    client.release_call(1)
    client.release_call(2)
    assert api.methods == ["login.user", "release.call", "release.call"]
    assert api.requests[0]["params"] == {"login": LOGIN, "password": PASSWORD}
    assert api.tokens() == [None, SESSION_TOKEN, SESSION_TOKEN]


def test_logs_in_again_before_expire_at() -> None:
    clock = Clock(1_000.0)
    api = FakeApi(
        login_reply(SESSION_TOKEN, expire_at=4_600.0),
        REPLIES["release.call"],
        login_reply(OTHER_SESSION_TOKEN, expire_at=8_200.0),
        REPLIES["release.call"],
    )
    client = logged_in(api, clock)
    client.release_call(1)
    clock.now = 4_590.0  # still before expire_at, but inside the refresh margin
    client.release_call(2)
    assert api.methods == ["login.user", "release.call", "login.user", "release.call"]
    assert api.tokens()[3] == OTHER_SESSION_TOKEN


def test_access_token_invalid_logs_in_again_once_and_repeats() -> None:
    api = FakeApi(
        login_reply(SESSION_TOKEN),
        fail("access_token_invalid", -32001),
        login_reply(OTHER_SESSION_TOKEN),
        REPLIES["start.informer_call"],
    )
    started = logged_in(api).start_call("start.informer_call", doc_params("start.informer_call"))
    assert started.call_session_id == 1238694
    assert api.methods == [
        "login.user",
        "start.informer_call",
        "login.user",
        "start.informer_call",
    ]
    assert api.tokens()[1::2] == [SESSION_TOKEN, OTHER_SESSION_TOKEN]


def test_second_access_token_invalid_is_an_auth_error() -> None:
    api = FakeApi(
        login_reply(SESSION_TOKEN),
        fail("access_token_invalid", -32001),
        login_reply(OTHER_SESSION_TOKEN),
        fail("access_token_invalid", -32001),
    )
    with pytest.raises(errors.AuthError) as caught:
        logged_in(api).release_call(1)
    assert caught.value.mnemonic == "access_token_invalid"
    assert api.methods == ["login.user", "release.call", "login.user", "release.call"]


def test_other_auth_errors_do_not_log_in_again() -> None:
    api = FakeApi(login_reply(), fail("access_token_blocked", -32001))
    with pytest.raises(errors.AuthError):
        logged_in(api).release_call(1)
    assert api.methods == ["login.user", "release.call"]


def test_wrong_login_is_an_auth_error() -> None:
    api = FakeApi(fail("auth_error", -32001))
    with pytest.raises(errors.AuthError) as caught:
        logged_in(api).release_call(1)
    assert caught.value.mnemonic == "auth_error"
    assert api.methods == ["login.user"]


def test_login_reply_without_token_is_a_bad_reply() -> None:
    api = FakeApi(ok({"expire_at": 5_000}))
    with pytest.raises(errors.BadReplyError):
        logged_in(api).login()


def test_close_logs_out_the_session() -> None:
    api = FakeApi(login_reply(), REPLIES["release.call"], REPLIES["logout.user"])
    with logged_in(api) as client:
        client.release_call(1)
    assert api.methods == ["login.user", "release.call", "logout.user"]
    assert api.requests[2]["params"] == {"access_token": SESSION_TOKEN}


def test_close_without_a_session_sends_nothing() -> None:
    api = FakeApi()
    logged_in(api).close()
    assert api.requests == []


def test_close_survives_a_failed_logout(caplog: pytest.LogCaptureFixture) -> None:
    api = FakeApi(login_reply(), httpx.ConnectError("refused"))
    client = logged_in(api)
    client.login()
    client.close()
    assert api.methods == ["login.user", "logout.user"]
    assert "logout on close failed" in caplog.text


# --- secrets --------------------------------------------------------------------------------------


SECRETS = (PERMANENT_KEY, SESSION_TOKEN, OTHER_SESSION_TOKEN, PASSWORD)


def test_secrets_appear_in_no_log_repr_or_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []

    def remember(thing: object) -> None:
        seen.extend([str(thing), repr(thing)])
        for arg in getattr(thing, "args", ()):
            seen.extend([str(arg), repr(arg)])
        for name in ("message", "value", "params", "field"):
            seen.append(repr(getattr(thing, name, None)))

    api = FakeApi(
        # The provider echoes the refused password and token as `value`.
        fail("auth_error", -32001, field="password", value=PASSWORD),
        login_reply(SESSION_TOKEN),
        REPLIES["release.call"],
        fail("access_token_invalid", -32001, field="access_token", value=SESSION_TOKEN),
        login_reply(OTHER_SESSION_TOKEN),
        fail("access_token_invalid", -32001, field="access_token", value=OTHER_SESSION_TOKEN),
        httpx.ReadTimeout("read timed out"),
        login_reply(SESSION_TOKEN),
        REPLIES["logout.user"],
    )
    client = logged_in(api)
    remember(client)
    attempts: list[Callable[[], object]] = [
        lambda: client.release_call(1),  # auth_error on login
        lambda: client.release_call(1),  # logs in, succeeds
        lambda: client.release_call(2),  # refused twice
        lambda: client.release_call(3),  # read timeout
        lambda: client.call("login.user", {"login": LOGIN, "password": PASSWORD}),
        lambda: client.call("start.informer_call", {"access_token": PERMANENT_KEY}),
    ]
    for attempt in attempts:
        try:
            remember(attempt())
        except errors.CallApiError as exc:
            remember(exc)
            remember(exc.__cause__)
    client.close()
    remember(client)
    keyed_client = keyed(FakeApi())
    remember(keyed_client)

    assert len(api.requests) == 9
    assert any("release.call" in record.getMessage() for record in caplog.records)
    everything = "\n".join([caplog.text, *seen])
    for secret in SECRETS:
        assert secret not in everything


def test_reply_repr_masks_the_session_token() -> None:
    reply = Reply(data={"access_token": SESSION_TOKEN, "expire_at": 1}, limits=None, request_id="x")
    assert SESSION_TOKEN not in repr(reply)
    assert SESSION_TOKEN not in str(reply)
    assert reply.data["access_token"] == SESSION_TOKEN
