"""Every retry and wait of the dialing engine, with all their bounds, in one place (tenacity).

Business code never sleeps or loops: a step that cannot go on raises, and runs under one of the
controllers below, which decide whether to try it again and after how long.

    request_retrying   a start.* request: errors the policy retries at once, with capped,
                       jittered backoff; at most `transient_attempts` tries and
                       `transient_max_seconds`
    budget_retrying    a turn short of points: a reset at most `max_wait` seconds away is waited
                       for in place; a later one propagates, and the contact is handed back
    lookup_retrying    a `list.calls` look-up (a read): every transient failure with backoff and
                       every wait the provider or the budget names, within LOOKUP_ATTEMPTS tries
                       and LOOKUP_MAX_SECONDS (`list.calls` lists active calls only)
    report_retrying    a Data API report page (a read): transient failures with backoff, within
                       the request bounds; `limit_exceeded` goes to the caller, who paces the
                       Data API's own budget
    record_retrying    recording what a request came to: through a database that is away for a
                       moment (a restart, a failover), polled with capped, jittered waits, within
                       RECORD_ATTEMPTS tries and `stuck_after`, the time the reconciler leaves an
                       answer to be recorded
    wakeup_again_in    a wake-up met by a database outage before its request left: delivered
                       again after capped, jittered waits, at most WAKEUP_RETRIES times

A wait that the provider or the budget names is an error carrying its delay, like dramatiq's
`Retry(delay)`: `RetryAfter` (ours) and `RateLimitError.retry_after` (the provider's).
`DIALER_BACKOFF=off` removes the backoff (tests) and keeps every bound; named waits, and the waits
for a database to come back (the outage's own length, not politeness), are always kept, through
the injected `sleep`, so that a test's clock moves with them.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    stop_before_delay,
    wait_none,
    wait_random_exponential,
)
from tenacity.wait import wait_base

from dialer.callapi.errors import CallApiError, Handling, RateLimitError
from dialer.config import Settings

Sleep = Callable[[float], None]
RetryIf = Callable[[BaseException], bool]

# Points for a turn: how many resets in a row a worker waits for in place before handing back.
BUDGET_WAITS = 5
# A look-up is a read: it may be tried again after anything but a definite refusal, this often...
LOOKUP_ATTEMPTS = 10
# ... and for this long at most, since `list.calls` shows active calls only.
LOOKUP_MAX_SECONDS = 60.0
# Recording an answer through a database outage: at most this many tries (and `stuck_after`),
RECORD_ATTEMPTS = 30
# ... the waits between them growing from this to that, jittered.
DATABASE_WAIT_FIRST = 0.1
DATABASE_WAIT_MAX = 2.0
# A wake-up met by a database outage is delivered again at most this often (then the
# reconciler's re-send of contacts left `queued` takes over)...
WAKEUP_RETRIES = 5
# ... after waits growing from this to that, jittered.
WAKEUP_WAIT_FIRST = 1.0
WAKEUP_WAIT_MAX = 30.0
# A `limit_exceeded` that names no reset is asked again after this long.
DEFAULT_RATE_WAIT = 1.0
# The shortest named wait, so that a reset due right now is not spun on.
_MIN_WAIT = 0.01


class RetryAfter(Exception):
    """Not now, nothing wrong: try again after `delay` seconds (the reason is for people)."""

    def __init__(self, delay: float, reason: str) -> None:
        self.delay = max(delay, _MIN_WAIT)
        self.reason = reason
        super().__init__(f"{reason}: try again in {self.delay:.1f} s")


def named_delay(exc: BaseException | None) -> float | None:
    """The wait an error names itself (ours or the provider's reset), if it names one."""
    if isinstance(exc, RetryAfter):
        return exc.delay
    if isinstance(exc, RateLimitError):
        return max(exc.retry_after or DEFAULT_RATE_WAIT, _MIN_WAIT)
    return None


def backoff(settings: Settings) -> wait_base:
    """The wait between tries: exponential with full jitter, capped; none when switched off."""
    if not settings.backoff_enabled:
        return wait_none()
    return wait_random_exponential(multiplier=settings.backoff_initial, max=settings.backoff_max)


def _named_or(fallback: wait_base) -> Callable[[RetryCallState], float]:
    """Wait what the error names, else the fallback's backoff."""

    def wait(state: RetryCallState) -> float:
        delay = named_delay(state.outcome.exception() if state.outcome else None)
        return delay if delay is not None else float(fallback(state))

    return wait


def request_retrying(settings: Settings, retry_if: RetryIf, sleep: Sleep) -> Retrying:
    """Tries of one start.* request: the errors `retry_if` accepts, then the last one re-raised."""
    return Retrying(
        retry=retry_if_exception(retry_if),
        stop=stop_after_attempt(settings.transient_attempts)
        | stop_after_delay(settings.transient_max_seconds),
        wait=backoff(settings),
        sleep=sleep,
        reraise=True,
    )


def budget_retrying(max_wait: float, sleep: Sleep) -> Retrying:
    """Waits in place for points that come back within `max_wait` seconds; a longer wait raises."""
    return Retrying(
        retry=retry_if_exception(lambda e: isinstance(e, RetryAfter) and e.delay <= max_wait),
        stop=stop_after_attempt(BUDGET_WAITS + 1),
        wait=_named_or(wait_none()),
        sleep=sleep,
        reraise=True,
    )


def _worth_reading_again(exc: BaseException) -> bool:
    """A read may be repeated after anything but a definite refusal: transport failures, 5xx and
    HTML pages, internal errors, waits for points, and a database away for a moment (a look-up
    takes and settles its points there)."""
    if isinstance(exc, RetryAfter) or is_database_outage(exc):
        return True
    return isinstance(exc, CallApiError) and exc.handling in (
        Handling.TRANSIENT,
        Handling.AMBIGUOUS,
        Handling.RATE,
    )


def lookup_retrying(settings: Settings, sleep: Sleep) -> Retrying:
    """Tries of one `list.calls` look-up; gives up (re-raising) before it would outlast its use."""
    return Retrying(
        retry=retry_if_exception(_worth_reading_again),
        stop=stop_after_attempt(LOOKUP_ATTEMPTS) | stop_before_delay(LOOKUP_MAX_SECONDS),
        wait=_named_or(backoff(settings)),
        sleep=sleep,
        reraise=True,
    )


def is_transient(exc: BaseException) -> bool:
    """True for a failure that the same read gets past by being sent again soon."""
    return isinstance(exc, CallApiError) and exc.handling is Handling.TRANSIENT


def report_retrying(settings: Settings, sleep: Sleep = time.sleep) -> Retrying:
    """Tries of one Data API report page; the last failure is re-raised."""
    return Retrying(
        retry=retry_if_exception(is_transient),
        stop=stop_after_attempt(settings.transient_attempts)
        | stop_after_delay(settings.transient_max_seconds),
        wait=backoff(settings),
        sleep=sleep,
        reraise=True,
    )


def is_database_outage(exc: BaseException) -> bool:
    """True for a database that is away for a moment: a connection refused, lost or closed by a
    restarting server, or a transaction it rolled back whole (a deadlock, a lock timeout)."""
    if isinstance(exc, OperationalError | DisconnectionError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def record_retrying(settings: Settings, sleep: Sleep) -> Retrying:
    """Tries of a step that records what a request came to, through a short database outage.

    The request is out: an answer not recorded leaves its attempt to the reconciler's look-up,
    which cannot see a refusal (no call was made) and so ends the contact `unknown`. Each step
    is one transaction that applies only while the attempt or contact is as it left it, so a
    try whose commit was lost with the connection is harmless to repeat. The tries end within
    `stuck_after`, before the reconciler starts its look-up.
    """
    return Retrying(
        retry=retry_if_exception(is_database_outage),
        stop=stop_after_attempt(RECORD_ATTEMPTS) | stop_before_delay(settings.stuck_after),
        wait=wait_random_exponential(multiplier=DATABASE_WAIT_FIRST, max=DATABASE_WAIT_MAX),
        sleep=sleep,
        reraise=True,
    )


def wakeup_again_in(retries: int) -> float:
    """Seconds before a wake-up met by a database outage is delivered again, after `retries`
    earlier deliveries: doubling from WAKEUP_WAIT_FIRST, capped, with half of it jittered so that
    the wake-ups of one outage do not all come back at once."""
    ceiling = min(WAKEUP_WAIT_FIRST * 2.0**retries, WAKEUP_WAIT_MAX)
    return ceiling * random.uniform(0.5, 1.0)
