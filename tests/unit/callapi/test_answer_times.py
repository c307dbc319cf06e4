"""The `start.*` read timeout fitted to the provider's answer times: the tracker alone on fake
durations, then the Call API client against `httpx.MockTransport` with a hand-moved clock."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from dialer.callapi import errors
from dialer.callapi.answer_times import AnswerTimes, percentile
from dialer.callapi.client import CallApiClient
from dialer.config import load_settings
from tests.clock import Clock
from tests.unit.callapi.scripted import FakeApi
from tests.unit.callapi.vectors import REPLIES, REQUESTS

URL = "https://callapi.test/v4.0"
START = "start.informer_call"


def tracker(**kwargs: Any) -> AnswerTimes:
    """Floor 2 s, ceiling 30 s, factor 4, fitted after 20 answers."""
    return AnswerTimes(**{"floor": 2.0, "ceiling": 30.0, "factor": 4.0, "least": 20, **kwargs})


def fed(times: AnswerTimes, *seconds: float) -> AnswerTimes:
    """`times`, with these answer times recorded."""
    for s in seconds:
        times.record(s)
    return times


# --- the tracker ----------------------------------------------------------------------------------


def test_the_configured_read_timeout_holds_until_enough_answers_are_known() -> None:
    times = fed(tracker(), *[0.1] * 19)
    assert times.timeout() == 30.0
    times.record(0.1)
    assert times.timeout() == 2.0


def test_a_fast_provider_gets_the_floor_never_less() -> None:
    assert fed(tracker(), *[0.05] * 100).timeout() == 2.0


def test_the_timeout_is_factor_times_the_95th_percentile() -> None:
    # 90 answers in 1 s, 10 in 2 s: the 95th percentile is 2 s.
    times = fed(tracker(), *[1.0] * 90, *[2.0] * 10)
    assert times.timeout() == 8.0


def cut(times: AnswerTimes, *seconds: float) -> AnswerTimes:
    """`times`, with requests that timed out after these seconds recorded."""
    for s in seconds:
        times.record_cut(s)
    return times


def test_with_nothing_answered_yet_the_ceiling_holds() -> None:
    assert tracker(least=0).timeout() == 30.0


def test_a_few_hung_requests_do_not_lift_the_timeout() -> None:
    times = cut(fed(tracker(), *[0.3] * 97), *[2.0] * 3)
    assert times.timeout() == 2.0


def test_hung_requests_above_the_percentile_still_cost_only_themselves() -> None:
    # A tenth of the last 200 hung: counted among the answers, they would be the 95th percentile
    # and lift the timeout to 8 s. Up to a fifth, the answered ones alone are fitted.
    times = cut(fed(tracker(keep=200), *[0.3] * 160), *[2.0] * 40)
    assert times.timeout() == 2.0


def test_more_than_a_fifth_timed_out_is_a_slow_provider_and_gets_the_ceiling() -> None:
    times = cut(fed(tracker(keep=100), *[0.3] * 79), *[2.0] * 21)
    assert times.timeout() == 30.0
    # It answers in time again (in 1 s): the cuts leave the window and the fit returns.
    fed(times, *[1.0] * 100)
    assert times.timeout() == 4.0


def test_the_ceiling_is_never_exceeded() -> None:
    assert fed(tracker(), *[20.0] * 50).timeout() == 30.0


def test_a_floor_above_the_ceiling_is_the_ceiling() -> None:
    assert fed(tracker(floor=60.0), *[0.1] * 50).timeout() == 30.0


def test_a_provider_slow_for_everyone_gets_its_timeout_back_quickly() -> None:
    times = fed(tracker(keep=100), *[0.3] * 100)
    assert times.timeout() == 2.0
    # Every answer now takes 10 s: each request is cut at the 2-s timeout, until more than a fifth
    # of the last 100 were, then answered at the ceiling.
    seen = []
    for _ in range(30):
        timeout = times.timeout()
        seen.append(timeout)
        if timeout < 10.0:
            times.record_cut(timeout)
        else:
            times.record(10.0)
    assert seen == [2.0] * 21 + [30.0] * 9


def test_only_the_most_recent_answers_count() -> None:
    times = fed(tracker(keep=50), *[5.0] * 50)
    assert times.timeout() == 20.0
    fed(times, *[0.2] * 50)
    assert times.timeout() == 2.0


def test_nearest_rank_percentile() -> None:
    ordered = [float(i) for i in range(1, 101)]
    assert percentile(ordered, 0.95) == 95.0
    assert percentile(ordered, 1.0) == 100.0
    assert percentile([7.0], 0.95) == 7.0


def test_threads_recording_at_once_lose_nothing() -> None:
    times = tracker(keep=10_000)

    def record_many() -> None:
        for _ in range(1_000):
            times.record(0.5)

    threads = [threading.Thread(target=record_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(times) == 8000


# --- the client -----------------------------------------------------------------------------------


def start_params() -> dict[str, Any]:
    """The docs' start.informer_call params, without the token."""
    return {k: v for k, v in REQUESTS[START]["params"].items() if k != "access_token"}


