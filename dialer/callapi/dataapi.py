"""The Data API v2.0 client: `get.calls_report` and `get.call_legs_report`, filtered and paged.

    client = DataApiClient.from_settings(settings, retrying=report_retrying(settings))
    query = partial(client.calls_report, since, until, filter=is_in("call_api_external_id", ids))
    for page in client.pages(query):
        ...  # page.rows, page.total_items, page.limits

- The JSON-RPC exchange is `dialer.callapi.jsonrpc`'s (tokens and login mode, timeouts, secrets
  kept out of logs); error objects are read by the Data API's table
  (`errors.from_data_api_error_object`): component or IP refusals are `DataApiAccessError`,
  never a reason to stop calls.
- Report queries change nothing, so a lost answer is transient: each page is retried by the
  `retrying` controller it is given (the one policy of `dialer.retry`); none retries nothing.
  `limit_exceeded` is not retried here: the caller paces the Data API's own points budget.
- `date_from` / `date_till` are aware datetimes, sent in the account's time zone as the
  provider's `YYYY-MM-DD hh:mm:ss`; times in rows are read back with `DataApiClient.parse_time`.
"""

from __future__ import annotations

import datetime as dt
import time
import zoneinfo
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from pydantic import SecretStr
from tenacity import Retrying

from dialer.callapi import errors
from dialer.callapi.filters import Filter
from dialer.callapi.jsonrpc import Credentials, EndpointClient, JsonRpcEndpoint, Reply
from dialer.callapi.limits import Limits

DEFAULT_DATAAPI_URL = "https://dataapi.uiscom.ru/v2.0"
DEFAULT_ACCOUNT_TIMEZONE = "Europe/Moscow"
CALLS_REPORT = "get.calls_report"
CALL_LEGS_REPORT = "get.call_legs_report"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
DEFAULT_PAGE = 1000
MAX_PAGE = 10_000
MAX_OFFSET = 100_000

# The fields a dialer reads, per report (the docs' "default response" omits some of them).
CALL_SESSION_FIELDS = (
    "id",
    "call_api_external_id",
    "start_time",
    "finish_time",
    "finish_reason",
    "is_lost",
    "talk_duration",
    "total_duration",
    "contact_phone_number",
    "virtual_phone_number",
    "direction",
    "source",
)
CALL_LEG_FIELDS = (
    "id",
    "call_session_id",
    "start_time",
    "connect_time",
    "duration",
    "total_duration",
    "finish_reason",
    "is_operator",
    "direction",
    "called_phone_number",
)
BY_ID = ({"field": "id", "order": "asc"},)


class DataApiSettings(Protocol):
    """The settings `DataApiConfig.from_settings` reads (attributes of `dialer.config.Settings`)."""

    @property
    def dataapi_url(self) -> str:
        """The Data API's URL."""

    @property
    def dataapi_access_token(self) -> SecretStr | None:
        """The Data API's own key; the Call API's when None."""

    @property
    def access_token(self) -> SecretStr | None:
        """The Call API's key."""

    @property
    def login(self) -> str | None:
        """The login of `login.user` sessions."""

    @property
    def password(self) -> SecretStr | None:
        """The password of `login.user` sessions."""

    @property
    def connect_timeout(self) -> float:
        """Seconds to connect."""

    @property
    def read_timeout(self) -> float:
        """Seconds to wait for an answer."""

    @property
    def account_timezone(self) -> zoneinfo.ZoneInfo | str:
        """The provider account's time zone, in which reports give their times."""


