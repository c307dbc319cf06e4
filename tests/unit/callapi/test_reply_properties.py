"""Whatever the provider answers, both clients end in a valid reply or a typed `CallApiError`.

Random JSON, JSON-RPC envelopes with wrong types and missing fields, HTML error pages, random
bytes, wrong content types and statuses, replies to another request id, deeply nested and huge
bodies, and replies that echo our secrets back: never another exception, and never the access
token or the password in the error's text.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from dialer.callapi import errors
from dialer.callapi.client import CallApiClient
from dialer.callapi.dataapi import DataApiClient, DataApiConfig
from tests.unit.callapi.vectors import LIMITS

CALLAPI_URL = "https://callapi.test/v4.0"
DATAAPI_URL = "https://dataapi.test/v2.0"
TOKEN = "perm-key-Zq81xYv0"
SESSION_TOKEN = "sess-tok-Pw55Kk9m"
LOGIN = "operator@example.org"
PASSWORD = "pa55-Hh7Jj2Ll"
SECRETS = (TOKEN, SESSION_TOKEN, PASSWORD)
SINCE = dt.datetime(2026, 11, 23, 6, 0, tzinfo=dt.UTC)
UNTIL = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
START_PARAMS = {
    "virtual_phone_number": "74993720692",
    "contact": "79260000001",
    "external_id": "c-1",
    "contact_message": {"type": "tts", "value": "Здравствуйте"},
}
PROPERTY = settings(
    max_examples=20, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

# --- what the provider may answer -----------------------------------------------------------------

SECRET_TEXT = st.sampled_from(SECRETS).map(lambda s: f"token {s} is wrong")
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(SECRETS)
    | SECRET_TEXT
    # Numbers no float holds, and the names the replies' fields have.
    | st.just(10**400)
    | st.sampled_from(["true", "false", "", "74993720692", "limit_exceeded", "minute", "day"])
)
KEYS = st.sampled_from(
    [
        "jsonrpc",
        "id",
        "result",
        "error",
        "data",
        "metadata",
        "limits",
        "total_items",
        "code",
        "message",
        "mnemonic",
        "field",
        "value",
        "params",
        "access_token",
        "expire_at",
        "call_session_id",
        "success",
        "limit_type",
        "password",
        *LIMITS,
    ]
) | st.text(max_size=8)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=6),
    max_leaves=25,
)
MNEMONICS = st.sampled_from(
    [
        "internal_error",
        "limit_exceeded",
        "access_token_invalid",
        "access_token_expired",
        "auth_error",
        "contact_in_blacklist",
        "invalid_parameter_value",
        "ip_not_whitelisted",
        "filter_prohibited",
        "no_such_mnemonic",
    ]
)
ERROR_OBJECTS = st.fixed_dictionaries(
    {},
    optional={
        "code": st.integers(-33000, -32000) | JSON,
        "message": st.text(max_size=30) | SECRET_TEXT | JSON,
        "data": st.fixed_dictionaries(
            {},
            optional={
                "mnemonic": MNEMONICS | JSON,
                "field": st.sampled_from(["access_token", "password", "contact"]) | JSON,
                "value": JSON,
                "params": st.dictionaries(KEYS, JSON, max_size=3) | JSON,
                "metadata": JSON,
            },
        )
        | JSON,
    },
)
LIMITS_LIKE = st.just(LIMITS) | st.dictionaries(st.sampled_from(list(LIMITS)), SCALARS)
RESULTS = st.fixed_dictionaries(
    {},
    optional={
        "data": JSON,
        "metadata": st.fixed_dictionaries(
            {}, optional={"limits": LIMITS_LIKE | JSON, "total_items": SCALARS}
        )
        | JSON,
    },
)
# How the reply names the request: ours, another, none, or something that is not an id.
IDS = st.sampled_from(["ours", "missing", "null", "other"]) | JSON.map(lambda v: ("raw", v))
ENVELOPES = st.fixed_dictionaries(
    {"id": IDS},
    optional={
        "jsonrpc": st.just("2.0") | JSON,
        "result": RESULTS | JSON,
        "error": ERROR_OBJECTS | JSON,
        "metadata": st.fixed_dictionaries({}, optional={"limits": LIMITS_LIKE}) | JSON,
    },
)
HTML_PAGES = st.sampled_from(
    [
        b"<html><body><h1>502 Bad Gateway</h1></body></html>",
        b"<!DOCTYPE html><html><head><title>Maintenance</title></head></html>",
        b"",
        b"null",
        b"[]",
        b'"ok"',
        b"\xef\xbb\xbf{}",
        b"\xff\xfe{\x00}\x00",
    ]
)
CONTENT_TYPES = st.sampled_from(
    [
        "application/json; charset=UTF-8",
        "application/json",
        "text/html",
        "text/plain; charset=windows-1251",
        "application/json; charset=no-such-charset",
        "application/octet-stream",
        None,
    ]
)
STATUSES = st.sampled_from([200, 200, 200, 201, 204, 301, 400, 401, 403, 404, 429]) | st.integers(
    200, 599
)


@st.composite
def answers(draw: st.DrawFn) -> Callable[[httpx.Request], httpx.Response]:
    """One answer of a misbehaving provider, given the request it answers."""
    kind = draw(st.sampled_from(["envelope", "json", "html", "bytes"]))
    status = draw(STATUSES)
    content_type = draw(CONTENT_TYPES)
    envelope = draw(ENVELOPES) if kind == "envelope" else None
    other = draw(JSON) if kind == "json" else None
    raw = draw(HTML_PAGES) if kind == "html" else draw(st.binary(max_size=200))

    def answer(request: httpx.Request) -> httpx.Response:
        if envelope is not None:
            content = json.dumps(_with_id(envelope, request)).encode()
        elif kind == "json":
            content = json.dumps(other).encode()
        else:
            content = raw
        headers = {} if content_type is None else {"Content-Type": content_type}
        return httpx.Response(status, content=content, headers=headers)

    return answer


def _with_id(envelope: dict[str, Any], request: httpx.Request) -> dict[str, Any]:
    body = {k: v for k, v in envelope.items() if k != "id"}
    how = envelope["id"]
    if how == "ours":
        body["id"] = json.loads(request.content)["id"]
    elif how == "null":
        body["id"] = None
    elif how == "other":
        body["id"] = "not-our-request"
    elif isinstance(how, tuple):
        body["id"] = how[1]
    return body


# --- the clients, and what may come out of them -----------------------------------------------


def transport_of(answer: Callable[[httpx.Request], httpx.Response]) -> httpx.MockTransport:
    """A transport that answers the login with a good session, and the rest with `answer`."""

    def handle(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content)["method"] == "login.user":
            reply = {"access_token": SESSION_TOKEN, "expire_at": 4_000_000_000}
            body = {"jsonrpc": "2.0", "id": json.loads(request.content)["id"]}
            return httpx.Response(200, json={**body, "result": {"data": reply}})
        return answer(request)

    return httpx.MockTransport(handle)


def call_client(transport: httpx.BaseTransport, login_mode: bool) -> CallApiClient:
    """A Call API client on a key, or in login mode."""
    if login_mode:
        return CallApiClient(
            CALLAPI_URL, login=LOGIN, password=SecretStr(PASSWORD), transport=transport
        )
    return CallApiClient(CALLAPI_URL, access_token=SecretStr(TOKEN), transport=transport)


def data_client(transport: httpx.BaseTransport, login_mode: bool) -> DataApiClient:
    """A Data API client on a key, or in login mode."""
    if login_mode:
        config = DataApiConfig(DATAAPI_URL, login=LOGIN, password=SecretStr(PASSWORD))
    else:
        config = DataApiConfig(DATAAPI_URL, access_token=SecretStr(TOKEN))
    return DataApiClient(config, transport=transport)


CALL_API_REQUESTS: dict[str, Callable[[CallApiClient], object]] = {
    "start_call": lambda c: c.start_call("start.informer_call", START_PARAMS),
    "list_calls": lambda c: c.list_calls(),
    "release_call": lambda c: c.release_call(123),
    "login": lambda c: c.login(),
}
DATA_API_REQUESTS: dict[str, Callable[[DataApiClient], object]] = {
    "calls_report": lambda c: c.calls_report(SINCE, UNTIL),
    "call_legs_report": lambda c: c.call_legs_report(SINCE, UNTIL),
    # A few pages: an answer that always claims more rows would otherwise page on for long.
    "pages": lambda c: list(
        itertools.islice(c.pages(lambda **kw: c.calls_report(SINCE, UNTIL, **kw)), 3)
    ),
}


def secrets_of(login_mode: bool, name: str = "") -> tuple[str, ...]:
    """The secrets a client sent: its key, or its password and the session it got (if any)."""
    if not login_mode:
        return (TOKEN,)
    return (PASSWORD,) if name == "login" else (PASSWORD, SESSION_TOKEN)


def outcome_of(
    request: Callable[[], object], secrets: tuple[str, ...] = (TOKEN,)
) -> errors.CallApiError | None:
    """Run `request`: None for a reply, the typed error for a refusal; anything else fails."""
    try:
        request()
    except errors.CallApiError as exc:
        assert_no_secret(exc, secrets)
        return exc
    return None


def assert_no_secret(exc: errors.CallApiError, secrets: tuple[str, ...]) -> None:
    """None of the secrets the client sent in the error's text, repr, or any attribute."""
    texts = [str(exc), repr(exc), *(repr(v) for v in vars(exc).values())]
    for text in texts:
        for secret in secrets:
            assert secret not in text, f"{type(exc).__name__} shows a secret: {text}"


