"""Fixtures for integration tests: a Call API simulator on a free loopback port."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dialer.simulator import FakeCallApi, SimulatorServer
from tests.clock import Clock

StartSimulator = Callable[..., SimulatorServer]


@pytest.fixture
def clock() -> Clock:
    """The simulator's clock (pass it to the client too, to share one notion of time)."""
    return Clock()


@pytest.fixture
def start_simulator(clock: Clock) -> Iterator[StartSimulator]:
    """Start simulators on free loopback ports with `clock`; stop them after the test."""
    servers: list[SimulatorServer] = []

    def start(**config: Any) -> SimulatorServer:
        server = SimulatorServer(FakeCallApi(clock=clock, **config)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
