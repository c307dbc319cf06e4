"""The real `DataApiClient` against the simulator over loopback HTTP: calls placed through the
Call API client, the clock moved on, and each call's outcome found by its `external_id`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from functools import partial
from typing import Any

import pytest
from pydantic import SecretStr

from dialer.callapi import errors
from dialer.callapi.client import CallApiClient
from dialer.callapi.dataapi import DataApiClient, DataApiConfig
from dialer.callapi.filters import all_of, equals, is_in, like
from dialer.config import load_settings
from dialer.retry import report_retrying
from dialer.simulator import (
    DEFAULT_ACCESS_TOKEN,
    DEFAULT_LOGIN,
    DEFAULT_PASSWORD,
    Api,
    CallOutcomes,
    Fault,
    SimulatorServer,
)
from tests.clock import Clock
from tests.integration.conftest import StartSimulator

INFORMER = "start.informer_call"
CALL_SECONDS = 30.0
DELAY = 20.0
BATCH = 10
PAGE = 4
MESSAGE = {"type": "tts", "value": "Тестовое сообщение"}


@pytest.fixture
def closing() -> Iterator[list[CallApiClient | DataApiClient]]:
    """Clients made by a test, closed after it."""
    made: list[CallApiClient | DataApiClient] = []
    yield made
    for client in made:
        client.close()


class Campaign:
    """A simulated account, a Call API client to place calls and a Data API client to read them."""

    def __init__(
        self,
        server: SimulatorServer,
        clock: Clock,
        closing: list[CallApiClient | DataApiClient],
        **data_config: Any,
    ) -> None:
        self.server = server
        self.clock = clock
        key = SecretStr(DEFAULT_ACCESS_TOKEN)
        self.calls = CallApiClient(server.url, access_token=key, clock=clock, read_timeout=5.0)
        settings = load_settings(backoff_enabled=False)
        data_config.setdefault("access_token", key)
        self.data = DataApiClient(
            DataApiConfig(url=server.data_url, read_timeout=5.0, **data_config),
            retrying=report_retrying(settings),
            clock=clock,
        )
        closing.extend([self.calls, self.data])
        self.started = self.now()
        self.placed: dict[str, int] = {}  # external_id -> call_session_id

    def now(self) -> dt.datetime:
        """The simulator's time."""
        return dt.datetime.fromtimestamp(self.clock.now, dt.UTC)

    def place(self, external_id: str, contact: str) -> None:
        """Place one informer call."""
        params = {
            "virtual_phone_number": "74993720692",
            "contact": contact,
            "external_id": external_id,
            "contact_message": MESSAGE,
        }
        self.placed[external_id] = self.calls.start_call(INFORMER, params).call_session_id

    def window(self) -> tuple[dt.datetime, dt.datetime]:
        """The dates to ask for, padded so that a clock or zone error cannot hide a row."""
        pad = dt.timedelta(hours=1)
        return self.started - pad, self.now() + pad

    def sessions_by_ids(self, external_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Each call's session row, found by `in` batches of external ids, page by page."""
        found: dict[str, dict[str, Any]] = {}
        since, until = self.window()
        for start in range(0, len(external_ids), BATCH):
            batch = external_ids[start : start + BATCH]
            query = is_in("call_api_external_id", batch)
            fetch = partial(self.data.calls_report, since, until, filter=query, limit=PAGE)
            for page in self.data.pages(fetch):
                found.update({row["call_api_external_id"]: row for row in page.rows})
        return found

    def truth(self) -> dict[str, str]:
        """The simulator's own record: each placed call's finish_reason."""
        ends = {call.call_session_id: call.ending for call in self.server.calls()}
        reasons = {}
        for external_id, session_id in self.placed.items():
            ending = ends[session_id]
            assert ending is not None
            reasons[external_id] = ending.finish_reason
        return reasons


def test_each_calls_outcome_is_found_by_its_external_id_in_batches(
    start_simulator: StartSimulator, clock: Clock, closing: list[CallApiClient | DataApiClient]
) -> None:
    outcomes = CallOutcomes(
        shares={"answered": 2, "busy": 1, "no_answer": 1, "bad_number": 1}, report_delay=DELAY
    )
    server = start_simulator(
        minute_limit=1_000, outcomes=outcomes, call_duration=CALL_SECONDS, seed=3
    )
    campaign = Campaign(server, clock, closing)
    for n in range(23):
        campaign.place(f"c7-{n}-1", f"7926{n:07d}")
        clock.advance(1)
    clock.advance(CALL_SECONDS + DELAY)

    found = campaign.sessions_by_ids(sorted(campaign.placed))

    assert {key: row["finish_reason"] for key, row in found.items()} == campaign.truth()
    assert {row["id"] for row in found.values()} == set(campaign.placed.values())
    assert len(set(campaign.truth().values())) == 4  # every outcome drawn at least once
    for row in found.values():
        assert row["is_lost"] is (row["finish_reason"] != "subscriber_disconnects")
    # 3 batches of 10, 10 and 3 rows, in pages of 4: 3 + 3 + 1 requests.
    assert server.stats().data_points_spent == 7
    assert campaign.data.last_limits == server.limits(Api.DATA)


def test_a_like_prefix_finds_a_campaigns_calls_only_page_by_page(
    start_simulator: StartSimulator, clock: Clock, closing: list[CallApiClient | DataApiClient]
) -> None:
    server = start_simulator(minute_limit=1_000, outcomes=CallOutcomes(report_delay=DELAY))
    campaign = Campaign(server, clock, closing)
    for n in range(9):
        campaign.place(f"c7-{n}-1", f"7926{n:07d}")
        campaign.place(f"c8-{n}-1", f"7927{n:07d}")
    clock.advance(CALL_SECONDS + DELAY)
    since, until = campaign.window()

    prefix = like("call_api_external_id", "c7-%")
    pages = list(
        campaign.data.pages(
            partial(campaign.data.calls_report, since, until, filter=prefix, limit=PAGE)
        )
    )

    assert [len(page.rows) for page in pages] == [4, 4, 1]
    assert {page.total_items for page in pages} == {9}
    external_ids = [row["call_api_external_id"] for page in pages for row in page.rows]
    assert external_ids == [f"c7-{n}-1" for n in range(9)]  # in id order, none twice
    assert all(page.limits is not None for page in pages)


def test_the_contact_leg_tells_pick_up_and_seconds_listened(
    start_simulator: StartSimulator, clock: Clock, closing: list[CallApiClient | DataApiClient]
) -> None:
    scripts = {"79260000001": ("answered",), "79260000002": ("busy",)}
    outcomes = CallOutcomes(scripts=scripts, answer_after=5, report_delay=DELAY)
    server = start_simulator(outcomes=outcomes, call_duration=CALL_SECONDS)
    campaign = Campaign(server, clock, closing)
    campaign.place("c7-1-1", "79260000001")
    campaign.place("c7-2-1", "79260000002")
    clock.advance(CALL_SECONDS + DELAY)
    since, until = campaign.window()

    query = all_of(
        is_in("call_session_id", list(campaign.placed.values())), equals("is_operator", False)
    )
    [page] = campaign.data.pages(
        partial(campaign.data.call_legs_report, since, until, filter=query)
    )

    legs = {leg["call_session_id"]: leg for leg in page.rows}
    heard, busy = legs[campaign.placed["c7-1-1"]], legs[campaign.placed["c7-2-1"]]
    picked_up = campaign.data.parse_time(heard["connect_time"])
    assert picked_up == campaign.started + dt.timedelta(seconds=5)
    assert (heard["duration"], heard["total_duration"]) == (25, 30)
    assert (busy["connect_time"], busy["duration"]) == (None, 0)
    assert busy["finish_reason"] == "subscriber_busy"


def test_a_late_row_appears_on_a_later_poll_and_ongoing_calls_on_request(
    start_simulator: StartSimulator, clock: Clock, closing: list[CallApiClient | DataApiClient]
) -> None:
    server = start_simulator(outcomes=CallOutcomes(report_delay=DELAY), call_duration=CALL_SECONDS)
    campaign = Campaign(server, clock, closing)
    campaign.place("c7-1-1", "79260000001")
    since, until = campaign.window()
    ours = equals("call_api_external_id", "c7-1-1")

    ongoing = campaign.data.calls_report(since, until, filter=ours, include_ongoing_calls=True)
    assert [row["finish_reason"] for row in ongoing.rows] == [None]
    clock.advance(CALL_SECONDS + DELAY - 1)
    assert campaign.data.calls_report(since, until, filter=ours).rows == []
    clock.advance(1)
    assert [r["id"] for r in campaign.data.calls_report(since, until, filter=ours).rows] == [
        campaign.placed["c7-1-1"]
    ]


def test_transient_faults_are_retried_and_refusals_are_typed(
    start_simulator: StartSimulator, clock: Clock, closing: list[CallApiClient | DataApiClient]
) -> None:
    server = start_simulator()
    campaign = Campaign(server, clock, closing)
    since, until = campaign.window()
    server.inject(Fault.INTERNAL, method="get.calls_report")
    server.inject(Fault.HTTP_5XX, method="get.calls_report")
    assert campaign.data.calls_report(since, until).total_items == 0
    with pytest.raises(errors.DateIntervalError):
        campaign.data.calls_report(since - dt.timedelta(days=100), until)
    with pytest.raises(errors.FilterProhibitedError):
        campaign.data.calls_report(since, until, filter=equals("finish_time", "x"))


def test_the_data_api_budget_is_its_own(
    start_simulator: StartSimulator, clock: Clock, closing: list[CallApiClient | DataApiClient]
) -> None:
    server = start_simulator(minute_limit=10, data_minute_limit=2, window_seconds=60)
    campaign = Campaign(server, clock, closing)
    campaign.place("c7-1-1", "79260000001")
    since, until = campaign.window()
    campaign.data.calls_report(since, until)
    campaign.data.calls_report(since, until)
    with pytest.raises(errors.RateLimitError) as caught:
        campaign.data.calls_report(since, until)
    assert caught.value.retry_after == 60.0
    campaign.place("c7-2-1", "79260000002")  # placing calls is untouched
    assert server.limits().minute_remaining == 8


def test_login_mode_and_no_access(
    start_simulator: StartSimulator, clock: Clock, closing: list[CallApiClient | DataApiClient]
) -> None:
    server = start_simulator()
    credentials = {"access_token": None, "login": DEFAULT_LOGIN}
    campaign = Campaign(server, clock, closing, password=SecretStr(DEFAULT_PASSWORD), **credentials)
    since, until = campaign.window()
    assert campaign.data.calls_report(since, until).total_items == 0
    assert [entry.method for entry in server.request_log()] == ["login.user", "get.calls_report"]

    closed = start_simulator(data_api_refusal="ip_not_whitelisted")
    refused = Campaign(closed, clock, closing)
    with pytest.raises(errors.DataApiAccessError):
        refused.data.calls_report(since, until)
    refused.place("c7-1-1", "79260000001")  # calls still go
