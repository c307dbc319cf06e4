"""The JSON-RPC side of the simulator: one request body in, one HTTP outcome out.

It serves two APIs of one account: the Call API (`Api.CALL`, `/v4.0`) and the Data API
(`Api.DATA`, `/v2.0`: login, logout and the reports of `dialer.simulator.reports`), each with its
own points budget. Order of checks for one request (the provider's, as far as the docs show)::

    provider down (503 page) ─ injected HTTP 5xx ─ body decoding ─ JSON (parse_error) ─ batch
    ─ envelope (invalid_request, notifications_not_supported) ─ method_not_found ─ access token
    (-32001) ─ Data API access (`data_api_refusal`) ─ injected internal_error ─ parameters
    (methods.validate_params) ─ UTF-8 ─ a limit_exceeded burst ─ points budget (limit_exceeded)
    ─ the method itself (unknown objects, blacklist, ...) ─ points spent

Every step is under one lock, so the simulator is thread-safe and its counters exact; an injected
slow answer is delayed by the HTTP layer, outside the lock. (The module is over 400 lines because
that one pipeline, shared by both APIs, reads best in one place.)
"""

from __future__ import annotations

import collections
import enum
import json
import logging
import random
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import IO, Any

from dialer.callapi.errors import InvalidParams
from dialer.callapi.limits import Limits
from dialer.callapi.methods import SCHEMAS, START_METHODS, validate_params
from dialer.secrets import redact
from dialer.simulator.account import METHODS, Account, ActiveCall
from dialer.simulator.budget import PointsBudget, Window
from dialer.simulator.config import DownMode, FakeCallApi, Fault
from dialer.simulator.refusals import Refusal, error_code_for, error_message_for
from dialer.simulator.reports import REPORT_METHODS, Report, Reports

logger = logging.getLogger(__name__)

PROXY_STATUS = 503
PROXY_PAGE = (
    b"<html><head><title>503 Service Temporarily Unavailable</title></head>"
    b"<body><center><h1>503 Service Temporarily Unavailable</h1></center></body></html>"
)
MAX_LOG_ENTRIES = 100_000  # the in-memory log of a long-running simulator stays bounded
SESSION_METHODS = frozenset({"login.user", "logout.user"})
DATA_METHODS = REPORT_METHODS | SESSION_METHODS


class Api(enum.Enum):
    """Which of the account's APIs a request was sent to."""

    CALL = "v4.0"
    DATA = "v2.0"


@dataclass(frozen=True)
class Outcome:
    """What the HTTP layer sends back: a status and body, possibly late, or nothing at all."""

    status: int
    body: bytes | None  # None: drop the connection without answering
    content_type: str = "application/json; charset=UTF-8"
    delay: float = 0.0


