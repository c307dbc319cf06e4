"""A scripted provider behind `httpx.MockTransport`, for the Call and Data API client tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

Scripted = dict[str, Any] | httpx.Response
Answer = Scripted | Exception | Callable[[dict[str, Any]], Scripted]


class FakeApi:
    """A scripted provider: answers requests in order and records what it was sent."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.requests: list[dict[str, Any]] = []
        self.raw: list[httpx.Request] = []

    @property
    def transport(self) -> httpx.MockTransport:
        """The transport to give the client."""
        return httpx.MockTransport(self.handle)

    @property
    def methods(self) -> list[str]:
        """The methods called so far, in order."""
        return [request["method"] for request in self.requests]

    def tokens(self) -> list[str | None]:
        """The access_token of every request, in order."""
        return [request["params"].get("access_token") for request in self.requests]

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Record the request and give the next scripted answer."""
        body = json.loads(request.content)
        self.requests.append(body)
        self.raw.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            answer = answer(body)
        if isinstance(answer, httpx.Response):
            return answer
        return httpx.Response(200, json={**answer, "id": body["id"]})


def ok(data: Any, **extra: Any) -> dict[str, Any]:
    """A success reply carrying `data`."""
    return {"jsonrpc": "2.0", "result": {"data": data, **extra}}


def fail(mnemonic: str, code: int = -32602, **data: Any) -> dict[str, Any]:
    """An error reply with `mnemonic`."""
    return {
        "jsonrpc": "2.0",
        "error": {"code": code, "message": mnemonic, "data": {"mnemonic": mnemonic, **data}},
    }