# --- the properties ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CALL_API_REQUESTS))
@pytest.mark.parametrize("login_mode", [False, True], ids=["key", "login"])
@PROPERTY
@given(answer=answers())
def test_call_api_replies_end_in_a_reply_or_a_typed_error(
    name: str, login_mode: bool, answer: Callable[[httpx.Request], httpx.Response]
) -> None:
    """Every Call API helper, whatever the answer."""
    request = CALL_API_REQUESTS[name]
    # The login itself gets the random answers; every other request a good session first.
    transport = httpx.MockTransport(answer) if name == "login" else transport_of(answer)
    with call_client(transport, login_mode) as client:
        outcome_of(lambda: request(client), secrets_of(login_mode, name))


@pytest.mark.parametrize("name", sorted(DATA_API_REQUESTS))
@pytest.mark.parametrize("login_mode", [False, True], ids=["key", "login"])
@PROPERTY
@given(answer=answers())
def test_data_api_replies_end_in_a_reply_or_a_typed_error(
    name: str, login_mode: bool, answer: Callable[[httpx.Request], httpx.Response]
) -> None:
    """Every Data API query, whatever the answer (the login itself answered well)."""
    request = DATA_API_REQUESTS[name]
    with data_client(transport_of(answer), login_mode) as client:
        outcome_of(lambda: request(client), secrets_of(login_mode, name))


