"""A faithful local simulator of the Call API v4.0, for tests, demos and `dialer fake-api`.

    from dialer.simulator import FakeCallApi, SimulatorServer

    with SimulatorServer(FakeCallApi(minute_limit=5, window_seconds=2)) as server:
        ...  # POST JSON-RPC to server.url; assert on server.stats(), .active_calls(), ...

It serves `POST /v4.0` with the docs' JSON-RPC envelope and errors, knows the objects named in
the docs' request examples (so each example succeeds with the token replaced), counts points per
method in a minute and a day window (spent only on success) and reports them in every reply's
`metadata.limits`, keeps placed calls active for `call_duration` seconds, and can inject faults:
HTTP 5xx, `internal_error`, slow answers, and connections cut after a call was created.
"""

from __future__ import annotations

from dialer.simulator.account import METHODS, ActiveCall
from dialer.simulator.config import (
    DEFAULT_ACCESS_TOKEN,
    DEFAULT_LOGIN,
    DEFAULT_PASSWORD,
    FakeCallApi,
    Fault,
)
from dialer.simulator.server import SimulatorServer
from dialer.simulator.simulator import LogEntry, Outcome, Simulator, Stats

__all__ = [
    "DEFAULT_ACCESS_TOKEN",
    "DEFAULT_LOGIN",
    "DEFAULT_PASSWORD",
    "METHODS",
    "ActiveCall",
    "FakeCallApi",
    "Fault",
    "LogEntry",
    "Outcome",
    "Simulator",
    "SimulatorServer",
    "Stats",
]
