"""The simulator in this process, behind an `httpx.MockTransport`: no socket, a clock of the
caller's (for tests and benchmarks that drive time by hand)."""

from __future__ import annotations

import httpx

from dialer.simulator.simulator import Api, Simulator


def in_process_transport(simulator: Simulator, api: Api = Api.CALL) -> httpx.MockTransport:
    """Serve requests to `api` from `simulator`; its faults become httpx's exceptions."""

    def handle(request: httpx.Request) -> httpx.Response:
        outcome = simulator.handle(request.content, request.headers.get("content-type"), api)
        if outcome.body is None:
            raise httpx.RemoteProtocolError("server disconnected", request=request)
        if outcome.delay > 0:
            raise httpx.ReadTimeout("timed out", request=request)
        return httpx.Response(
            outcome.status, content=outcome.body, headers={"content-type": outcome.content_type}
        )

    return httpx.MockTransport(handle)
