"""The real `CallApiClient` against the simulator over loopback HTTP."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from dialer.callapi import errors
from dialer.callapi.client import CallApiClient
from dialer.simulator import DEFAULT_ACCESS_TOKEN, Fault, SimulatorServer
from tests.clock import Clock
from tests.integration.conftest import StartSimulator

INFORMER = "start.informer_call"
PARAMS: dict[str, Any] = {
    "virtual_phone_number": "74993720692",
    "contact": "79260000000",
    "direction": "out",
    "contact_message": {"type": "tts", "value": "Тестовое сообщение"},
}


@pytest.fixture
def clients() -> Iterator[list[CallApiClient]]:
    """Clients made by a test, closed after it."""
    made: list[CallApiClient] = []
    yield made
    for client in made:
        client.close()


def _client(
    clients: list[CallApiClient], server: SimulatorServer, clock: Clock, **kwargs: Any
) -> CallApiClient:
    kwargs.setdefault("access_token", SecretStr(DEFAULT_ACCESS_TOKEN))
    client = CallApiClient(server.url, clock=clock, read_timeout=5.0, **kwargs)
    clients.append(client)
    return client


def test_a_start_call_is_placed_and_the_limits_follow_the_server(
    start_simulator: StartSimulator, clock: Clock, clients: list[CallApiClient]
) -> None:
    server = start_simulator(minute_limit=5, costs={INFORMER: 2})
    client = _client(clients, server, clock)
    started = client.start_call(INFORMER, {**PARAMS, "external_id": "a-1"})
    assert [call.call_session_id for call in server.active_calls()] == [started.call_session_id]
    assert client.last_limits == server.limits()
    assert client.last_limits is not None
    assert client.last_limits.minute_remaining == 3
    listed = client.list_calls()
    assert [call.external_id for call in listed.calls] == ["a-1"]
    assert client.last_limits == server.limits()
    assert client.last_limits.minute_remaining == 2
    assert client.release_call(started.call_session_id).success
    assert server.active_calls() == []


def test_limit_exhaustion_raises_rate_limit_then_succeeds_after_the_reset(
    start_simulator: StartSimulator, clock: Clock, clients: list[CallApiClient]
) -> None:
    server = start_simulator(minute_limit=2, window_seconds=10)
    client = _client(clients, server, clock)
    client.start_call(INFORMER, PARAMS)
    clock.advance(3)
    client.start_call(INFORMER, PARAMS)
    with pytest.raises(errors.RateLimitError) as caught:
        client.start_call(INFORMER, PARAMS)
    assert caught.value.limit_type == "minute"
    assert caught.value.retry_after == 7.0
    assert server.stats().limit_exceeded == 1
    assert len(server.active_calls()) == 2
    clock.advance(caught.value.retry_after)
    client.start_call(INFORMER, PARAMS)
    assert client.last_limits is not None
    assert client.last_limits.minute_remaining == 1


def test_an_http_5xx_is_a_bad_reply(
    start_simulator: StartSimulator, clock: Clock, clients: list[CallApiClient]
) -> None:
    server = start_simulator()
    client = _client(clients, server, clock)
    server.inject(Fault.HTTP_5XX)
    with pytest.raises(errors.BadReplyError) as caught:
        client.start_call(INFORMER, PARAMS)
    assert caught.value.status_code == 503
    assert server.active_calls() == []


def test_an_internal_error_is_transient(
    start_simulator: StartSimulator, clock: Clock, clients: list[CallApiClient]
) -> None:
    server = start_simulator()
    client = _client(clients, server, clock)
    server.inject(Fault.INTERNAL)
    with pytest.raises(errors.TransientApiError) as caught:
        client.start_call(INFORMER, PARAMS)
    assert caught.value.limits == server.limits()
    client.start_call(INFORMER, PARAMS)


def test_a_slow_answer_is_ambiguous_and_the_call_is_found_by_external_id(
    start_simulator: StartSimulator, clock: Clock, clients: list[CallApiClient]
) -> None:
    server = start_simulator(slow_seconds=2.0)
    client = CallApiClient(
        server.url, access_token=SecretStr(DEFAULT_ACCESS_TOKEN), clock=clock, read_timeout=0.2
    )
    clients.append(client)
    server.inject(Fault.SLOW, method=INFORMER)
    with pytest.raises(errors.AmbiguousError):
        client.start_call(INFORMER, {**PARAMS, "external_id": "slow-7"})
    found = [call for call in client.list_calls().calls if call.external_id == "slow-7"]
    assert len(found) == 1


def test_a_connection_cut_after_the_call_was_created_is_ambiguous(
    start_simulator: StartSimulator, clock: Clock, clients: list[CallApiClient]
) -> None:
    server = start_simulator()
    client = _client(clients, server, clock)
    server.inject(Fault.CUT_AFTER_CREATE)
    with pytest.raises(errors.AmbiguousError):
        client.start_call(INFORMER, {**PARAMS, "external_id": "cut-3"})
    assert [call.external_id for call in client.list_calls().calls] == ["cut-3"]
    assert server.stats().points_spent == 2


def test_a_refused_connection_is_not_sent(clock: Clock) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port now: the connection is refused.
    with (
        CallApiClient(
            f"http://127.0.0.1:{port}/v4.0",
            access_token=SecretStr("k"),
            clock=clock,
            connect_timeout=1.0,
        ) as client,
        pytest.raises(errors.NotSentError),
    ):
        client.start_call(INFORMER, PARAMS)


def test_a_blacklisted_contact_is_a_blacklist_error_under_either_code(
    start_simulator: StartSimulator, clock: Clock, clients: list[CallApiClient]
) -> None:
    server = start_simulator(blacklist=frozenset({PARAMS["contact"]}))
    client = _client(clients, server, clock)
    with pytest.raises(errors.BlacklistedError) as informer:
        client.start_call(INFORMER, PARAMS)
    simple = {**PARAMS, "first_call": "contact", "operator": "79262444491"}
    simple.pop("direction")
    with pytest.raises(errors.BlacklistedError) as simple_call:
        client.start_call("start.simple_call", simple)
    assert (informer.value.code, simple_call.value.code) == (-32602, -32002)


# --- login.user sessions ------------------------------------------------------------------------


def _logins(server: SimulatorServer) -> list[str]:
    return [f"{e.method}:{e.outcome}" for e in server.request_log()]


def test_a_session_token_is_renewed_before_it_expires(
    start_simulator: StartSimulator, clock: Clock, clients: list[CallApiClient]
) -> None:
    server = start_simulator(login="ops", password="pw-1", token_lifetime=120)
    client = _client(
        clients, server, clock, access_token=None, login="ops", password=SecretStr("pw-1")
    )
    client.list_calls()
    clock.advance(100)  # within the client's refresh margin of the token's expire_at
    client.list_calls()
    assert _logins(server) == [
        "login.user:ok",
        "list.calls:ok",
        "login.user:ok",
        "list.calls:ok",
    ]


def test_a_session_token_the_server_calls_invalid_is_replaced_once(
    start_simulator: StartSimulator, clock: Clock, clients: list[CallApiClient]
) -> None:
    server = start_simulator(login="ops", password="pw-1", token_lifetime=120)
    client_clock = Clock()  # the client's clock stands still: it believes its token is fresh
    client = _client(
        clients, server, client_clock, access_token=None, login="ops", password=SecretStr("pw-1")
    )
    client.list_calls()
    clock.advance(121)  # the server's clock: its session token is now past its lifetime
    client.list_calls()
    assert _logins(server) == [
        "login.user:ok",
        "list.calls:ok",
        "list.calls:access_token_invalid",
        "login.user:ok",
        "list.calls:ok",
    ]


def test_bad_credentials_are_an_auth_error(
    start_simulator: StartSimulator, clock: Clock, clients: list[CallApiClient]
) -> None:
    server = start_simulator(login="ops", password="pw-1")
    client = _client(
        clients, server, clock, access_token=None, login="ops", password=SecretStr("wrong")
    )
    with pytest.raises(errors.AuthError) as caught:
        client.list_calls()
    assert caught.value.mnemonic == "auth_error"
    assert caught.value.limits is None
    assert "wrong" not in str(server.request_log())
