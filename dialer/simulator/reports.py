"""The simulator's Data API v2.0: `get.calls_report` and `get.call_legs_report` over its calls.

A call shows in both reports `report_delay` seconds after it ended (with `include_ongoing_calls`,
`get.calls_report` also shows calls still in progress, without an end). Times are the account's
(`YYYY-MM-DD hh:mm:ss`); `date_from` / `date_till` select by the start time, at most 3 months
apart (else `date_interval_limit_reached`). Field selection and paging (`metadata.total_items`)
are here; filters and sorting in `dialer.simulator.query`.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dialer.simulator.account import ActiveCall
from dialer.simulator.outcomes import CallOutcomes
from dialer.simulator.query import Columns, compile_filter, sort_key
from dialer.simulator.refusals import Refusal

CALLS_REPORT = "get.calls_report"
CALL_LEGS_REPORT = "get.call_legs_report"
REPORT_METHODS = frozenset({CALLS_REPORT, CALL_LEGS_REPORT})
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
MAX_LIMIT = 10_000
MAX_OFFSET = 100_000
MAX_MONTHS = 3
SOURCES = {
    "start.informer_call": "callapi_informer_call",
    "start.scenario_call": "callapi_scenario_call",
    "start.employee_call": "callapi_management_call",
    "start.vnumber_call": "callapi_management_call",
    "start.simple_call": "callapi",
}


@dataclass(frozen=True)
class Report:
    """A `get.*` reply's rows and its `metadata.total_items`."""

    rows: list[dict[str, Any]]
    total_items: int


@dataclass(frozen=True)
class _Table(Columns):
    """One report's fields, which of them may be filtered and sorted, and its own params."""

    params: frozenset[str]


_COMMON_PARAMS = frozenset(
    {"access_token", "user_id", "limit", "offset", "filter", "sort", "fields"}
    | {"date_from", "date_till"}
)
TABLES = {
    CALLS_REPORT: _Table(
        fields=(
            "id",
            "call_api_external_id",
            "call_api_request_id",
            "start_time",
            "finish_time",
            "finish_reason",
            "is_lost",
            "direction",
            "source",
            "contact_phone_number",
            "virtual_phone_number",
            "wait_duration",
            "talk_duration",
            "clean_talk_duration",
            "total_duration",
        ),
        not_filterable=frozenset({"finish_time"}),
        params=_COMMON_PARAMS | {"include_ongoing_calls"},
    ),
    CALL_LEGS_REPORT: _Table(
        fields=(
            "id",
            "call_session_id",
            "start_time",
            "connect_time",
            "duration",
            "total_duration",
            "finish_reason",
            "is_operator",
            "is_failed",
            "is_talked",
            "direction",
            "virtual_phone_number",
            "calling_phone_number",
            "called_phone_number",
            "contact_phone_number",
            "employee_id",
        ),
        not_filterable=frozenset({"connect_time", "is_talked"}),
        params=_COMMON_PARAMS,
    ),
}


