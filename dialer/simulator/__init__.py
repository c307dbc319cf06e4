"""A faithful local simulator of the Call API v4.0, for tests, demos and `dialer fake-api`.

    from dialer.simulator import FakeCallApi, SimulatorServer

    with SimulatorServer(FakeCallApi(minute_limit=5, window_seconds=2)) as server:
        ...  # POST JSON-RPC to server.url; assert on server.stats(), .active_calls(), ...

It serves `POST /v4.0` with the docs' JSON-RPC envelope and errors, knows the objects named in
the docs' request examples (so each example succeeds with the token replaced), counts points per
method in a minute and a day window (spent only on success) and reports them in every reply's
`metadata.limits`, keeps placed calls active for `call_duration` seconds, and can inject faults:
HTTP 5xx, `internal_error`, slow answers, connections cut after a call was created, bursts of
`limit_exceeded`, the provider down for a while (503 pages or refused connections), and session
tokens that die early.

On the same port, `POST /v2.0` is the account's Data API (`SimulatorServer.data_url`): every call
ends with an outcome drawn from `CallOutcomes` and shows in `get.calls_report` and
`get.call_legs_report` a while after it ended, on a points budget of its own. The server binds
127.0.0.1 unless given another host.
"""

from __future__ import annotations

from dialer.simulator.account import METHODS, ActiveCall
from dialer.simulator.config import (
    DEFAULT_ACCESS_TOKEN,
    DEFAULT_LOGIN,
    DEFAULT_PASSWORD,
    DownMode,
    FakeCallApi,
    Fault,
)
from dialer.simulator.outcomes import DEFAULT_SHARES, KINDS, CallOutcomes, Ending
from dialer.simulator.server import SimulatorServer
from dialer.simulator.simulator import Api, LogEntry, Outcome, Simulator, Stats

__all__ = [
    "DEFAULT_ACCESS_TOKEN",
    "DEFAULT_LOGIN",
    "DEFAULT_PASSWORD",
    "DEFAULT_SHARES",
    "KINDS",
    "METHODS",
    "ActiveCall",
    "Api",
    "CallOutcomes",
    "DownMode",
    "Ending",
    "FakeCallApi",
    "Fault",
    "LogEntry",
    "Outcome",
    "Simulator",
    "SimulatorServer",
    "Stats",
]
