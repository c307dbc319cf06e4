"""The simulator's faults over spans of time: limit_exceeded bursts, the provider down (503 pages
or refused connections), and session tokens that die before their hour."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from dialer.simulator import DEFAULT_LOGIN, DEFAULT_PASSWORD, DownMode, FakeCallApi, SimulatorServer
from tests.clock import Clock

TOKEN = "test-token"
START_PARAMS = {
    "virtual_phone_number": "74993720692",
    "contact": "79260000001",
    "contact_message": {"type": "tts", "value": "Здравствуйте"},
}


class Client:
    """A simulator on a hand-moved clock, and plain httpx to talk to it."""

    def __init__(self, server: SimulatorServer, clock: Clock) -> None:
        self.server = server
        self.clock = clock
        self.http = httpx.Client(timeout=2.0)

    def post(
        self, method: str, params: dict[str, Any], token: str | None = TOKEN
    ) -> httpx.Response:
        """One JSON-RPC request; the raw response."""
        full = params if token is None else {"access_token": token, **params}
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": full}
        return self.http.post(self.server.url, json=body)

    def outcome(self, method: str = "list.calls", params: dict[str, Any] | None = None) -> str:
        """`ok`, the error's mnemonic, or `http_<status>`."""
        response = self.post(method, params or {})
        if response.status_code != 200:
            return f"http_{response.status_code}"
        reply = response.json()
        return "ok" if "result" in reply else str(reply["error"]["data"]["mnemonic"])


Make = Callable[..., Client]


@pytest.fixture
def make() -> Iterator[Make]:
    """Start simulators on a hand-moved clock; stop them after the test."""
    started: list[Client] = []

    def start(**config: Any) -> Client:
        clock = Clock()
        client = Client(SimulatorServer(FakeCallApi(clock=clock, **config)).start(), clock)
        started.append(client)
        return client

    yield start
    for client in started:
        client.http.close()
        client.server.stop()


# --- limit_exceeded bursts -----------------------------------------------------------------------


def test_a_limit_burst_refuses_with_points_left_then_ends(make: Make) -> None:
    api = make(minute_limit=100)
    api.server.limit_burst(5.0)
    reply = api.post("start.informer_call", START_PARAMS).json()
    assert reply["error"]["data"]["mnemonic"] == "limit_exceeded"
    assert reply["metadata"]["limits"]["minute_remaining"] == 100  # far below the count
    assert api.server.active_calls() == []
    assert api.server.request_log()[-1].fault == "limit_burst"
    api.clock.advance(5.0)
    assert api.outcome("start.informer_call", START_PARAMS) == "ok"


def test_limit_bursts_start_at_their_rate_and_last_their_span(make: Make) -> None:
    api = make(minute_limit=1000, limit_burst_rate=0.2, limit_burst_seconds=3.0, seed=5)
    seen = []
    for _ in range(60):
        seen.append(api.outcome())
        api.clock.advance(1.0)
    assert "limit_exceeded" in seen
    assert "ok" in seen
    # Each burst refuses every request of its 3 seconds: runs of exactly three.
    runs = "".join("x" if o == "limit_exceeded" else "." for o in seen).split(".")
    assert {len(run) % 3 for run in runs if run} == {0}
    assert api.server.stats().points_spent == seen.count("ok")


def test_bursts_leave_other_faults_as_the_seed_draws_them_without_bursts(make: Make) -> None:
    def statuses(**extra: Any) -> list[str]:
        api = make(fail_rate_5xx=0.5, seed=3, **extra)
        return [api.outcome() for _ in range(12)]

    assert statuses() == statuses(limit_burst_rate=0.0, limit_burst_seconds=9.0)


# --- the provider down ---------------------------------------------------------------------------


def test_an_outage_answers_503_pages_for_its_span_and_costs_nothing(make: Make) -> None:
    api = make()
    api.server.outage(10.0)
    response = api.post("start.informer_call", START_PARAMS)
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("text/html")
    api.clock.advance(9.9)
    assert api.outcome() == "http_503"
    api.clock.advance(0.1)
    assert api.outcome() == "ok"
    assert api.server.active_calls() == []
    assert [e.fault for e in api.server.request_log()] == ["provider_down"] * 2 + [None]


def test_a_scheduled_outage_starts_after_its_delay(make: Make) -> None:
    api = make(down_after=30.0, down_for=20.0)
    assert api.outcome() == "ok"
    api.clock.advance(30.0)
    assert api.outcome() == "http_503"
    api.clock.advance(20.0)
    assert api.outcome() == "ok"


def test_refused_connections_for_a_span_then_the_same_port_again(make: Make) -> None:
    api = make()
    url = api.server.url
    api.server.refuse_connections(0.5)
    with pytest.raises(httpx.ConnectError):
        api.post("list.calls", {})
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            assert api.outcome() == "ok"
            break
        except httpx.ConnectError:
            time.sleep(0.05)
    else:
        pytest.fail("the simulator did not listen again")
    assert api.server.url == url


def test_a_scheduled_refusal_starts_after_its_delay(make: Make) -> None:
    api = make(down_after=1.0, down_for=30.0, down_mode=DownMode.REFUSED)
    assert api.outcome() == "ok"
    time.sleep(1.5)
    with pytest.raises(httpx.ConnectError):
        api.post("list.calls", {})


def test_a_refusal_after_stop_does_nothing(make: Make) -> None:
    api = make()
    api.server.stop()
    api.server.refuse_connections(0.01)
    time.sleep(0.1)
    with pytest.raises(httpx.ConnectError):
        api.post("list.calls", {})


# --- session tokens that die early ---------------------------------------------------------------


def test_expired_sessions_are_invalid_and_a_new_login_works(make: Make) -> None:
    api = make()
    credentials = {"login": DEFAULT_LOGIN, "password": DEFAULT_PASSWORD}
    session = api.post("login.user", credentials, token=None).json()["result"]["data"]
    api.server.expire_sessions()
    refused = api.post("list.calls", {}, token=session["access_token"]).json()
    assert refused["error"]["data"]["mnemonic"] == "access_token_invalid"
    assert api.post("list.calls", {}).json()["result"]["data"] == []  # a permanent key lives on
    fresh = api.post("login.user", credentials, token=None).json()["result"]["data"]
    assert "result" in api.post("list.calls", {}, token=fresh["access_token"]).json()
