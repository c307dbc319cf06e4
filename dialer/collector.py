"""Outcome collection: each placed call's end, read from the provider's reports by our external_id.

    attempt placed ──(call ends; the report catches up)──▶ found: disposition stored, contact moved
          │                                                   (answered | redial | not_answered |
          │                                                    failed | campaign paused)
          ├──(an `unknown` attempt absent while later calls are listed)──▶ absent: no call was made
          └──(nothing found within DIALER_OUTCOME_TIMEOUT)──▶ expired: outcome stays unknown

A pass claims a batch of attempts whose outcome is still awaited (oldest poll first), asks for their
sessions in one request by `call_api_external_id in [...]` and for the contacts' legs in another,
and records each result with a conditional update, so any number of collectors may run at once:
a row is claimed by one pass at a time, and an outcome is written once.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import ColumnElement, Engine, or_, select, update

from dialer.db import transaction
from dialer.dispositions import disposition_of
from dialer.models import Attempt, AttemptOutcome, ReportStatus
from dialer.outcomes import CallEnd, record_absence, record_ends

log = logging.getLogger("dialer.collector")

# One `in` filter of this many external ids: two requests (sessions, legs) per batch.
BATCH = 2_000
# Report times are in the account's zone and our clock may be off: ask for a wide span around the
# requests; the external_id filter keeps the answer small whatever the span.
DATE_PADDING = dt.timedelta(days=1)
# How long after its request an `unknown` attempt must be before a listed later call proves that
# the report has caught up past it.
ABSENCE_MARGIN = dt.timedelta(minutes=1)


class ReportsUnavailable(Exception):
    """The reports cannot be read now: no points left, or no access at all (`permanent`)."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


@dataclass(frozen=True)
class ReportedCall:
    """One row of `get.calls_report`, as far as the dialer reads it."""

    call_session_id: int
    external_id: str
    finish_reason: str | None
    finished_at: dt.datetime | None
    talk_seconds: int | None
    total_seconds: int | None


@dataclass(frozen=True)
class ContactLeg:
    """The contact's leg of a call (`get.call_legs_report`, `is_operator = false`)."""

    call_session_id: int
    picked_up: bool
    listened_seconds: int | None


class CallReports(Protocol):
    """The reports a collector reads (the Data API, paced on its own budget)."""

    def find_calls(
        self, external_ids: Sequence[str], since: dt.datetime, until: dt.datetime
    ) -> list[ReportedCall]:
        """The finished calls with these external ids."""
        ...

    def contact_legs(
        self, call_session_ids: Sequence[int], since: dt.datetime, until: dt.datetime
    ) -> dict[int, ContactLeg]:
        """The contact's leg of each of these calls, by call_session_id."""
        ...

    def lists_calls_after(self, moment: dt.datetime, until: dt.datetime) -> bool:
        """True when the report already holds a call of the account that started after `moment`."""
        ...


@dataclass(frozen=True)
class _Awaited:
    attempt_id: int
    external_id: str
    requested_at: dt.datetime
    outcome: AttemptOutcome


@dataclass
class CollectResult:
    """What one collector pass did."""

    asked: int = 0
    found: int = 0
    absent: int = 0
    expired: int = 0
    recorded: list[int] = field(default_factory=list)


def collect(
    engine: Engine,
    reports: CallReports,
    now: dt.datetime,
    *,
    interval: float,
    timeout: float,
    batch: int = BATCH,
) -> CollectResult:
    """One pass: expire what waited too long, then ask the reports for one batch of attempts."""
    result = CollectResult(expired=expire(engine, now, timeout))
    while awaited := claim(engine, now, interval, batch):
        result.asked += len(awaited)
        try:
            _ask(engine, reports, awaited, now, result)
        except ReportsUnavailable as exc:
            if not exc.permanent:
                log.info("call reports not read now (asked again later): %s", exc)
                return result
            # Without report access the outcomes stay unknown; calls go on all the same.
            _say_once(f"call outcomes stay unknown: the account cannot read call reports ({exc})")
            result.expired += expire_now(engine, [a.attempt_id for a in awaited])
        if len(awaited) < batch:
            break
    return result


