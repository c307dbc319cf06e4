"""What the simulated account looks like: credentials, limits, known objects and injected faults."""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dialer.simulator.outcomes import CallOutcomes

DEFAULT_ACCESS_TOKEN = "test-token"  # noqa: S105 -- a public test key, documented in --help
# The credentials of the docs' login.user example, so that example succeeds unchanged.
DEFAULT_LOGIN = "your_login"
DEFAULT_PASSWORD = "your_password"  # noqa: S105
DAY_SECONDS = 86_400.0

# Objects named in the docs' request examples, so every example succeeds against the simulator.
DOCS_VIRTUAL_NUMBERS = frozenset({"74993720692", "74951045771"})
DOCS_SCENARIO_IDS = frozenset({23456})
DOCS_EMPLOYEE_IDS = frozenset({25, 2345})
DOCS_MEDIA_FILES = frozenset({2701, 2561, 237, 2034})
DOCS_TAGS: Mapping[int, str] = {36: "Тег 36", 254: "Целевой", 456: "Целевой"}
# Call sessions the call-control examples act on: calls that reached the PBX some other way.
# They are accepted by call-control methods but never listed (the simulator knows nothing of them).
DOCS_CALL_SESSIONS = frozenset(
    {2354891, 2786459, 25374860, 23465781, 2846590, 2875654, 27934036, 235496, 27485639, 246578}
    | {28575639}
)


class Fault(enum.StrEnum):
    """A failure the simulator can inject into one request."""

    HTTP_5XX = "http_5xx"  # a proxy answers 503 with an HTML page; nothing reaches the API
    INTERNAL = "internal_error"  # the API answers -32603 internal_error; nothing happens
    SLOW = "slow"  # the request takes effect, the answer comes `slow_seconds` late
    CUT_AFTER_CREATE = "cut_after_create"  # a start.* call is created, then the socket is dropped
    LIMIT_BURST = "limit_burst"  # limit_exceeded for a while, whatever points remain
    DOWN = "provider_down"  # the provider is down: every request gets a 503 page for a while


class DownMode(enum.StrEnum):
    """How the provider looks while it is down."""

    HTTP_503 = "http_503"  # a proxy still answers, with its 503 page
    REFUSED = "refused"  # nothing listens: connections are refused


@dataclass(frozen=True)
class FakeCallApi:
    """Configuration of one simulated Call API account."""

    access_tokens: frozenset[str] = frozenset({DEFAULT_ACCESS_TOKEN})
    expired_tokens: frozenset[str] = frozenset()  # permanent keys past their date
    blocked_tokens: frozenset[str] = frozenset()
    login: str = DEFAULT_LOGIN
    password: str = DEFAULT_PASSWORD
    token_lifetime: float = 3600.0  # seconds a login.user session token lives
    minute_limit: int = 60
    day_limit: int = 10_000
    window_seconds: float = 60.0  # the "minute" window; shorten it for demos and tests
    day_window_seconds: float = DAY_SECONDS
    costs: Mapping[str, int] = field(default_factory=dict)  # points per method, default 1
    blacklist: frozenset[str] = frozenset()
    virtual_numbers: frozenset[str] = DOCS_VIRTUAL_NUMBERS
    numbers_without_scenario: frozenset[str] = frozenset()  # start.vnumber_call refuses these
    scenario_ids: frozenset[int] = DOCS_SCENARIO_IDS
    employee_ids: frozenset[int] = DOCS_EMPLOYEE_IDS
    media_files: frozenset[int] = DOCS_MEDIA_FILES
    tags: Mapping[int, str] = field(default_factory=lambda: dict(DOCS_TAGS))
    known_call_sessions: frozenset[int] = DOCS_CALL_SESSIONS
    tts_max_length: int = 1000
    call_duration: float = 30.0  # seconds a placed call lasts (stays in list.calls)
    # How calls end, and when the Data API's reports show them.
    outcomes: CallOutcomes = field(default_factory=CallOutcomes)
    account_timezone: str = "Europe/Moscow"  # the zone of the Data API's report times
    # The Data API (`/v2.0`) has its own points budget, in the same windows as the Call API's.
    data_minute_limit: int = 60
    data_day_limit: int = 10_000
    data_api_refusal: str | None = None  # e.g. "ip_not_whitelisted": refuse every report
    fail_rate_5xx: float = 0.0
    fail_rate_internal: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 0.0
    cut_after_create_rate: float = 0.0
    # A Call API request starts a burst of limit_exceeded with this chance; the burst refuses
    # every Call API request for `limit_burst_seconds`, points left or not.
    limit_burst_rate: float = 0.0
    limit_burst_seconds: float = 0.0
    # The provider goes down `down_after` seconds after the server starts, for `down_for`.
    down_after: float | None = None
    down_for: float = 0.0
    down_mode: DownMode = DownMode.HTTP_503
    seed: int | None = None
    log_path: Path | None = None  # JSONL log of every request, secrets redacted
    clock: Callable[[], float] = time.time

    def cost(self, method: str) -> int:
        """Points one successful call of `method` costs."""
        return self.costs.get(method, 1)
