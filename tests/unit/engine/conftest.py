"""Fixtures for the dialing engine: a fake clock shared by the dialer and the simulator, the
simulator behind an `httpx.MockTransport`, and a campaign with contacts in a SQLite file."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine

from dialer.callapi.client import CallApiClient
from dialer.callapi.dataapi import DataApiClient, DataApiConfig
from dialer.callreports import DataApiBudget, DataApiReports
from dialer.config import Settings, load_settings
from dialer.dialing import Dialer
from dialer.simulator import DEFAULT_ACCESS_TOKEN, Api, FakeCallApi, Simulator
from dialer.simulator.inprocess import in_process_transport
from tests.clock import Clock

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)  # a Monday, 12:00 in Moscow


@pytest.fixture
def clock() -> Clock:
    """The test's clock."""
    return Clock(START)


@pytest.fixture
def settings() -> Settings:
    """Settings with a known account key, limits and no backoff."""
    return load_settings(
        callapi_url="http://simulator/v4.0",
        access_token=SecretStr(DEFAULT_ACCESS_TOKEN),
        minute_limit_guess=10,
        day_limit_guess=1000,
        backoff_enabled=False,
    )


MakeSimulator = Callable[..., Simulator]


@pytest.fixture
def make_simulator(clock: Clock) -> MakeSimulator:
    """Build a simulator on the test's clock; keyword arguments go to FakeCallApi."""

    def make(**config: object) -> Simulator:
        return Simulator(FakeCallApi(clock=clock, seed=1, **config))  # type: ignore[arg-type]

    return make


@pytest.fixture
def simulator(make_simulator: MakeSimulator, request: pytest.FixtureRequest) -> Simulator:
    """A simulator with a minute limit of 10 points; `@pytest.mark.simulator(...)` adds config."""
    marker = request.node.get_closest_marker("simulator")
    config = {"minute_limit": 10, **(marker.kwargs if marker else {})}
    return make_simulator(**config)


@pytest.fixture
def dialer(
    sqlite_engine: Engine, settings: Settings, simulator: Simulator, clock: Clock
) -> Iterator[Dialer]:
    """A Dialer on the SQLite file, talking to the simulator, on the test's clock."""
    client = CallApiClient.from_settings(settings, transport=in_process_transport(simulator))
    yield Dialer(settings, sqlite_engine, client, now=clock.utc, sleep=clock.sleep)
    client.close()


@pytest.fixture
def reports(sqlite_engine: Engine, simulator: Simulator, clock: Clock) -> Iterator[DataApiReports]:
    """The collector's reports: the simulator's Data API, on the test's clock and its own budget."""
    key = SecretStr(DEFAULT_ACCESS_TOKEN)
    config = DataApiConfig(url="http://simulator/v2.0", access_token=key)
    client = DataApiClient(config, transport=in_process_transport(simulator, Api.DATA), clock=clock)
    yield DataApiReports(client, sqlite_engine, DataApiBudget("simulator-data-api"), now=clock.utc)
    client.close()