@dataclass(frozen=True)
class DataApiConfig:
    """Where the Data API is, how to authenticate, how long to wait, and the account's zone."""

    url: str = DEFAULT_DATAAPI_URL
    access_token: SecretStr | None = None
    login: str | None = None
    password: SecretStr | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    account_timezone: str = DEFAULT_ACCOUNT_TIMEZONE

    def __post_init__(self) -> None:
        self.zone  # noqa: B018 -- a zone name that does not exist fails here, not at the first call

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        """The account's time zone."""
        try:
            return zoneinfo.ZoneInfo(self.account_timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown account time zone {self.account_timezone!r}") from None

    @classmethod
    def from_settings(cls, settings: DataApiSettings) -> DataApiConfig:
        """The Data API's part of the settings; its key falls back to the Call API's."""
        token = settings.dataapi_access_token or settings.access_token
        return cls(
            url=settings.dataapi_url,
            access_token=token,
            login=settings.login,
            password=settings.password,
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            account_timezone=str(settings.account_timezone),
        )


@dataclass(frozen=True)
class ReportPage:
    """One page of a report: its rows, how many rows the whole query holds, and the limits."""

    method: str
    rows: list[dict[str, Any]]
    offset: int
    total_items: int
    limits: Limits | None
    request_id: str

    @property
    def next_offset(self) -> int | None:
        """Where the next page starts, or None after the last one."""
        after = self.offset + len(self.rows)
        return after if self.rows and after < self.total_items else None


class DataApiClient(EndpointClient):
    """A synchronous Data API client; use it as a context manager so that it logs out."""

    def __init__(
        self,
        config: DataApiConfig,
        *,
        retrying: Retrying | None = None,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.zone = config.zone
        self._retrying = retrying
        self._rpc = JsonRpcEndpoint(
            config.url,
            api="Data API",
            credentials=Credentials(config.access_token, config.login, config.password),
            transport=transport,
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
            clock=clock,
            writes=False,
            classify=errors.from_data_api_error_object,
        )

    @classmethod
    def from_settings(
        cls,
        settings: DataApiSettings,
        *,
        retrying: Retrying | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> DataApiClient:
        """A client for the Data API settings; pass `dialer.retry.report_retrying(settings)`."""
        return cls(DataApiConfig.from_settings(settings), retrying=retrying, transport=transport)

    # --- the reports ---------------------------------------------------------------------------

    def calls_report(
        self,
        date_from: dt.datetime,
        date_till: dt.datetime,
        *,
        filter: Filter | None = None,
        fields: Sequence[str] | None = CALL_SESSION_FIELDS,
        include_ongoing_calls: bool = False,
        limit: int = DEFAULT_PAGE,
        offset: int = 0,
    ) -> ReportPage:
        """One page of `get.calls_report`: one row per call session, in id order."""
        extra = {"include_ongoing_calls": True} if include_ongoing_calls else {}
        params = self._params(date_from, date_till, filter, fields, limit, offset, extra)
        return self.page(CALLS_REPORT, params)

    def call_legs_report(
        self,
        date_from: dt.datetime,
        date_till: dt.datetime,
        *,
        filter: Filter | None = None,
        fields: Sequence[str] | None = CALL_LEG_FIELDS,
        limit: int = DEFAULT_PAGE,
        offset: int = 0,
    ) -> ReportPage:
        """One page of `get.call_legs_report`: one row per leg of a call session, in id order."""
        params = self._params(date_from, date_till, filter, fields, limit, offset, {})
        return self.page(CALL_LEGS_REPORT, params)

    def pages(self, fetch: Callable[..., ReportPage]) -> Iterator[ReportPage]:
        """Every page of a query, from offset 0 until `metadata.total_items`.

        `fetch` is `calls_report` or `call_legs_report` with the query's arguments bound
        (`functools.partial`); it is called with `offset=` for each page.
        """
        offset: int | None = 0
        while offset is not None:
            if offset > MAX_OFFSET:
                raise errors.InvalidParams(
                    "get.*",
                    "offset",
                    "invalid_parameter_value",
                    f"the report holds more rows than paging reaches (offset {MAX_OFFSET}): "
                    "narrow the dates or the filter",
                )
            page = fetch(offset=offset)
            yield page
            offset = page.next_offset

    def page(self, method: str, params: Mapping[str, Any]) -> ReportPage:
        """One `get.*` request, retried on transient errors; its rows and metadata."""
        reply = self._retried(method, dict(params))
        if not isinstance(reply.data, list) or not all(isinstance(r, dict) for r in reply.data):
            raise errors.BadReplyError(f"{method}: data is not a list of rows")
        offset = int(params.get("offset", 0))
        total = reply.total_items
        if total is None:
            # Without the total, a short page is the last one.
            full = len(reply.data) >= int(params.get("limit", DEFAULT_PAGE))
            total = offset + len(reply.data) + (1 if full else 0)
        return ReportPage(
            method=method,
            rows=list(reply.data),
            offset=offset,
            total_items=total,
            limits=reply.limits,
            request_id=reply.request_id,
        )

    # --- times in the account's zone -------------------------------------------------------------

    def format_time(self, moment: dt.datetime) -> str:
        """An aware datetime as the provider writes it: in the account's zone, to the second."""
        if moment.tzinfo is None:
            raise ValueError("report dates must be aware datetimes (with a time zone)")
        return moment.astimezone(self.zone).strftime(TIME_FORMAT)

    def parse_time(self, value: Any) -> dt.datetime | None:
        """A report time (`YYYY-MM-DD hh:mm:ss`, account zone) as aware UTC; None for null."""
        if value is None:
            return None
        try:
            local = dt.datetime.strptime(str(value), TIME_FORMAT)
        except ValueError:
            message = f"a report time is not YYYY-MM-DD hh:mm:ss: {value!r}"
            raise errors.BadReplyError(message) from None
        return local.replace(tzinfo=self.zone).astimezone(dt.UTC)

    # --- one request ---------------------------------------------------------------------------

    def _params(
        self,
        date_from: dt.datetime,
        date_till: dt.datetime,
        filter: Filter | None,
        fields: Sequence[str] | None,
        limit: int,
        offset: int,
        extra: Mapping[str, Any],
    ) -> dict[str, Any]:
        params: dict[str, Any] = {
            "date_from": self.format_time(date_from),
            "date_till": self.format_time(date_till),
        }
        if date_from > date_till:
            raise ValueError("date_from is after date_till")
        if not 1 <= limit <= MAX_PAGE:
            raise ValueError(f"limit must be 1..{MAX_PAGE}, got {limit}")
        if not 0 <= offset <= MAX_OFFSET:
            raise ValueError(f"offset must be 0..{MAX_OFFSET}, got {offset}")
        # Rows in id order, so that rows added between pages land after the last one.
        params.update(limit=limit, offset=offset, sort=list(BY_ID), **extra)
        if filter is not None:
            params["filter"] = filter.as_json()
        if fields is not None:
            params["fields"] = list(fields)
        return params

    def _retried(self, method: str, params: dict[str, Any]) -> Reply:
        if self._retrying is None:
            return self._rpc.request(method, params)
        return self._retrying.copy()(self._rpc.request, method, params)