@PROPERTY
@given(answer=answers())
def test_a_start_answer_that_cannot_be_read_is_never_taken_for_no_call(
    answer: Callable[[httpx.Request], httpx.Response],
) -> None:
    """A 200 that is not a readable reply to a start.* request may hide a call: never transient."""
    with call_client(httpx.MockTransport(answer), login_mode=False) as client:
        outcome = outcome_of(lambda: CALL_API_REQUESTS["start_call"](client))
    if isinstance(outcome, errors.BadReplyError):
        assert outcome.status_code != 200


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"[" * 100_000, id="nested-past-the-parser"),
        pytest.param(b'{"result": {"data": ' * 900 + b"1" + b"}}" * 900, id="nested-deep"),
        pytest.param(
            b'{"jsonrpc": "2.0", "result": {"data": "' + b"x" * 5_000_000 + b'"}}', id="huge-body"
        ),
        pytest.param(b"1" * 10_000, id="number-too-long"),
    ],
)
@pytest.mark.parametrize("api", ["call", "data"])
def test_pathological_bodies_end_in_a_typed_error(content: bytes, api: str) -> None:
    """Bodies that break parsers or eat memory are unreadable answers, nothing worse."""
    transport = transport_of(lambda _request: httpx.Response(200, content=content))
    if api == "call":
        with call_client(transport, login_mode=False) as client:
            outcome = outcome_of(client.list_calls)
    else:
        with data_client(transport, login_mode=False) as data:
            outcome = outcome_of(lambda: data.calls_report(SINCE, UNTIL))
    assert isinstance(outcome, errors.CallApiError)


@pytest.mark.parametrize(
    ("limits", "total_items"),
    [
        ({**LIMITS, "minute_reset": 1e999}, "12"),
        ({**LIMITS, "day_remaining": float("nan")}, float("inf")),
        ({**LIMITS, "minute_limit": 10**400}, float("nan")),
    ],
    ids=["infinite-reset", "nan-remaining", "huge-limit"],
)
def test_numbers_no_float_holds_are_no_limits_and_no_total(
    limits: dict[str, Any], total_items: Any
) -> None:
    """Infinite, NaN or enormous numbers in metadata are ignored, not a crash."""
    result = {"data": [], "metadata": {"limits": limits, "total_items": total_items}}

    def answer(request: httpx.Request) -> httpx.Response:
        body = {"jsonrpc": "2.0", "id": json.loads(request.content)["id"], "result": result}
        return httpx.Response(200, content=json.dumps(body).encode())

    with data_client(transport_of(answer), login_mode=False) as client:
        page = client.calls_report(SINCE, UNTIL)
    assert (page.limits, page.rows, page.total_items) == (None, [], 0)


@pytest.mark.parametrize("where", ["message", "value", "params", "mnemonic"])
def test_a_token_the_provider_echoes_anywhere_in_an_error_is_masked(where: str) -> None:
    """The provider may quote our token in its message or data: the error never repeats it."""
    data: dict[str, Any] = {"mnemonic": "access_token_invalid", "field": "contact"}
    message = "Access token is invalid"
    if where == "message":
        message = f"Access token {TOKEN} is invalid"
    elif where == "params":
        data["params"] = {"token": TOKEN, "nested": [f"prefix {TOKEN}"]}
    else:
        data[where] = f"{TOKEN}"
    error = {"code": -32001, "message": message, "data": data}

    def answer(request: httpx.Request) -> httpx.Response:
        body = {"jsonrpc": "2.0", "id": json.loads(request.content)["id"], "error": error}
        return httpx.Response(200, json=body)

    with call_client(httpx.MockTransport(answer), login_mode=False) as client:
        outcome = outcome_of(client.list_calls)
    assert isinstance(outcome, errors.ApiError)
