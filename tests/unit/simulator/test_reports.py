"""The simulator's Data API: outcomes, report rows, filters, paging, errors and its own budget."""

from __future__ import annotations

import datetime as dt
import json
import socket
import zoneinfo
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from dialer.simulator import (
    DEFAULT_ACCESS_TOKEN,
    Api,
    CallOutcomes,
    FakeCallApi,
    Simulator,
    SimulatorServer,
)
from tests.clock import Clock

NUMBER = "74993720692"
MOSCOW = zoneinfo.ZoneInfo("Europe/Moscow")
DAY_START = "2023-11-14 00:00:00"  # the clock starts at 2023-11-14 22:13:20 UTC
DAY_END = "2023-11-16 00:00:00"
CALL_SECONDS = 30.0
DELAY = 10.0


class Account:
    """A simulator driven through its request handler, on a clock the test moves."""

    def __init__(self, **config: Any) -> None:
        self.clock = Clock()
        config.setdefault("outcomes", CallOutcomes(report_delay=DELAY))
        config.setdefault("minute_limit", 1_000)
        self.simulator = Simulator(FakeCallApi(clock=self.clock, seed=7, **config))

    def rpc(self, api: Api, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """One JSON-RPC request (with the default key, but to log in); the decoded reply."""
        if method != "login.user":
            params.setdefault("access_token", DEFAULT_ACCESS_TOKEN)
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        outcome = self.simulator.handle(json.dumps(body).encode(), None, api)
        assert outcome.body is not None
        reply: dict[str, Any] = json.loads(outcome.body)
        return reply

    def call(self, contact: str, external_id: str) -> int:
        """Place an informer call; its call_session_id."""
        reply = self.rpc(
            Api.CALL,
            "start.informer_call",
            {
                "virtual_phone_number": NUMBER,
                "contact": contact,
                "external_id": external_id,
                "contact_message": {"type": "tts", "value": "hello"},
            },
        )
        session_id: int = reply["result"]["data"]["call_session_id"]
        return session_id

    def report(self, method: str = "get.calls_report", **params: Any) -> dict[str, Any]:
        """A report over the test's days; the whole reply."""
        return self.rpc(Api.DATA, method, {"date_from": DAY_START, "date_till": DAY_END, **params})

    def rows(self, method: str = "get.calls_report", **params: Any) -> list[dict[str, Any]]:
        """A report's rows (the reply must be a success)."""
        reply = self.report(method, **params)
        assert "result" in reply, reply
        rows: list[dict[str, Any]] = reply["result"]["data"]
        return rows

    def mnemonic(self, method: str = "get.calls_report", **params: Any) -> str:
        """A report's error mnemonic (the reply must be an error)."""
        reply = self.report(method, **params)
        assert "error" in reply, reply
        return str(reply["error"]["data"]["mnemonic"])


def scripted(**scripts: tuple[str, ...]) -> CallOutcomes:
    """Outcomes scripted per contact number (`n79260000001=("busy", "answered")`)."""
    by_number = {name.removeprefix("n"): script for name, script in scripts.items()}
    return CallOutcomes(scripts=by_number, report_delay=DELAY)


def moscow(moment: float) -> str:
    """A clock reading as the account writes it."""
    return dt.datetime.fromtimestamp(moment, MOSCOW).strftime("%Y-%m-%d %H:%M:%S")


# --- when and how calls show -----------------------------------------------------------------


def test_a_call_shows_a_delay_after_it_ends_with_its_outcome() -> None:
    account = Account(outcomes=scripted(n79260000001=("answered",)))
    started = account.clock.now
    session_id = account.call("79260000001", "c1-1-1")
    account.clock.advance(CALL_SECONDS + DELAY - 1)
    assert account.rows() == []
    account.clock.advance(1)
    [row] = account.rows()
    assert row == {
        "id": session_id,
        "call_api_external_id": "c1-1-1",
        "call_api_request_id": row["call_api_request_id"],
        "start_time": moscow(started),
        "finish_time": moscow(started + CALL_SECONDS),
        "finish_reason": "subscriber_disconnects",
        "is_lost": False,
        "direction": "in",
        "source": "callapi_informer_call",
        "contact_phone_number": "79260000001",
        "virtual_phone_number": NUMBER,
        "wait_duration": 5,
        "talk_duration": 0,  # an informer call has no employee to talk to
        "clean_talk_duration": 0,
        "total_duration": 30,
    }


def test_the_contact_leg_says_whether_and_how_long_the_contact_listened() -> None:
    account = Account(
        outcomes=scripted(n79260000001=("answered",), n79260000002=("no_answer",)),
    )
    heard = account.call("79260000001", "c1-1-1")
    missed = account.call("79260000002", "c1-2-1")
    account.clock.advance(CALL_SECONDS + DELAY)
    legs = {leg["call_session_id"]: leg for leg in account.rows("get.call_legs_report")}
    assert legs[heard]["is_operator"] is False
    assert legs[heard]["connect_time"] == moscow(account.clock.now - DELAY - 25)
    assert (legs[heard]["duration"], legs[heard]["total_duration"]) == (25, 30)
    assert legs[missed]["connect_time"] is None
    assert legs[missed]["duration"] == 0
    assert legs[missed]["finish_reason"] == "subscriber_not_responsible"


def test_ongoing_calls_show_only_when_asked_for() -> None:
    account = Account()
    account.call("79260000001", "c1-1-1")
    account.clock.advance(5)
    assert account.rows() == []
    [row] = account.rows(include_ongoing_calls=True)
    assert (row["finish_time"], row["finish_reason"], row["total_duration"]) == (None, None, 5)


def test_scripted_numbers_end_as_scripted_and_repeat_the_last() -> None:
    account = Account(outcomes=scripted(n79260000001=("busy", "answered")))
    for attempt in range(3):
        account.call("79260000001", f"c1-1-{attempt}")
    account.clock.advance(CALL_SECONDS + DELAY)
    reasons = [row["finish_reason"] for row in account.rows()]
    assert reasons == ["subscriber_busy", "subscriber_disconnects", "subscriber_disconnects"]


def test_shares_draw_every_configured_outcome_and_nothing_else() -> None:
    shares = {"answered": 1.0, "busy": 1.0, "bad_number": 1.0, "weird_new_reason": 1.0}
    account = Account(outcomes=CallOutcomes(shares=shares, report_delay=0))
    for n in range(80):
        account.call(f"7926{n:07d}", f"c1-{n}-1")
    account.clock.advance(CALL_SECONDS)
    reasons = {row["finish_reason"] for row in account.rows(limit=100)}
    assert reasons == {
        "subscriber_disconnects",
        "subscriber_busy",
        "subscriber_number_problems",
        "weird_new_reason",  # a raw value, as the provider may add
    }


def test_the_caller_spelling_can_be_chosen() -> None:
    outcomes = CallOutcomes(shares={"busy": 1.0}, spelling="caller", report_delay=0)
    account = Account(outcomes=outcomes)
    account.call("79260000001", "c1-1-1")
    account.clock.advance(CALL_SECONDS)
    assert [row["finish_reason"] for row in account.rows()] == ["caller_busy"]


@pytest.mark.parametrize(
    "outcomes",
    [
        lambda: CallOutcomes(shares={}),
        lambda: CallOutcomes(shares={"answered": -1.0}),
        lambda: CallOutcomes(shares={"answered": 0.0}),
        lambda: CallOutcomes(scripts={"79260000001": ()}),
        lambda: CallOutcomes(spelling="klingon"),  # type: ignore[arg-type]
        lambda: CallOutcomes(report_delay=-1),
    ],
)
def test_a_bad_outcome_config_is_refused(outcomes: Callable[[], CallOutcomes]) -> None:
    with pytest.raises(ValueError, match=r"outcome|spelling|seconds"):
        outcomes()


def test_times_are_in_the_configured_zone() -> None:
    account = Account(account_timezone="Asia/Vladivostok", outcomes=CallOutcomes(report_delay=0))
    account.call("79260000001", "c1-1-1")
    account.clock.advance(CALL_SECONDS)
    [row] = account.rows()
    zone = zoneinfo.ZoneInfo("Asia/Vladivostok")
    started = dt.datetime.fromtimestamp(account.clock.now - CALL_SECONDS, zone)
    assert row["start_time"] == started.strftime("%Y-%m-%d %H:%M:%S")


# --- filters, fields, paging -------------------------------------------------------------------


@pytest.fixture
def ten_calls() -> Account:
    """An account whose ten calls have all shown in the reports."""
    account = Account(outcomes=CallOutcomes(report_delay=0))
    for n in range(10):
        account.call(f"7926000000{n}", f"c{n % 2}-{n}-1")
        account.clock.advance(1)
    account.clock.advance(CALL_SECONDS)
    return account


def filtered(account: Account, spec: dict[str, Any]) -> list[str]:
    """The external ids a filter selects."""
    return [row["call_api_external_id"] for row in account.rows(filter=spec)]


def test_filters_select_as_the_operators_say(ten_calls: Account) -> None:
    ids = "call_api_external_id"
    assert filtered(ten_calls, {"field": ids, "operator": "=", "value": "c1-3-1"}) == ["c1-3-1"]
    chosen = {"field": ids, "operator": "in", "value": ["c0-2-1", "c1-5-1", "nope"]}
    assert filtered(ten_calls, chosen) == ["c0-2-1", "c1-5-1"]
    assert len(filtered(ten_calls, {"field": ids, "operator": "like", "value": "c1-%"})) == 5
    first = ten_calls.rows(limit=1)[0]["id"]
    at_least = {"field": "id", "operator": ">=", "value": first + 8}
    assert filtered(ten_calls, at_least) == ["c0-8-1", "c1-9-1"]
    at_most = {"field": "start_time", "operator": "<=", "value": moscow(ten_calls.clock.now - 39)}
    assert filtered(ten_calls, at_most) == ["c0-0-1", "c1-1-1"]


def test_filter_trees_combine(ten_calls: Account) -> None:
    ids = "call_api_external_id"
    tree = {
        "filters": [
            {"field": ids, "operator": "like", "value": "c0-%"},
            {
                "filters": [
                    {"field": ids, "operator": "=", "value": "c0-4-1"},
                    {"field": ids, "operator": "=", "value": "c1-5-1"},
                ],
                "condition": "or",
            },
        ],
        "condition": "and",
    }
    assert filtered(ten_calls, tree) == ["c0-4-1"]


def test_fields_select_the_columns(ten_calls: Account) -> None:
    rows = ten_calls.rows(fields=["id", "finish_reason"], limit=2)
    assert [sorted(row) for row in rows] == [["finish_reason", "id"]] * 2


def test_paging_counts_total_items_and_sorts(ten_calls: Account) -> None:
    reply = ten_calls.report(limit=4, offset=8)
    assert reply["result"]["metadata"]["total_items"] == 10
    assert [row["call_api_external_id"] for row in reply["result"]["data"]] == ["c0-8-1", "c1-9-1"]
    newest = ten_calls.rows(sort=[{"field": "id", "order": "desc"}], limit=1)
    assert newest[0]["call_api_external_id"] == "c1-9-1"


@pytest.mark.parametrize(
    ("params", "mnemonic"),
    [
        ({"filter": {"field": "finish_time", "operator": ">=", "value": DAY_START}}, "filter"),
        ({"filter": {"field": "colour", "operator": "=", "value": 1}}, "unexpected_parameters"),
        ({"filter": {"field": "id", "operator": "~", "value": 1}}, "invalid_parameter_value"),
        ({"filter": {"field": "id", "operator": "in", "value": 1}}, "invalid_parameter_value"),
        ({"sort": [{"field": "finish_time"}]}, "sort_prohibited"),
        ({"fields": ["id", "colour"]}, "unexpected_parameters"),
        ({"limit": 10_001}, "invalid_parameter_value"),
        ({"offset": 100_001}, "invalid_parameter_value"),
        ({"date_till": "2024-02-14 00:00:01"}, "date_interval_limit_reached"),
        ({"date_from": "14.11.2023"}, "invalid_parameter_value"),
        ({"colour": "red"}, "unexpected_parameters"),
    ],
)
def test_bad_queries_get_the_providers_errors(params: dict[str, Any], mnemonic: str) -> None:
    expected = "filter_prohibited" if mnemonic == "filter" else mnemonic
    assert Account().mnemonic(**params) == expected


def test_three_months_exactly_is_allowed() -> None:
    assert Account().rows(date_from=DAY_START, date_till="2024-02-14 00:00:00") == []


def test_legs_have_no_include_ongoing_calls() -> None:
    mnemonic = Account().mnemonic("get.call_legs_report", include_ongoing_calls=True)
    assert mnemonic == "unexpected_parameters"


def test_dates_are_required() -> None:
    reply = Account().rpc(Api.DATA, "get.calls_report", {"date_from": DAY_START})
    assert reply["error"]["data"]["mnemonic"] == "required_parameter_missed"


# --- budget, access, methods -----------------------------------------------------------------


def test_the_data_api_spends_its_own_budget_only() -> None:
    account = Account(minute_limit=5, data_minute_limit=2)
    account.call("79260000001", "c1-1-1")
    assert len(account.rows()) == 0
    reply = account.report()
    assert reply["result"]["metadata"]["limits"]["minute_remaining"] == 0
    assert account.mnemonic() == "limit_exceeded"
    assert account.simulator.limits(Api.CALL).minute_remaining == 4
    stats = account.simulator.stats()
    assert (stats.points_spent, stats.data_points_spent) == (1, 2)


def test_no_data_api_access_is_refused_as_configured() -> None:
    account = Account(data_api_refusal="ip_not_whitelisted")
    reply = account.report()
    assert (reply["error"]["code"], reply["error"]["data"]["mnemonic"]) == (
        -32003,
        "ip_not_whitelisted",
    )
    assert account.call("79260000001", "c1-1-1") > 0  # calls still go


def test_the_apis_keep_their_own_methods() -> None:
    account = Account()
    data_on_call = account.rpc(Api.CALL, "get.calls_report", {})
    call_on_data = account.rpc(Api.DATA, "list.calls", {})
    assert data_on_call["error"]["data"]["mnemonic"] == "method_not_found"
    assert call_on_data["error"]["data"]["mnemonic"] == "method_not_found"


def test_login_works_on_the_data_api() -> None:
    account = Account()
    login = account.rpc(
        Api.DATA, "login.user", {"login": "your_login", "password": "your_password"}
    )
    token = login["result"]["data"]["access_token"]
    assert "result" in account.report(access_token=token)


def test_a_released_call_ends_when_released() -> None:
    account = Account(outcomes=CallOutcomes(shares={"answered": 1.0}, report_delay=0))
    session_id = account.call("79260000001", "c1-1-1")
    account.clock.advance(2)  # before the pick-up at 5 s
    account.rpc(Api.CALL, "release.call", {"call_session_id": session_id})
    [row] = account.rows()
    assert (row["total_duration"], row["is_lost"]) == (2, True)


# --- over HTTP ---------------------------------------------------------------------------------


def test_both_apis_are_served_on_one_loopback_port() -> None:
    with SimulatorServer(FakeCallApi()) as server:
        assert server.address[0] == "127.0.0.1"
        assert server.data_url == server.url.replace("/v4.0", "/v2.0")
        body = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "get.calls_report",
            "params": {
                "access_token": DEFAULT_ACCESS_TOKEN,
                "date_from": DAY_START,
                "date_till": DAY_END,
            },
        }
        reply = httpx.post(server.data_url, json=body, timeout=5).json()
        assert reply["result"]["metadata"]["total_items"] == 0


def test_the_server_is_not_reachable_on_other_interfaces() -> None:
    with SimulatorServer(FakeCallApi()) as server:
        port = server.address[1]
        other = _non_loopback_address()
        if other is None:
            pytest.skip("this machine has no non-loopback address")
        with pytest.raises(OSError):  # noqa: PT011 -- refused or unreachable, as the OS says
            socket.create_connection((other, port), timeout=1).close()


def _non_loopback_address() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # TEST-NET: nothing is sent over UDP connect
        address = str(probe.getsockname()[0])
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") else address