class Reports:
    """Answers the report methods from the account's calls; not thread-safe (the simulator
    holds its lock)."""

    def __init__(self, outcomes: CallOutcomes, account_timezone: str) -> None:
        self.outcomes = outcomes
        self.zone = zoneinfo.ZoneInfo(account_timezone)
        # A reported call never changes again: its rows are built once (method, session id).
        self._reported: dict[tuple[str, int], list[dict[str, Any]]] = {}

    def handle(
        self, method: str, params: Mapping[str, Any], now: float, calls: Sequence[ActiveCall]
    ) -> Report:
        """Carry out a report method over `calls`; raise a `Refusal` as the provider would."""
        table = TABLES[method]
        _check_known(params, table)
        since, until = self._dates(params)
        fields = _fields(params, table)
        match = compile_filter(params.get("filter"), table)
        order = sort_key(params.get("sort"), table)
        limit, offset = _paging(params)
        ongoing = params.get("include_ongoing_calls") is True
        rows = [
            row
            for call in calls
            if since <= call.started <= until
            for row in self._rows(method, call, now, ongoing)
            if match(row)
        ]
        rows.sort(key=order)
        page = rows[offset : offset + limit]
        return Report([{name: row.get(name) for name in fields} for row in page], len(rows))

    # --- rows --------------------------------------------------------------------------------

    def _rows(
        self, method: str, call: ActiveCall, now: float, ongoing: bool
    ) -> Iterable[dict[str, Any]]:
        if now >= call.ends_at + self.outcomes.report_delay:
            key = (method, call.call_session_id)
            rows = self._reported.get(key)
            if rows is None:
                legs = method == CALL_LEGS_REPORT
                rows = self._reported[key] = self._legs(call) if legs else [self._session(call)]
            return rows
        if ongoing and method == CALLS_REPORT and now < call.ends_at:
            return (self._ongoing(call, now),)
        return ()

    def _session(self, call: ActiveCall) -> dict[str, Any]:
        picked_up = self._picked_up(call)
        listened = _seconds(call.ends_at - picked_up) if picked_up is not None else 0
        # An informer call has no employee to talk to: the provider counts no talk time.
        talk = 0 if call.method == "start.informer_call" else listened
        return {
            **self._common(call),
            "id": call.call_session_id,
            "call_api_external_id": call.external_id,
            "call_api_request_id": call.request_id,
            "finish_time": self._time(call.ends_at),
            "finish_reason": self._finish_reason(call),
            "is_lost": picked_up is None,
            "source": SOURCES.get(call.method, "callapi"),
            "wait_duration": _seconds((picked_up or call.ends_at) - call.started),
            "talk_duration": talk,
            "clean_talk_duration": talk,
            "total_duration": _seconds(call.ends_at - call.started),
        }

    def _ongoing(self, call: ActiveCall, now: float) -> dict[str, Any]:
        return {
            **self._common(call),
            "id": call.call_session_id,
            "call_api_external_id": call.external_id,
            "call_api_request_id": call.request_id,
            "finish_time": None,
            "finish_reason": None,
            "is_lost": None,
            "source": SOURCES.get(call.method, "callapi"),
            "total_duration": _seconds(now - call.started),
        }

    def _legs(self, call: ActiveCall) -> list[dict[str, Any]]:
        picked_up = self._picked_up(call)
        total = _seconds(call.ends_at - call.started)
        legs = []
        for leg in call.legs:
            operator = bool(leg.get("is_operator"))
            connect = call.started if operator else picked_up
            legs.append(
                {
                    **self._common(call),
                    "id": leg.get("leg_id"),
                    "call_session_id": call.call_session_id,
                    "connect_time": None if connect is None else self._time(connect),
                    "duration": 0 if connect is None else _seconds(call.ends_at - connect),
                    "total_duration": total,
                    "finish_reason": "operator_disconnects"
                    if operator
                    else self._finish_reason(call),
                    "is_operator": operator,
                    "is_failed": connect is None,
                    "is_talked": connect is not None,
                    "calling_phone_number": leg.get("calling_phone_number"),
                    "called_phone_number": leg.get("called_phone_number"),
                    "employee_id": leg.get("employee_id"),
                }
            )
        return legs

    def _common(self, call: ActiveCall) -> dict[str, Any]:
        return {
            "start_time": self._time(call.started),
            "direction": call.direction,
            "contact_phone_number": call.contact_phone_number,
            "virtual_phone_number": call.virtual_phone_number,
        }

    def _picked_up(self, call: ActiveCall) -> float | None:
        """When the contact picked up, or None: a call released before then was never heard."""
        if call.ending is None or not call.ending.answered:
            return None
        moment = call.started + self.outcomes.answer_after
        return moment if moment < call.ends_at else None

    def _finish_reason(self, call: ActiveCall) -> str | None:
        return None if call.ending is None else call.ending.finish_reason

    def _time(self, moment: float) -> str:
        return dt.datetime.fromtimestamp(moment, self.zone).strftime(TIME_FORMAT)

    # --- params --------------------------------------------------------------------------------

    def _dates(self, params: Mapping[str, Any]) -> tuple[float, float]:
        since = self._date(params, "date_from")
        until = self._date(params, "date_till")
        if until > _add_months(since, MAX_MONTHS):
            raise Refusal.of("date_interval_limit_reached", field="date_till")
        return since.timestamp(), until.timestamp()

    def _date(self, params: Mapping[str, Any], name: str) -> dt.datetime:
        if name not in params:
            raise Refusal.of("required_parameter_missed", field=name)
        value = params[name]
        try:
            return dt.datetime.strptime(str(value), TIME_FORMAT).replace(tzinfo=self.zone)
        except ValueError:
            raise Refusal.of("invalid_parameter_value", field=name, value=value) from None


def _seconds(span: float) -> int:
    return max(0, round(span))


def _add_months(moment: dt.datetime, months: int) -> dt.datetime:
    month = moment.month - 1 + months
    year, month = moment.year + month // 12, month % 12 + 1
    for day in range(moment.day, 27, -1):  # the 31st of a shorter month is its last day
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    return moment.replace(year=year, month=month, day=min(moment.day, 28))


def _check_known(params: Mapping[str, Any], table: _Table) -> None:
    for name in params:
        if name not in table.params:
            raise Refusal.of("unexpected_parameters", field=str(name))
    ongoing = params.get("include_ongoing_calls")
    if ongoing is not None and not isinstance(ongoing, bool):
        raise Refusal.of("data_type_error", field="include_ongoing_calls", value=ongoing)


def _fields(params: Mapping[str, Any], table: _Table) -> tuple[str, ...]:
    fields = params.get("fields")
    if fields is None:
        return table.fields
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise Refusal.of("data_type_error", field="fields", value=fields)
    for name in fields:
        if name not in table.fields:
            raise Refusal.of("unexpected_parameters", field="fields", value=name)
    return tuple(fields)


def _paging(params: Mapping[str, Any]) -> tuple[int, int]:
    limit, offset = params.get("limit", 1000), params.get("offset", 0)
    for name, value, ceiling, floor in (
        ("limit", limit, MAX_LIMIT, 1),
        ("offset", offset, MAX_OFFSET, 0),
    ):
        if isinstance(value, bool) or not isinstance(value, int):
            raise Refusal.of("data_type_error", field=name, value=value)
        if not floor <= value <= ceiling:
            raise Refusal.of("invalid_parameter_value", field=name, value=value)
    return int(limit), int(offset)