def _ask(
    engine: Engine,
    reports: CallReports,
    awaited: Sequence[_Awaited],
    now: dt.datetime,
    result: CollectResult,
) -> None:
    """Ask the reports about one batch and record what they say."""
    since = min(a.requested_at for a in awaited) - DATE_PADDING
    until = now + DATE_PADDING
    by_external_id = {a.external_id: a for a in awaited}
    calls = reports.find_calls(list(by_external_id), since, until)
    legs = reports.contact_legs([c.call_session_id for c in calls], since, until) if calls else {}
    ends: dict[int, CallEnd] = {}
    for call in calls:
        attempt = by_external_id.get(call.external_id)
        if attempt is None:
            continue  # a reply about an id we did not ask for: nothing to do with it
        leg = legs.get(call.call_session_id)
        picked_up = leg.picked_up if leg else None
        ends[attempt.attempt_id] = CallEnd(
            call_session_id=call.call_session_id,
            finish_reason=call.finish_reason,
            disposition=disposition_of(call.finish_reason, picked_up=picked_up),
            picked_up=picked_up,
            listened_seconds=leg.listened_seconds if leg else None,
            talk_seconds=call.talk_seconds,
            total_seconds=call.total_seconds,
            finished_at=call.finished_at,
        )
    recorded = record_ends(engine, ends, now)
    result.found += len(recorded)
    result.recorded.extend(recorded)
    found = {c.external_id for c in calls}
    result.absent += _settle_absent(engine, reports, awaited, found, now, until)


def claim(engine: Engine, now: dt.datetime, interval: float, batch: int) -> list[_Awaited]:
    """Take up to `batch` awaited attempts not asked about for `interval` seconds (oldest first).

    An attempt is first asked about `interval` seconds after its request: most calls have ended
    and been reported by then, so a batch is rarely asked for twice.
    """
    before = now - dt.timedelta(seconds=interval)
    with transaction(engine) as session:
        rows = session.execute(
            select(Attempt.id, Attempt.external_id, Attempt.requested_at, Attempt.outcome)
            .where(
                Attempt.report_status == ReportStatus.AWAITED,
                Attempt.requested_at <= before,
                or_(Attempt.report_asked_at.is_(None), Attempt.report_asked_at <= before),
            )
            .order_by(Attempt.report_asked_at.nulls_first(), Attempt.requested_at)
            .limit(batch)
            .with_for_update(skip_locked=True)
        ).all()
        awaited = [_Awaited(*row) for row in rows]
        if awaited:
            session.execute(
                update(Attempt)
                .where(Attempt.id.in_([a.attempt_id for a in awaited]))
                .values(report_asked_at=now)
            )
    return awaited


def expire(engine: Engine, now: dt.datetime, timeout: float) -> int:
    """Give up on attempts whose outcome did not appear within `timeout` seconds."""
    return _expire(engine, Attempt.requested_at <= now - dt.timedelta(seconds=timeout))


def expire_now(engine: Engine, attempt_ids: Sequence[int]) -> int:
    """Give up on these attempts' outcomes at once (the reports cannot be read)."""
    return _expire(engine, Attempt.id.in_(attempt_ids))


def _expire(engine: Engine, which: ColumnElement[bool]) -> int:
    """Mark the awaited attempts `which` selects as expired; how many there were."""
    with transaction(engine) as session:
        expired = session.execute(
            update(Attempt)
            .where(Attempt.report_status == ReportStatus.AWAITED, which)
            .values(report_status=ReportStatus.EXPIRED)
        )
        return int(getattr(expired, "rowcount", 0) or 0)


_said: set[str] = set()


def _say_once(message: str) -> None:
    """Log a warning the first time this process meets it."""
    if message not in _said:
        _said.add(message)
        log.warning(message)


def _settle_absent(
    engine: Engine,
    reports: CallReports,
    awaited: Sequence[_Awaited],
    found: set[str],
    now: dt.datetime,
    until: dt.datetime,
) -> int:
    """`unknown` attempts that the report proves were never made go back to their contacts."""
    missing = [
        a for a in awaited if a.outcome == AttemptOutcome.UNKNOWN and a.external_id not in found
    ]
    absent = 0
    for attempt in sorted(missing, key=lambda a: a.requested_at):
        if not reports.lists_calls_after(attempt.requested_at + ABSENCE_MARGIN, until):
            break  # the report has not caught up past this one, so not past the later ones either
        if record_absence(engine, attempt.attempt_id, now):
            absent += 1
    return absent