def answered_after(clock: Clock, seconds: float) -> Any:
    """A scripted answer that takes `seconds` of the test's clock."""

    def answer(_: dict[str, Any]) -> dict[str, Any]:
        clock.advance(seconds)
        return dict(REPLIES[START])

    return answer


def client(api: FakeApi, times: AnswerTimes | None) -> CallApiClient:
    """A keyed client with a 30 s read timeout and this tracker."""
    return CallApiClient(
        URL,
        access_token=SecretStr("key"),
        transport=api.transport,
        connect_timeout=2.0,
        read_timeout=30.0,
        answer_times=times,
    )


def read_timeouts(api: FakeApi) -> list[float]:
    """The read timeout each request was sent with."""
    return [request.extensions["timeout"]["read"] for request in api.raw]


def test_start_requests_are_timed_and_then_sent_with_the_fitted_timeout() -> None:
    clock = Clock(0.0)
    times = tracker(least=3, clock=clock)
    api = FakeApi(*[answered_after(clock, 1.5) for _ in range(4)])
    calls = client(api, times)
    for _ in range(4):
        calls.start_call(START, start_params())
    # Three answers in 1.5 s each are known before the fourth: 4 × 1.5 s.
    assert read_timeouts(api) == [30.0, 30.0, 30.0, 6.0]
    # Only the read timeout is fitted; connecting and writing keep theirs.
    assert api.raw[3].extensions["timeout"] == {
        "connect": 2.0,
        "read": 6.0,
        "write": 30.0,
        "pool": 2.0,
    }


def test_a_start_cut_by_the_fitted_timeout_is_ambiguous_and_recorded_at_it() -> None:
    times = fed(tracker(), *[0.1] * 20)
    api = FakeApi(httpx.ReadTimeout("timed out"))
    with pytest.raises(errors.AmbiguousError):
        client(api, times).start_call(START, start_params())
    assert read_timeouts(api) == [2.0]
    assert len(times) == 21


def test_other_methods_keep_the_configured_read_timeout_and_are_not_timed() -> None:
    times = fed(tracker(), *[0.1] * 20)
    api = FakeApi(REPLIES["list.calls"], REPLIES["release.call"])
    calls = client(api, times)
    calls.list_calls()
    calls.release_call(1)
    assert read_timeouts(api) == [30.0, 30.0]
    assert len(times) == 20


def test_a_cut_connection_is_no_answer_time() -> None:
    times = tracker()
    api = FakeApi(httpx.RemoteProtocolError("peer closed"))
    with pytest.raises(errors.AmbiguousError):
        client(api, times).start_call(START, start_params())
    assert len(times) == 0


def test_from_settings_fits_unless_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIALER_CALLAPI_READ_TIMEOUT", "20")
    monkeypatch.setenv("DIALER_CALLAPI_START_TIMEOUT_FLOOR", "3")
    monkeypatch.setenv("DIALER_CALLAPI_START_TIMEOUT_FACTOR", "5")
    fitted = CallApiClient.from_settings(load_settings()).answer_times
    assert fitted is not None
    assert (fitted.floor, fitted.ceiling, fitted.factor) == (3.0, 20.0, 5.0)
    monkeypatch.setenv("DIALER_CALLAPI_FIT_START_TIMEOUT", "off")
    assert CallApiClient.from_settings(load_settings()).answer_times is None
