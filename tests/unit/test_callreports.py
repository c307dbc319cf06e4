"""The collector's questions asked of the simulator's Data API: calls by external id, contact legs,
proof that the report has caught up, on a budget of its own; no access is said as such."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, select

from dialer.callapi.client import CallApiClient
from dialer.callapi.dataapi import DataApiClient, DataApiConfig
from dialer.callreports import DataApiBudget, DataApiReports
from dialer.collector import ReportsUnavailable
from dialer.db import transaction
from dialer.models import Budget
from dialer.simulator import DEFAULT_ACCESS_TOKEN, Api, CallOutcomes, FakeCallApi, Simulator
from dialer.simulator.inprocess import in_process_transport
from tests.clock import Clock

KEY = SecretStr(DEFAULT_ACCESS_TOKEN)
PAD = dt.timedelta(days=1)


class Account:
    """A simulated account: a Call API client to place calls, and the reports to read them."""

    def __init__(self, engine: Engine, clock: Clock, **config: object) -> None:
        self.clock = clock
        self.simulator = Simulator(FakeCallApi(clock=clock, seed=3, **config))  # type: ignore[arg-type]
        self.calls = CallApiClient(
            "http://sim/v4.0",
            access_token=KEY,
            transport=in_process_transport(self.simulator, Api.CALL),
        )
        self.data = DataApiClient(
            DataApiConfig(url="http://sim/v2.0", access_token=KEY),
            transport=in_process_transport(self.simulator, Api.DATA),
            clock=clock,
        )
        self.reports = DataApiReports(self.data, engine, DataApiBudget("data-api"), now=self.now)

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock.now, dt.UTC)

    def place(self, external_id: str, contact: str) -> int:
        params = {
            "virtual_phone_number": "74993720692",
            "contact": contact,
            "external_id": external_id,
            "contact_message": {"type": "tts", "value": "Здравствуйте!"},
        }
        return self.calls.start_call("start.informer_call", params).call_session_id

    def close(self) -> None:
        self.calls.close()
        self.data.close()


@pytest.fixture
def account(sqlite_engine: Engine) -> Iterator[Account]:
    scripts = {"79260000001": ("answered",), "79260000002": ("busy",), "79260000003": ("odd_one",)}
    made = Account(
        sqlite_engine,
        Clock(),
        call_duration=30.0,
        outcomes=CallOutcomes(scripts=scripts, report_delay=10.0, spelling="caller"),
    )
    yield made
    made.close()


def test_calls_and_contact_legs_are_found_by_external_id(account: Account) -> None:
    began = account.now()
    ids = {f"ext-{n}": account.place(f"ext-{n}", f"7926000000{n}") for n in (1, 2, 3)}
    account.clock.advance(15)  # still ringing: nothing finished yet
    assert account.reports.find_calls(list(ids), began - PAD, account.now() + PAD) == []
    account.clock.advance(60)
    calls = account.reports.find_calls([*ids, "never-placed"], began - PAD, account.now() + PAD)
    by_id = {c.external_id: c for c in calls}
    assert {k: c.call_session_id for k, c in by_id.items()} == ids
    assert by_id["ext-1"].finish_reason == "caller_disconnects"
    assert by_id["ext-2"].finish_reason == "caller_busy"
    assert by_id["ext-3"].finish_reason == "odd_one"
    legs = account.reports.contact_legs(list(ids.values()), began - PAD, account.now() + PAD)
    assert legs[ids["ext-1"]].picked_up
    assert legs[ids["ext-1"]].listened_seconds
    assert not legs[ids["ext-2"]].picked_up
    assert legs[ids["ext-2"]].listened_seconds is None


def test_the_report_has_caught_up_once_a_later_call_is_listed(account: Account) -> None:
    asked_about = account.now()
    account.clock.advance(60)
    until = account.now() + PAD
    assert not account.reports.lists_calls_after(asked_about, until)
    account.place("later", "79260000009")
    account.clock.advance(60)
    assert account.reports.lists_calls_after(asked_about, account.now() + PAD)


def test_the_data_api_has_a_budget_of_its_own(account: Account, sqlite_engine: Engine) -> None:
    account.reports.find_calls(["x"], account.now() - PAD, account.now() + PAD)
    with transaction(sqlite_engine) as session:
        budget = session.scalars(select(Budget)).one()
    assert budget.account == "data-api"
    assert budget.minute_remaining < budget.minute_limit
    assert account.reports.requests == 1


def test_no_data_api_access_is_permanent(sqlite_engine: Engine) -> None:
    refused = Account(sqlite_engine, Clock(), data_api_refusal="ip_not_whitelisted")
    try:
        with pytest.raises(ReportsUnavailable) as raised:
            refused.reports.find_calls(["x"], refused.now() - PAD, refused.now() + PAD)
        assert raised.value.permanent
        assert DEFAULT_ACCESS_TOKEN not in str(raised.value)
    finally:
        refused.close()


def test_an_empty_budget_is_said_without_a_request(account: Account) -> None:
    small = DataApiReports(
        account.data,
        account.reports.engine,
        DataApiBudget("tiny", minute_limit_guess=1, day_limit_guess=1),
        now=account.now,
    )
    small.find_calls(["x"], account.now() - PAD, account.now() + PAD)
    with pytest.raises(ReportsUnavailable) as raised:
        small.find_calls(["y"], account.now() - PAD, account.now() + PAD)
    assert not raised.value.permanent
    assert small.requests == 1
