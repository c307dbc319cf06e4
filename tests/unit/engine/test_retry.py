"""The retry controllers: named waits are waited for through the injected sleep, every bound holds,
and business code only raises."""

from __future__ import annotations

import time

import pytest
from sqlalchemy.exc import DisconnectionError, IntegrityError, OperationalError

from dialer import retry
from dialer.callapi.errors import AuthError, BadReplyError, NotSentError, RateLimitError
from dialer.callapi.limits import Limits
from dialer.config import Settings, load_settings


class Failing:
    """Raises the given errors in turn, then returns "done"; records how often it was called."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


@pytest.fixture
def settings() -> Settings:
    return load_settings(backoff_enabled=False, transient_attempts=3)


def rate_limited(reset: float) -> RateLimitError:
    limits = Limits(
        day_limit=1000,
        day_remaining=900,
        day_reset=3600.0,
        minute_limit=10,
        minute_remaining=0,
        minute_reset=reset,
    )
    return RateLimitError(-32029, "limit", "limit_exceeded", limits=limits)


def test_a_request_is_tried_at_most_transient_attempts_times(settings: Settings) -> None:
    slept: list[float] = []
    step = Failing(*(BadReplyError("HTTP 503", 503) for _ in range(5)))
    controller = retry.request_retrying(settings, lambda _: True, slept.append)

    with pytest.raises(BadReplyError):
        controller(step)

    assert step.calls == 3
    assert slept == [0.0, 0.0]  # backoff switched off


def test_a_budget_wait_within_the_bound_is_waited_for_in_place() -> None:
    slept: list[float] = []
    step = Failing(retry.RetryAfter(2.0, "minute budget"))

    assert retry.budget_retrying(3.0, slept.append)(step) == "done"
    assert slept == [2.0]


def test_a_longer_budget_wait_is_handed_back_at_once() -> None:
    slept: list[float] = []
    step = Failing(retry.RetryAfter(30.0, "minute budget"))

    with pytest.raises(retry.RetryAfter):
        retry.budget_retrying(3.0, slept.append)(step)
    assert (step.calls, slept) == (1, [])


def test_a_lookup_waits_the_reset_the_provider_names(settings: Settings) -> None:
    slept: list[float] = []
    step = Failing(rate_limited(7.0), NotSentError("refused"), BadReplyError("502", 502))

    assert retry.lookup_retrying(settings, slept.append)(step) == "done"
    assert slept == [7.0, 0.0, 0.0]


def test_a_lookup_never_waits_past_its_time_bound(settings: Settings) -> None:
    slept: list[float] = []
    step = Failing(rate_limited(retry.LOOKUP_MAX_SECONDS + 1))

    with pytest.raises(RateLimitError):
        retry.lookup_retrying(settings, slept.append)(step)
    assert slept == []


def test_a_lookup_gives_up_after_its_attempts(settings: Settings) -> None:
    step = Failing(*(BadReplyError("502", 502) for _ in range(retry.LOOKUP_ATTEMPTS + 5)))

    with pytest.raises(BadReplyError):
        retry.lookup_retrying(settings, lambda _: None)(step)
    assert step.calls == retry.LOOKUP_ATTEMPTS


def test_a_lookup_refused_for_good_is_not_repeated(settings: Settings) -> None:
    step = Failing(AuthError(-32001, "no", "access_token_invalid"))

    with pytest.raises(AuthError):
        retry.lookup_retrying(settings, lambda _: None)(step)
    assert step.calls == 1


def database_away() -> OperationalError:
    return OperationalError("UPDATE attempts", {}, Exception("server closed the connection"))


def test_a_record_rides_out_a_database_outage(settings: Settings) -> None:
    slept: list[float] = []
    step = Failing(database_away(), DisconnectionError("closed by the server"), database_away())

    assert retry.record_retrying(settings, slept.append)(step) == "done"
    assert step.calls == 4
    # Polled, even with the backoff off: the waits are the outage's length.
    assert len(slept) == 3
    assert all(0 <= wait <= retry.DATABASE_WAIT_MAX for wait in slept)
    assert sum(slept) > 0


def test_a_record_gives_up_after_its_attempts(settings: Settings) -> None:
    step = Failing(*(database_away() for _ in range(retry.RECORD_ATTEMPTS + 5)))

    with pytest.raises(OperationalError):
        retry.record_retrying(settings, lambda _: None)(step)
    assert step.calls == retry.RECORD_ATTEMPTS


def test_a_record_gives_up_within_stuck_after() -> None:
    # The reconciler looks the attempt up after `stuck_after`: the record must be over by then.
    settings = load_settings(backoff_enabled=False, stuck_after=0.01)
    step = Failing(*(database_away() for _ in range(5)))

    def slow_step() -> str:
        time.sleep(0.02)
        return step()

    with pytest.raises(OperationalError):
        retry.record_retrying(settings, lambda _: None)(slow_step)
    assert step.calls == 1


def test_a_database_mistake_is_not_tried_again(settings: Settings) -> None:
    step = Failing(IntegrityError("INSERT INTO attempts", {}, Exception("duplicate key")))

    with pytest.raises(IntegrityError):
        retry.record_retrying(settings, lambda _: None)(step)
    assert step.calls == 1


def test_a_lookup_rides_out_a_database_outage(settings: Settings) -> None:
    # A look-up takes and settles its points in the database.
    step = Failing(database_away())

    assert retry.lookup_retrying(settings, lambda _: None)(step) == "done"
