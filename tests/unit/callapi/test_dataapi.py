"""The Data API client against `httpx.MockTransport`: params, filters, paging, errors, secrets."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_none

from dialer.callapi import errors
from dialer.callapi.dataapi import (
    CALL_LEG_FIELDS,
    CALL_SESSION_FIELDS,
    DEFAULT_DATAAPI_URL,
    DataApiClient,
    DataApiConfig,
    ReportPage,
)
from dialer.callapi.filters import (
    Tree,
    Where,
    all_of,
    any_of,
    at_least,
    at_most,
    equals,
    is_in,
    like,
)
from dialer.callapi.limits import Limits
from dialer.retry import is_transient
from tests.unit.callapi.scripted import FakeApi, fail, ok
from tests.unit.callapi.vectors import LIMITS

URL = "https://dataapi.test/v2.0"
DATA_KEY = "data-key-0b1c2d"
CALL_KEY = "call-key-9e8f7a"
SESSION_TOKEN = "data-session-4455aa"
PASSWORD = "s3cret-pa55"
MOSCOW = dt.timezone(dt.timedelta(hours=3))
SINCE = dt.datetime(2026, 11, 23, 6, 0, tzinfo=dt.UTC)
UNTIL = dt.datetime(2026, 11, 23, 9, 30, 15, tzinfo=dt.UTC)


def rows_reply(rows: list[dict[str, Any]], total: int | None) -> dict[str, Any]:
    """A get.* reply with `rows`, `total_items` (when not None) and limits."""
    metadata: dict[str, Any] = {"limits": LIMITS}
    if total is not None:
        metadata["total_items"] = total
    return ok(rows, metadata=metadata)


def client_for(api: FakeApi, *, retrying: Retrying | None = None, **config: Any) -> DataApiClient:
    """A client on a permanent Data API key, in Moscow time."""
    settings = {"url": URL, "access_token": SecretStr(DATA_KEY), **config}
    return DataApiClient(DataApiConfig(**settings), retrying=retrying, transport=api.transport)


def retry_three_times() -> Retrying:
    """The shape of `dialer.retry.report_retrying`, without waits."""
    return Retrying(
        retry=retry_if_exception(is_transient),
        stop=stop_after_attempt(3),
        wait=wait_none(),
        reraise=True,
    )


# --- the request ---------------------------------------------------------------------------------


def test_calls_report_request_is_as_the_docs_show() -> None:
    api = FakeApi(rows_reply([{"id": 1}], 1))
    client_for(api).calls_report(
        SINCE, UNTIL, filter=equals("call_api_external_id", "c1-5-1"), include_ongoing_calls=True
    )
    [request] = api.requests
    assert request["method"] == "get.calls_report"
    assert request["params"] == {
        "access_token": DATA_KEY,
        "date_from": "2026-11-23 09:00:00",  # Moscow, the account's zone
        "date_till": "2026-11-23 12:30:15",
        "limit": 1000,
        "offset": 0,
        "include_ongoing_calls": True,
        "sort": [{"field": "id", "order": "asc"}],
        "filter": {"field": "call_api_external_id", "operator": "=", "value": "c1-5-1"},
        "fields": list(CALL_SESSION_FIELDS),
    }
    assert str(api.raw[0].url) == URL


def test_call_legs_report_has_no_include_ongoing_calls_and_its_own_fields() -> None:
    api = FakeApi(rows_reply([], 0))
    client_for(api).call_legs_report(SINCE, UNTIL, limit=50, offset=100)
    params = api.requests[0]["params"]
    assert api.methods == ["get.call_legs_report"]
    assert "include_ongoing_calls" not in params
    assert (params["limit"], params["offset"]) == (50, 100)
    assert params["fields"] == list(CALL_LEG_FIELDS)


def test_dates_follow_the_configured_account_zone() -> None:
    api = FakeApi(rows_reply([], 0))
    client_for(api, account_timezone="Asia/Yekaterinburg").calls_report(SINCE, UNTIL, fields=None)
    params = api.requests[0]["params"]
    assert params["date_from"] == "2026-11-23 11:00:00"
    assert "fields" not in params


@pytest.mark.parametrize(
    ("problem", "call"),
    [
        ("aware", lambda c: c.calls_report(SINCE.replace(tzinfo=None), UNTIL)),
        ("after", lambda c: c.calls_report(UNTIL, SINCE)),
        ("limit", lambda c: c.calls_report(SINCE, UNTIL, limit=10_001)),
        ("offset", lambda c: c.calls_report(SINCE, UNTIL, offset=100_001)),
    ],
)
def test_bad_arguments_are_refused_before_sending(problem: str, call: Any) -> None:
    api = FakeApi()
    with pytest.raises(ValueError, match=problem):
        call(client_for(api))
    assert api.requests == [], problem


def test_an_unknown_account_zone_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match="Mars/Olympus"):
        DataApiConfig(account_timezone="Mars/Olympus")


# --- filters -------------------------------------------------------------------------------------


def test_simple_filters_serialise_as_the_docs_show() -> None:
    assert is_in("call_api_external_id", ("a", "b")).as_json() == {
        "field": "call_api_external_id",
        "operator": "in",
        "value": ["a", "b"],
    }
    assert like("call_api_external_id", "c7-%").as_json()["operator"] == "like"
    assert at_least("start_time", "2026-11-23 09:00:00").as_json()["operator"] == ">="
    assert at_most("id", 5).as_json() == {"field": "id", "operator": "<=", "value": 5}


def test_filter_trees_nest_as_the_docs_show() -> None:
    tree = any_of(
        all_of(equals("name", "Bob"), equals("age", 25)),
        all_of(equals("name", "Dexter"), equals("age", 2)),
    )
    assert tree.as_json() == {
        "filters": [
            {
                "filters": [
                    {"field": "name", "operator": "=", "value": "Bob"},
                    {"field": "age", "operator": "=", "value": 25},
                ],
                "condition": "and",
            },
            {
                "filters": [
                    {"field": "name", "operator": "=", "value": "Dexter"},
                    {"field": "age", "operator": "=", "value": 2},
                ],
                "condition": "and",
            },
        ],
        "condition": "or",
    }


@pytest.mark.parametrize(
    ("build", "complaint"),
    [
        (lambda: Where("id", "~", 1), "unknown filter operator"),
        (lambda: Where("id", "in", 1), "list of values"),
        (lambda: Where("call_api_external_id", "like", 5), "% wildcards"),
        (lambda: Tree(()), "at least one"),
        (lambda: Tree((equals("id", 1),), "xor"), "and / or"),  # type: ignore[arg-type]
    ],
)
def test_malformed_filters_are_refused(build: Any, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        build()


# --- replies and paging --------------------------------------------------------------------------


def test_a_page_carries_rows_total_and_limits() -> None:
    rows = [{"id": 7, "call_api_external_id": "c1-5-1"}]
    page = client_for(FakeApi(rows_reply(rows, 31))).calls_report(SINCE, UNTIL)
    assert page.rows == rows
    assert page.total_items == 31
    assert page.limits == Limits.from_mapping(LIMITS)
    assert page.next_offset == 1


def test_pages_walk_total_items_in_id_order() -> None:
    api = FakeApi(
        rows_reply([{"id": 1}, {"id": 2}], 5),
        rows_reply([{"id": 3}, {"id": 4}], 5),
        rows_reply([{"id": 5}], 5),
    )
    client = client_for(api)
    query = partial(client.calls_report, SINCE, UNTIL, filter=like("x", "c1-%"), limit=2)
    pages = list(client.pages(query))
    assert [row["id"] for page in pages for row in page.rows] == [1, 2, 3, 4, 5]
    assert [r["params"]["offset"] for r in api.requests] == [0, 2, 4]
    assert all(r["params"]["sort"] == [{"field": "id", "order": "asc"}] for r in api.requests)
    assert all(page.limits is not None for page in pages)
    assert client.last_limits == Limits.from_mapping(LIMITS)


def test_legs_pages_stop_at_an_empty_page_even_if_the_total_says_more() -> None:
    api = FakeApi(rows_reply([{"id": 1}], 3), rows_reply([], 3))
    client = client_for(api)
    pages = list(client.pages(partial(client.call_legs_report, SINCE, UNTIL, limit=1)))
    assert [len(p.rows) for p in pages] == [1, 0]
    assert api.methods == ["get.call_legs_report"] * 2


def test_without_total_items_a_short_page_is_the_last() -> None:
    api = FakeApi(rows_reply([{"id": 1}, {"id": 2}], None), rows_reply([{"id": 3}], None))
    client = client_for(api)
    pages = list(client.pages(partial(client.calls_report, SINCE, UNTIL, limit=2)))
    assert [len(p.rows) for p in pages] == [2, 1]


def test_paging_past_the_offset_ceiling_is_refused() -> None:
    offsets: list[int] = []

    def fetch(*, offset: int) -> ReportPage:
        offsets.append(offset)
        return ReportPage("get.calls_report", [{}] * 60_000, offset, 200_000, None, "x")

    with pytest.raises(errors.InvalidParams, match="narrow"):
        list(client_for(FakeApi()).pages(fetch))
    assert offsets == [0, 60_000]


def test_data_that_is_not_a_list_of_rows_is_a_bad_reply() -> None:
    with pytest.raises(errors.BadReplyError):
        client_for(FakeApi(ok({"id": 1}))).calls_report(SINCE, UNTIL)


def test_report_times_are_read_in_the_account_zone() -> None:
    client = client_for(FakeApi())
    assert client.parse_time("2026-11-23 12:30:15") == UNTIL
    assert client.parse_time(None) is None
    with pytest.raises(errors.BadReplyError):
        client.parse_time("23.11.2026")


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "cls"),
    [
        (fail("date_interval_limit_reached", field="date_till"), errors.DateIntervalError),
        (fail("filter_prohibited", field="filter"), errors.FilterProhibitedError),
        (fail("ip_not_whitelisted", -32003), errors.DataApiAccessError),
        (fail("method_component_disabled", -32008), errors.DataApiAccessError),
        (fail("limit_exceeded", -32029, limit_type="minute"), errors.RateLimitError),
        (fail("access_token_invalid", -32001), errors.AuthError),
    ],
)
def test_errors_are_typed_by_mnemonic(reply: dict[str, Any], cls: type[Exception]) -> None:
    with pytest.raises(cls):
        client_for(FakeApi(reply)).calls_report(SINCE, UNTIL)


def test_transient_errors_are_retried_by_the_policy_given() -> None:
    api = FakeApi(
        fail("internal_error", -32603),
        httpx.ReadTimeout("read timed out"),
        rows_reply([{"id": 1}], 1),
    )
    page = client_for(api, retrying=retry_three_times()).calls_report(SINCE, UNTIL)
    assert page.rows == [{"id": 1}]
    assert len(api.requests) == 3


def test_a_lost_answer_is_transient_not_ambiguous() -> None:
    api = FakeApi(httpx.ReadTimeout("read timed out"))
    with pytest.raises(errors.NoReplyError) as caught:
        client_for(api).calls_report(SINCE, UNTIL)
    assert caught.value.handling is errors.Handling.TRANSIENT


@pytest.mark.parametrize(
    "reply",
    [
        fail("filter_prohibited", field="filter"),
        fail("limit_exceeded", -32029, limit_type="minute"),
        fail("ip_not_whitelisted", -32003),
    ],
)
def test_other_errors_are_not_retried(reply: dict[str, Any]) -> None:
    api = FakeApi(reply, rows_reply([], 0))
    with pytest.raises(errors.ApiError):
        client_for(api, retrying=retry_three_times()).calls_report(SINCE, UNTIL)
    assert len(api.requests) == 1


# --- settings and credentials --------------------------------------------------------------------


@dataclass(frozen=True)
class DataApiSettings:
    """The attributes of `dialer.config.Settings` the Data API reads."""

    dataapi_url: str = DEFAULT_DATAAPI_URL
    dataapi_access_token: SecretStr | None = None
    access_token: SecretStr | None = None
    login: str | None = None
    password: SecretStr | None = None
    connect_timeout: float = 2.0
    read_timeout: float = 7.0
    account_timezone: str = "Europe/Moscow"


def test_from_settings_prefers_the_data_api_key_and_sets_timeouts() -> None:
    api = FakeApi(rows_reply([], 0))
    settings = DataApiSettings(
        dataapi_url=URL, dataapi_access_token=SecretStr(DATA_KEY), access_token=SecretStr(CALL_KEY)
    )
    DataApiClient.from_settings(settings, transport=api.transport).calls_report(SINCE, UNTIL)
    assert api.tokens() == [DATA_KEY]
    assert str(api.raw[0].url) == URL
    assert api.raw[0].extensions["timeout"] == {
        "connect": 2.0,
        "read": 7.0,
        "write": 7.0,
        "pool": 2.0,
    }


def test_from_settings_falls_back_to_the_call_api_key() -> None:
    config = DataApiConfig.from_settings(DataApiSettings(access_token=SecretStr(CALL_KEY)))
    assert config.access_token == SecretStr(CALL_KEY)
    assert config.url == DEFAULT_DATAAPI_URL


def test_login_mode_logs_in_and_uses_the_session() -> None:
    api = FakeApi(
        ok({"access_token": SESSION_TOKEN, "expire_at": 4_000_000_000}),
        rows_reply([], 0),
        ok({"success": True}),
    )
    settings = DataApiSettings(dataapi_url=URL, login="reports", password=SecretStr(PASSWORD))
    with DataApiClient.from_settings(settings, transport=api.transport) as client:
        client.calls_report(SINCE, UNTIL)
    assert api.methods == ["login.user", "get.calls_report", "logout.user"]
    assert api.tokens() == [None, SESSION_TOKEN, SESSION_TOKEN]


def test_secrets_appear_in_no_log_repr_or_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    api = FakeApi(
        fail("auth_error", -32001, field="password", value=PASSWORD),
        ok({"access_token": SESSION_TOKEN, "expire_at": 4_000_000_000}),
        fail("access_token_invalid", -32001, field="access_token", value=SESSION_TOKEN),
        ok({"access_token": SESSION_TOKEN, "expire_at": 4_000_000_000}),
        rows_reply([{"id": 1}], 1),
        ok({"success": True}),
    )
    config = DataApiConfig(url=URL, login="reports", password=SecretStr(PASSWORD))
    client = DataApiClient(config, transport=api.transport)
    seen = [repr(client), repr(config), str(config)]
    for _ in range(2):
        try:
            seen.append(repr(client.calls_report(SINCE, UNTIL)))
        except errors.CallApiError as exc:
            seen.extend(
                [str(exc), repr(exc), repr(getattr(exc, "value", None)), repr(exc.__cause__)]
            )
    client.close()
    keyed = client_for(FakeApi())
    seen.extend([repr(keyed), repr(keyed.config)])
    assert "get.calls_report" in caplog.text
    everything = "\n".join([caplog.text, *seen])
    for secret in (PASSWORD, SESSION_TOKEN, DATA_KEY):
        assert secret not in everything
