"""The one retry policy for transient Call API failures (capped, jittered, bounded twice).

Business code never sleeps or loops on errors itself: it asks `transient_retrying()` for a
tenacity controller. Retries stop after `transient_attempts` tries *or* `transient_max_seconds`,
whichever comes first; the waits grow exponentially with full jitter up to `backoff_max`.
`DIALER_BACKOFF=off` removes the waits (tests), keeping the bounds.
"""

from __future__ import annotations

from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_none,
    wait_random_exponential,
)
from tenacity.wait import wait_base

from dialer.callapi.errors import CallApiError, Handling
from dialer.config import Settings


def is_transient(exc: BaseException) -> bool:
    """True for an error the same request may get past by trying again soon."""
    return isinstance(exc, CallApiError) and exc.handling is Handling.TRANSIENT


def backoff(settings: Settings) -> wait_base:
    """The wait between tries: exponential with full jitter, capped; none when switched off."""
    if not settings.backoff_enabled:
        return wait_none()
    return wait_random_exponential(multiplier=settings.backoff_initial, max=settings.backoff_max)


def transient_retrying(settings: Settings) -> Retrying:
    """A tenacity controller that retries transient errors only, and re-raises the last one."""
    return Retrying(
        retry=retry_if_exception(is_transient),
        stop=stop_after_attempt(settings.transient_attempts)
        | stop_after_delay(settings.transient_max_seconds),
        wait=backoff(settings),
        reraise=True,
    )
