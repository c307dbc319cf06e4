"""The call reports a collector reads, from the Data API, each request paid from the Data API's
own points budget (never from the one that places calls).

`DataApiReports` turns the collector's three questions into `get.calls_report` and
`get.call_legs_report` queries by our `external_id`, one page per request, and says
`ReportsUnavailable` when the budget has no points now or the account cannot read reports.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Engine

from dialer import pacing
from dialer.callapi.dataapi import MAX_PAGE, DataApiClient, ReportPage
from dialer.callapi.errors import ApiError, CallApiError, DataApiAccessError, RateLimitError
from dialer.callapi.filters import Filter, all_of, at_least, equals, is_in
from dialer.callapi.limits import Limits
from dialer.collector import ContactLeg, ReportedCall, ReportsUnavailable
from dialer.db import utcnow

# The Data API's limits are documented apart from the Call API's; until its first reply says
# otherwise, assume a small account. Every Data API method weighs 1 point.
MINUTE_LIMIT_GUESS = 30
DAY_LIMIT_GUESS = 5_000
POINTS_PER_REQUEST = 1
MAX_IDS_PER_REQUEST = 2_000
_T = TypeVar("_T")


@dataclass(frozen=True)
class DataApiBudget:
    """The Data API's points budget, kept in its own row of the shared budget table."""

    account_key: str
    minute_limit_guess: int = MINUTE_LIMIT_GUESS
    day_limit_guess: int = DAY_LIMIT_GUESS
    window_seconds_guess: float = 60.0


class DataApiReports:
    """`dialer.collector.CallReports` read from the Data API, paced on its own budget."""

    def __init__(
        self,
        client: DataApiClient,
        engine: Engine,
        budget: DataApiBudget,
        now: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.client = client
        self.engine = engine
        self.budget = budget
        self.now = now
        self.requests = 0

    def find_calls(
        self, external_ids: Sequence[str], since: dt.datetime, until: dt.datetime
    ) -> list[ReportedCall]:
        """The finished calls with these external ids (`call_api_external_id in [...]`)."""
        calls: list[ReportedCall] = []
        for chunk in _chunks(external_ids):
            query = is_in("call_api_external_id", chunk)
            for row in self._rows(self.client.calls_report, since, until, query, len(chunk)):
                if row.get("finish_time") is not None:
                    calls.append(self._call(row))
        return calls

    def contact_legs(
        self, call_session_ids: Sequence[int], since: dt.datetime, until: dt.datetime
    ) -> dict[int, ContactLeg]:
        """The contact's leg (`is_operator = false`) of each call, by call_session_id."""
        legs: dict[int, ContactLeg] = {}
        for chunk in _chunks(call_session_ids):
            query = all_of(is_in("call_session_id", chunk), equals("is_operator", False))
            for row in self._rows(self.client.call_legs_report, since, until, query, len(chunk)):
                leg = self._leg(row)
                # A call can ring the contact more than once; the leg that was picked up counts.
                known = legs.get(leg.call_session_id)
                if known is None or (leg.picked_up and not known.picked_up):
                    legs[leg.call_session_id] = leg
        return legs

    def lists_calls_after(self, moment: dt.datetime, until: dt.datetime) -> bool:
        """True when the report already holds a call of the account that started after `moment`."""
        query = at_least("start_time", self.client.format_time(moment))
        page = self._page(self.client.calls_report, moment, until, query, 1)
        return bool(page.rows)

    # --- paging, paid for ---------------------------------------------------------------------

    def _rows(
        self,
        report: Callable[..., ReportPage],
        since: dt.datetime,
        until: dt.datetime,
        query: Filter,
        expected: int,
    ) -> Iterator[dict[str, Any]]:
        # The client's own paging, each page paid for from the Data API's budget.
        paid = functools.partial(self._page, report, since, until, query, expected)
        for page in self.client.pages(paid):
            yield from page.rows

    def _page(
        self,
        report: Callable[..., ReportPage],
        since: dt.datetime,
        until: dt.datetime,
        query: Filter,
        expected: int,
        offset: int = 0,
    ) -> ReportPage:
        reservation = pacing.take(self.engine, self.budget, POINTS_PER_REQUEST, self.now())
        if not reservation.granted:
            raise ReportsUnavailable(f"no Data API points until {reservation.wait_until:%H:%M:%S}")
        self.requests += 1
        try:
            limit = min(max(expected, 1), MAX_PAGE)
            page = report(since, until, filter=query, limit=limit, offset=offset)
        except RateLimitError as exc:
            self._settle(exc.limits)
            raise ReportsUnavailable(f"Data API limit_exceeded: {exc.message}") from exc
        except DataApiAccessError as exc:
            self._settle(exc.limits, refund=reservation)
            raise ReportsUnavailable(str(exc), permanent=True) from exc
        except CallApiError as exc:
            self._settle(exc.limits if isinstance(exc, ApiError) else None, refund=reservation)
            raise ReportsUnavailable(str(exc)) from exc
        self._settle(page.limits)
        return page

    def _settle(self, limits: Limits | None, refund: pacing.Reservation | None = None) -> None:
        refund_of = (POINTS_PER_REQUEST, refund) if refund is not None else None
        pacing.settle(self.engine, self.budget, self.now(), limits, refund_of)

    # --- rows ---------------------------------------------------------------------------------

    def _call(self, row: dict[str, Any]) -> ReportedCall:
        return ReportedCall(
            call_session_id=int(row["id"]),
            external_id=str(row.get("call_api_external_id") or ""),
            finish_reason=_text(row.get("finish_reason")),
            finished_at=self.client.parse_time(row.get("finish_time")),
            talk_seconds=_seconds(row.get("talk_duration")),
            total_seconds=_seconds(row.get("total_duration")),
        )

    def _leg(self, row: dict[str, Any]) -> ContactLeg:
        picked_up = row.get("connect_time") is not None
        return ContactLeg(
            call_session_id=int(row["call_session_id"]),
            picked_up=picked_up,
            listened_seconds=_seconds(row.get("duration")) if picked_up else None,
        )


def _chunks(items: Sequence[_T]) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), MAX_IDS_PER_REQUEST):
        yield items[start : start + MAX_IDS_PER_REQUEST]


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _seconds(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)