@dataclass(frozen=True)
class LogEntry:
    """One request and how it ended; `params` are redacted, never holding a token or password."""

    time: float
    method: str | None
    id: Any
    params: Any
    outcome: str  # "ok", the error's mnemonic, or "http_503"
    fault: str | None  # the injected fault that shaped this answer, if any
    call_session_id: int | None
    limits: dict[str, Any] | None

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of a log line."""
        return asdict(self)


@dataclass(frozen=True)
class Stats:
    """Counters since the simulator started."""

    requests: int
    succeeded: int
    limit_exceeded: int
    faults: int
    points_spent: int  # in total
    minute_points_spent: int  # in the current minute window
    day_points_spent: int  # in the current day window
    calls_placed: int
    outcomes: Mapping[str, int]  # "ok" / mnemonic / "http_503" -> how many
    data_points_spent: int = 0  # in total, on the Data API's own budget


@dataclass
class _Exchange:
    """What is known about one request while it is processed."""

    now: float
    api: Api = Api.CALL
    id: Any = None
    method: str | None = None
    params: Any = None
    bad_encoding: bool = False
    refusal: Refusal | None = None
    fault: Fault | None = None


@dataclass
class _Injection:
    fault: Fault
    times: int
    method: str | None


class Simulator:
    """The Call API behind the HTTP server: parses, checks, answers, counts and logs."""

    def __init__(self, config: FakeCallApi) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._rng = random.Random(config.seed)
        self._account = Account(config, self._rng.randrange(100_000_000, 900_000_000))
        self._budget = PointsBudget(
            config.minute_limit, config.day_limit, config.window_seconds, config.day_window_seconds
        )
        self._data_budget = PointsBudget(
            config.data_minute_limit,
            config.data_day_limit,
            config.window_seconds,
            config.day_window_seconds,
        )
        self._reports = Reports(config.outcomes, config.account_timezone)
        self._injected: list[_Injection] = []
        self._log: collections.deque[LogEntry] = collections.deque(maxlen=MAX_LOG_ENTRIES)
        self._outcomes: collections.Counter[str] = collections.Counter()
        self._faults = 0
        self._calls_placed = 0
        self._burst_until = 0.0
        self._down_from, self._down_until = 0.0, 0.0
        if config.down_after is not None and config.down_mode is DownMode.HTTP_503:
            self._down_from = config.clock() + config.down_after
            self._down_until = self._down_from + config.down_for
        self._log_file: IO[str] | None = None
        if config.log_path is not None:
            self._log_file = config.log_path.open("a", encoding="utf-8")

    # --- accessors for tests and the demo -----------------------------------------------------

    def request_log(self) -> list[LogEntry]:
        """Every request so far (the latest `MAX_LOG_ENTRIES`), oldest first."""
        with self._lock:
            return list(self._log)

    def active_calls(self) -> list[ActiveCall]:
        """Copies of the calls list.calls would show now."""
        with self._lock:
            now = self.config.clock()
            return [replace(c) for c in self._account.calls.values() if c.ends_at > now]

    def blacklist(self) -> frozenset[str]:
        """The account's blacklist now (block.contact adds to it)."""
        with self._lock:
            return frozenset(self._account.blacklist)

    def limits(self, api: Api = Api.CALL) -> Limits:
        """The `metadata.limits` a reply of `api` would carry now."""
        with self._lock:
            now = self.config.clock()
            budget = self._budget_of(api)
            budget.roll(now, start=False)  # looking must not start the windows
            return budget.limits(now)

    def calls(self) -> list[ActiveCall]:
        """Copies of every call placed so far, ended or not, with how each ends."""
        with self._lock:
            return [replace(c) for c in self._account.history]

    def stats(self) -> Stats:
        """A snapshot of the counters."""
        with self._lock:
            self._budget.roll(self.config.clock(), start=False)
            return Stats(
                requests=sum(self._outcomes.values()),
                succeeded=self._outcomes["ok"],
                limit_exceeded=self._outcomes["limit_exceeded"],
                faults=self._faults,
                points_spent=self._budget.spent_total,
                minute_points_spent=self._budget.minute.spent,
                day_points_spent=self._budget.day.spent,
                calls_placed=self._calls_placed,
                outcomes=dict(self._outcomes),
                data_points_spent=self._data_budget.spent_total,
            )

    def inject(self, fault: Fault, times: int = 1, method: str | None = None) -> None:
        """Force `fault` on the next `times` requests (of `method`, if given), whatever the rates.

        A cut is only ever applied to a start.* request, the one whose effect it makes ambiguous.
        """
        with self._lock:
            self._injected.append(_Injection(fault, times, method))

    def limit_burst(self, seconds: float) -> None:
        """Refuse every Call API request with `limit_exceeded` for the next `seconds`."""
        with self._lock:
            self._burst_until = self.config.clock() + seconds

    def outage(self, seconds: float) -> None:
        """Answer every request with the proxy's 503 page for the next `seconds`."""
        with self._lock:
            self._down_from = self.config.clock()
            self._down_until = self._down_from + seconds

    def expire_sessions(self) -> None:
        """End every login.user session now, as if each token's hour had run out."""
        with self._lock:
            self._account.expire_sessions()

    def close(self) -> None:
        """Close the JSONL log file."""
        with self._lock:
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None

    # --- one request --------------------------------------------------------------------------

    def handle(self, raw: bytes, content_type: str | None = None, api: Api = Api.CALL) -> Outcome:
        """Answer one body POSTed to `api`."""
        with self._lock:
            exchange = _Exchange(now=self.config.clock(), api=api)
            self._budget_of(api).roll(exchange.now)
            try:
                self._read_envelope(exchange, raw, content_type)
            except Refusal as refusal:
                exchange.refusal = refusal
            if self._down_from <= exchange.now < self._down_until:
                return self._proxy_failure(exchange, Fault.DOWN)
            exchange.fault = self._draw_fault(exchange.method)
            if exchange.fault is Fault.HTTP_5XX:
                return self._proxy_failure(exchange, Fault.HTTP_5XX)
            try:
                if exchange.refusal is not None:
                    raise exchange.refusal
                data = self._process(exchange)
            except Refusal as refusal:
                return self._error_reply(exchange, refusal)
            except Exception:
                # A bug here must still look like the provider failing, not kill the server.
                logger.exception("simulator failed on %s", exchange.method)
                return self._error_reply(exchange, Refusal.of("internal_error"))
            return self._result_reply(exchange, data)

    def _read_envelope(self, exchange: _Exchange, raw: bytes, content_type: str | None) -> None:
        text, exchange.bad_encoding = _decode(raw, content_type)
        try:
            body = json.loads(text)
        except ValueError:
            raise Refusal.of("parse_error") from None
        if isinstance(body, list):
            raise Refusal.of("batch_opreations_not_supported")
        if not isinstance(body, dict):
            raise Refusal.of("invalid_request")
        if _is_id(body.get("id")):
            exchange.id = body["id"]
        if isinstance(body.get("method"), str):
            exchange.method = body["method"]
        if isinstance(body.get("params"), dict):
            exchange.params = body["params"]
        if body.get("jsonrpc") != "2.0":
            raise Refusal.of("invalid_request", field="jsonrpc", value=body.get("jsonrpc"))
        if "id" not in body:
            raise Refusal.of("notifications_not_supported")
        if exchange.id is None:
            raise Refusal.of("invalid_request", field="id", value=body.get("id"))
        if exchange.method is None:
            raise Refusal.of("invalid_request", field="method", value=body.get("method"))
        if exchange.params is None:
            raise Refusal.of("invalid_request", field="params", value=body.get("params"))

    def _draw_fault(self, method: str | None) -> Fault | None:
        for injection in self._injected:
            if injection.method not in (None, method):
                continue
            if injection.fault is Fault.CUT_AFTER_CREATE and method not in START_METHODS:
                continue
            injection.times -= 1
            if injection.times <= 0:
                self._injected.remove(injection)
            return injection.fault
        # Always draw all four, so that a seed gives the same faults whatever the requests are.
        draws = [self._rng.random() for _ in range(4)]
        config = self.config
        if draws[0] < config.fail_rate_5xx:
            return Fault.HTTP_5XX
        if draws[1] < config.fail_rate_internal:
            return Fault.INTERNAL
        if draws[2] < config.cut_after_create_rate and method in START_METHODS:
            return Fault.CUT_AFTER_CREATE
        if draws[3] < config.slow_rate:
            return Fault.SLOW
        return None

    def _process(self, exchange: _Exchange) -> Any:
        method, params, now = str(exchange.method), exchange.params, exchange.now
        data_api = exchange.api is Api.DATA
        if method not in (DATA_METHODS if data_api else METHODS):
            raise Refusal.of("method_not_found", field="method", value=method)
        token = params.get("access_token")
        if method != "login.user" and isinstance(token, str) and token:
            self._account.authenticate(token, now)
        if data_api and self.config.data_api_refusal is not None:
            raise Refusal.of(self.config.data_api_refusal)
        if method in REPORT_METHODS and not token:
            raise Refusal.of("required_parameter_missed", field="access_token")
        if exchange.fault is Fault.INTERNAL:
            raise Refusal.of("internal_error")
        _validate(method, params)
        if exchange.bad_encoding:
            raise Refusal.of("character_encoding_not_allowed")
        # Every Data API method weighs one point, on the Data API's own budget.
        cost = 1 if data_api else self.config.cost(method)
        budget = self._budget_of(exchange.api)
        if exchange.api is Api.CALL and self._in_limit_burst(now):
            exchange.fault = Fault.LIMIT_BURST
            raise _limit_exceeded(budget.minute, budget.minute)
        short = budget.short_of(cost)
        if short is not None:
            raise _limit_exceeded(short, budget.minute)
        if method in REPORT_METHODS:
            data: Any = self._reports.handle(method, params, now, self._account.history)
        else:
            data = self._account.handle(method, params, now)
        budget.spend(cost)  # only a success costs points
        return data

    def _in_limit_burst(self, now: float) -> bool:
        """Whether a limit_exceeded burst refuses this request (one may start with it)."""
        rate = self.config.limit_burst_rate
        # Drawn only when bursts are on, so that a seed gives the same other faults as before.
        if now >= self._burst_until and rate > 0 and self._rng.random() < rate:
            self._burst_until = now + self.config.limit_burst_seconds
        return now < self._burst_until

    def _budget_of(self, api: Api) -> PointsBudget:
        return self._data_budget if api is Api.DATA else self._budget

    # --- replies ------------------------------------------------------------------------------

    def _proxy_failure(self, exchange: _Exchange, fault: Fault) -> Outcome:
        self._faults += 1
        self._record(exchange, f"http_{PROXY_STATUS}", fault, None, None)
        return Outcome(PROXY_STATUS, PROXY_PAGE, content_type="text/html")

    def _error_reply(self, exchange: _Exchange, refusal: Refusal) -> Outcome:
        reply: dict[str, Any] = {"jsonrpc": "2.0", "id": exchange.id}
        reply["error"] = refusal.error_object()
        budget = self._budget_of(exchange.api)
        limits = budget.limits(exchange.now).as_dict() if refusal.counted else None
        if limits is not None:
            reply["metadata"] = {"limits": limits}
        fault = exchange.fault
        if fault is Fault.INTERNAL and refusal.mnemonic != "internal_error":
            fault = None  # the request was refused before the injected failure could happen
        if fault is Fault.CUT_AFTER_CREATE:
            fault = None  # nothing was created, so there is nothing to make ambiguous
        return self._answer(exchange, reply, refusal.mnemonic, fault, None, limits)

    def _result_reply(self, exchange: _Exchange, data: Any) -> Outcome:
        limits = self._budget_of(exchange.api).limits(exchange.now).as_dict()
        reply = {"jsonrpc": "2.0", "id": exchange.id}
        metadata: dict[str, Any] = {"limits": limits}
        if isinstance(data, Report):
            metadata["total_items"] = data.total_items
            data = data.rows
        reply["result"] = {"data": data, "metadata": metadata}
        call_id = _call_session_id(data, exchange.params)
        if exchange.method in START_METHODS:
            self._calls_placed += 1
        return self._answer(exchange, reply, "ok", exchange.fault, call_id, limits)

    def _answer(
        self,
        exchange: _Exchange,
        reply: dict[str, Any],
        outcome: str,
        fault: Fault | None,
        call_id: int | None,
        limits: dict[str, Any] | None,
    ) -> Outcome:
        if fault is not None:
            self._faults += 1
        self._record(exchange, outcome, fault, call_id, limits)
        if fault is Fault.CUT_AFTER_CREATE:
            return Outcome(200, None)
        body = json.dumps(reply, ensure_ascii=False).encode("utf-8")
        delay = self.config.slow_seconds if fault is Fault.SLOW else 0.0
        return Outcome(200, body, delay=delay)

    def _record(
        self,
        exchange: _Exchange,
        outcome: str,
        fault: Fault | None,
        call_id: int | None,
        limits: dict[str, Any] | None,
    ) -> None:
        entry = LogEntry(
            time=exchange.now,
            method=exchange.method,
            id=exchange.id,
            params=redact(exchange.params),
            outcome=outcome,
            fault=None if fault is None else fault.value,
            call_session_id=call_id,
            limits=limits,
        )
        self._log.append(entry)
        self._outcomes[outcome] += 1
        if self._log_file is not None:
            self._log_file.write(json.dumps(entry.as_dict(), ensure_ascii=False) + "\n")
            self._log_file.flush()


