"""The look-up of a call whose answer was lost: a read, tried again after every transient failure
within its bounds before anything is concluded."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import httpx
import pytest
from sqlalchemy import Engine, select

from dialer import dialing
from dialer.callapi.client import CallApiClient
from dialer.config import Settings
from dialer.db import transaction
from dialer.dialing import Dialer
from dialer.models import Attempt, AttemptOutcome, Contact, ContactStatus
from dialer.simulator import Fault, Simulator
from dialer.simulator.inprocess import in_process_transport
from tests.clock import Clock
from tests.unit.factories import dialable_campaign, phones
from tests.unit.factories import queue_contacts as queue

BAD_GATEWAY = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
Intercept = Callable[[httpx.Request], httpx.Response | None]


def first_lookups(failure: Callable[[httpx.Request], httpx.Response], times: int) -> Intercept:
    """Answer the first `times` list.calls requests with `failure`, leaving the rest alone."""
    left = [times]

    def intercept(request: httpx.Request) -> httpx.Response | None:
        if json.loads(request.content)["method"] != "list.calls" or left[0] == 0:
            return None
        left[0] -= 1
        return failure(request)

    return intercept


@pytest.fixture
def dialer_with(
    sqlite_engine: Engine, settings: Settings, simulator: Simulator, clock: Clock
) -> Iterator[Callable[[Intercept], Dialer]]:
    """A Dialer whose requests pass `intercept` first, then reach the simulator."""
    clients: list[CallApiClient] = []

    def build(intercept: Intercept) -> Dialer:
        behind = in_process_transport(simulator)

        def handle(request: httpx.Request) -> httpx.Response:
            return intercept(request) or behind.handle_request(request)

        client = CallApiClient.from_settings(settings, transport=httpx.MockTransport(handle))
        clients.append(client)
        return Dialer(settings, sqlite_engine, client, now=clock.utc, sleep=clock.sleep)

    yield build
    for client in clients:
        client.close()


def only_attempt(engine: Engine, contact_id: int) -> tuple[Contact, Attempt]:
    with transaction(engine) as session:
        attempt = session.scalars(select(Attempt).where(Attempt.contact_id == contact_id)).one()
        return session.get_one(Contact, contact_id), attempt


def bad_gateway(request: httpx.Request) -> httpx.Response:
    return httpx.Response(502, content=BAD_GATEWAY, headers={"content-type": "text/html"})


def cut(request: httpx.Request) -> httpx.Response:
    raise httpx.RemoteProtocolError("server disconnected", request=request)


def read_timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out", request=request)


@pytest.mark.parametrize("failure", [bad_gateway, cut, read_timeout])
def test_a_lookup_that_fails_once_tries_again_and_finds_the_call(
    failure: Callable[[httpx.Request], httpx.Response],
    dialer_with: Callable[[Intercept], Dialer],
    sqlite_engine: Engine,
    simulator: Simulator,
) -> None:
    dialer = dialer_with(first_lookups(failure, times=3))
    _, [cid] = dialable_campaign(sqlite_engine, phones(1))
    queue(sqlite_engine, cid)
    simulator.inject(Fault.CUT_AFTER_CREATE, times=1)

    assert dialing.place_call(dialer, cid).status == "placed"

    contact, attempt = only_attempt(sqlite_engine, cid)
    [active] = simulator.active_calls()
    assert (contact.status, attempt.outcome) == (ContactStatus.PLACED, AttemptOutcome.PLACED)
    assert attempt.call_session_id == active.call_session_id
    assert simulator.stats().calls_placed == 1


def test_a_rate_limited_lookup_waits_for_the_named_reset(
    dialer_with: Callable[[Intercept], Dialer],
    sqlite_engine: Engine,
    simulator: Simulator,
    clock: Clock,
) -> None:
    def limit_exceeded(request: httpx.Request) -> httpx.Response:
        error = {"code": -32029, "message": "limit", "data": {"mnemonic": "limit_exceeded"}}
        limits = {
            "minute_limit": 10,
            "minute_remaining": 0,
            "minute_reset": 7,
            "day_limit": 1000,
            "day_remaining": 900,
            "day_reset": 3600,
        }
        body = {
            "jsonrpc": "2.0",
            "id": json.loads(request.content)["id"],
            "error": error,
            "metadata": {"limits": limits},
        }
        return httpx.Response(200, json=body)

    dialer = dialer_with(first_lookups(limit_exceeded, times=1))
    _, [cid] = dialable_campaign(sqlite_engine, phones(1))
    queue(sqlite_engine, cid)
    simulator.inject(Fault.CUT_AFTER_CREATE, times=1)
    start = clock.utc()

    assert dialing.place_call(dialer, cid).status == "placed"
    assert (clock.utc() - start).total_seconds() >= 7