def _decode(raw: bytes, content_type: str | None) -> tuple[str, bool]:
    """The body as text, and whether it came in (or was declared in) another encoding than UTF-8."""
    charset = _charset(content_type)
    declared_other = charset is not None and charset.replace("-", "") != "utf8"
    try:
        return raw.decode("utf-8"), declared_other
    except UnicodeDecodeError:
        # Decoded anyway so the envelope can be read and the error sent to the right `id`.
        return raw.decode("cp1251", errors="replace"), True


def _charset(content_type: str | None) -> str | None:
    for part in (content_type or "").split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').lower()
    return None


def _is_id(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _validate(method: str, params: Mapping[str, Any]) -> None:
    """Check the parameters against the docs' tables (`dialer.callapi.methods`)."""
    if method not in SCHEMAS:
        return  # call-control methods the dialer does not use: only their session is checked
    try:
        validate_params(method, params)
    except InvalidParams as error:
        raise Refusal(
            error_code_for(error.mnemonic, method),
            error.mnemonic,
            error_message_for(error.mnemonic),
            field=error.field,
            value=_value_at(params, error.field),
        ) from None


def _value_at(params: Mapping[str, Any], field: str) -> Any:
    """What the caller sent at a dotted field path, or None when it sent nothing there."""
    value: Any = params
    for part in field.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _limit_exceeded(short: Window, minute: Window) -> Refusal:
    kind = "minute" if short is minute else "day"
    return Refusal.of("limit_exceeded", limit_type=kind, limit_max_value=short.limit)


def _call_session_id(data: Any, params: Any) -> int | None:
    for holder in (data, params):
        if isinstance(holder, Mapping):
            value = holder.get("call_session_id")
            if isinstance(value, int) and not isinstance(value, bool):
                return value
    return None
