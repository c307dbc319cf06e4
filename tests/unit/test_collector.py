"""Outcome collection against scripted reports: each disposition moves its contact as the table
says, an outcome is written once, `unknown` attempts are settled, and old ones expire."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pytest
from sqlalchemy import Engine, select

from dialer.collector import ContactLeg, ReportedCall, ReportsUnavailable, collect
from dialer.db import transaction
from dialer.dispositions import Disposition
from dialer.models import (
    Attempt,
    AttemptOutcome,
    Campaign,
    CampaignState,
    Contact,
    ContactStatus,
    ReportStatus,
)
from dialer.options import CampaignOptions, Retry
from tests.unit.factories import T0, add_attempt, add_campaign, add_contact

HOUR = 3600.0


class ScriptedReports:
    """Reports that list the calls they were given, and count what was asked."""

    def __init__(self) -> None:
        self.calls: dict[str, ReportedCall] = {}
        self.legs: dict[int, ContactLeg] = {}
        self.latest_start: dt.datetime | None = None
        self.requests = 0

    def end(self, external_id: str, reason: str, *, picked_up: bool, listened: int = 0) -> None:
        session_id = 1000 + len(self.calls)
        self.calls[external_id] = ReportedCall(
            session_id, external_id, reason, T0 + dt.timedelta(seconds=40), 0, 40
        )
        self.legs[session_id] = ContactLeg(session_id, picked_up, listened if picked_up else None)

    def find_calls(
        self, external_ids: Sequence[str], since: dt.datetime, until: dt.datetime
    ) -> list[ReportedCall]:
        self.requests += 1
        return [self.calls[e] for e in external_ids if e in self.calls]

    def contact_legs(
        self, call_session_ids: Sequence[int], since: dt.datetime, until: dt.datetime
    ) -> dict[int, ContactLeg]:
        self.requests += 1
        return {i: self.legs[i] for i in call_session_ids if i in self.legs}

    def lists_calls_after(self, moment: dt.datetime, until: dt.datetime) -> bool:
        self.requests += 1
        return self.latest_start is not None and self.latest_start > moment


def _setup(
    engine: Engine,
    *,
    retry: Retry | None = None,
    status: ContactStatus = ContactStatus.PLACED,
    outcome: AttemptOutcome = AttemptOutcome.PLACED,
    rounds: int = 1,
    name: str = "spring",
) -> tuple[int, str]:
    """A running campaign with one contact whose attempt's call is awaited."""
    options = CampaignOptions(retry=retry or Retry()).to_json()
    with transaction(engine) as session:
        campaign = add_campaign(session, name=name)
        campaign.options = options
        contact = add_contact(session, campaign, "79260000001", status=status, rounds=rounds)
        attempt = add_attempt(session, contact, outcome=outcome, report_status=ReportStatus.AWAITED)
        return contact.id, attempt.external_id


def _collect(engine: Engine, reports: ScriptedReports, at: float = 120.0) -> None:
    collect(engine, reports, T0 + dt.timedelta(seconds=at), interval=60.0, timeout=6 * HOUR)


def _contact(engine: Engine, contact_id: int) -> Contact:
    with transaction(engine) as session:
        return session.get_one(Contact, contact_id)


def _attempts(engine: Engine) -> list[Attempt]:
    with transaction(engine) as session:
        return list(session.scalars(select(Attempt).order_by(Attempt.id)))


def test_an_answered_call_is_final_with_seconds_listened(sqlite_engine: Engine) -> None:
    contact_id, ext = _setup(sqlite_engine)
    reports = ScriptedReports()
    reports.end(ext, "subscriber_disconnects", picked_up=True, listened=17)
    _collect(sqlite_engine, reports)
    assert _contact(sqlite_engine, contact_id).status == ContactStatus.ANSWERED
    (attempt,) = _attempts(sqlite_engine)
    assert attempt.report_status == ReportStatus.FOUND
    assert attempt.disposition == Disposition.ANSWERED
    assert attempt.finish_reason == "subscriber_disconnects"
    assert (attempt.call_answered, attempt.listened_seconds, attempt.total_duration) == (
        True,
        17,
        40,
    )
    assert reports.requests == 2  # one for the sessions, one for the contact legs


def test_busy_is_redialed_after_the_busy_delay_when_rounds_are_left(sqlite_engine: Engine) -> None:
    contact_id, ext = _setup(sqlite_engine, retry=Retry(rounds=3, busy=900.0))
    reports = ScriptedReports()
    reports.end(ext, "caller_busy", picked_up=False)
    _collect(sqlite_engine, reports)
    contact = _contact(sqlite_engine, contact_id)
    assert contact.status == ContactStatus.PENDING
    # The delay counts from when the result was read (here 120 s in).
    assert contact.next_attempt_at == T0 + dt.timedelta(seconds=120 + 900)


@pytest.mark.parametrize(
    ("retry", "rounds"),
    [(Retry(rounds=3), 1), (Retry(rounds=2, no_answer=7200.0), 2)],
    ids=["no redial set", "no rounds left"],
)
def test_no_answer_without_a_redial_is_not_answered(
    sqlite_engine: Engine, retry: Retry, rounds: int
) -> None:
    contact_id, ext = _setup(sqlite_engine, retry=retry, rounds=rounds)
    reports = ScriptedReports()
    reports.end(ext, "subscriber_not_responsible", picked_up=False)
    _collect(sqlite_engine, reports)
    contact = _contact(sqlite_engine, contact_id)
    assert contact.status == ContactStatus.NOT_ANSWERED
    assert contact.error_mnemonic == "subscriber_not_responsible"


def test_a_bad_number_fails(sqlite_engine: Engine) -> None:
    contact_id, ext = _setup(sqlite_engine, retry=Retry(rounds=3, busy=60.0, no_answer=60.0))
    reports = ScriptedReports()
    reports.end(ext, "subscriber_number_problems", picked_up=False)
    _collect(sqlite_engine, reports)
    assert _contact(sqlite_engine, contact_id).status == ContactStatus.FAILED


def test_a_campaign_error_pauses_the_campaign_and_gives_the_round_back(
    sqlite_engine: Engine,
) -> None:
    contact_id, ext = _setup(sqlite_engine)
    reports = ScriptedReports()
    reports.end(ext, "not_enough_money", picked_up=False)
    _collect(sqlite_engine, reports)
    contact = _contact(sqlite_engine, contact_id)
    assert (contact.status, contact.rounds) == (ContactStatus.PENDING, 0)
    with transaction(sqlite_engine) as session:
        campaign = session.scalars(select(Campaign)).one()
    assert campaign.state == CampaignState.PAUSED
    assert campaign.pause_reason is not None
    assert "not_enough_money" in campaign.pause_reason


def test_a_provider_error_is_redialed_after_the_delays(sqlite_engine: Engine) -> None:
    contact_id, ext = _setup(sqlite_engine, retry=Retry(rounds=3, delays=(300.0,)))
    reports = ScriptedReports()
    reports.end(ext, "no_resources", picked_up=False)
    _collect(sqlite_engine, reports)
    contact = _contact(sqlite_engine, contact_id)
    assert contact.status == ContactStatus.PENDING
    assert contact.next_attempt_at == T0 + dt.timedelta(seconds=120 + 300)


def test_an_unknown_reason_is_kept_raw_as_other(sqlite_engine: Engine) -> None:
    contact_id, ext = _setup(sqlite_engine)
    reports = ScriptedReports()
    reports.end(ext, "reason_from_the_future", picked_up=False)
    _collect(sqlite_engine, reports)
    (attempt,) = _attempts(sqlite_engine)
    assert (attempt.disposition, attempt.finish_reason) == (
        Disposition.OTHER,
        "reason_from_the_future",
    )
    assert _contact(sqlite_engine, contact_id).status == ContactStatus.PLACED


def test_an_outcome_is_written_once_and_asked_for_once_per_interval(sqlite_engine: Engine) -> None:
    contact_id, ext = _setup(sqlite_engine, retry=Retry(rounds=3, busy=60.0))
    reports = ScriptedReports()
    _collect(sqlite_engine, reports, at=100.0)  # not in the report yet
    assert reports.requests == 1
    _collect(sqlite_engine, reports, at=130.0)  # asked 30 s ago: not asked again
    assert reports.requests == 1
    reports.end(ext, "subscriber_busy", picked_up=False)
    _collect(sqlite_engine, reports, at=160.0)
    _collect(sqlite_engine, reports, at=300.0)  # found already: nothing left to ask
    assert reports.requests == 3
    contact = _contact(sqlite_engine, contact_id)
    assert contact.status == ContactStatus.PENDING


def test_an_unknown_attempt_found_in_the_report_was_placed(sqlite_engine: Engine) -> None:
    contact_id, ext = _setup(
        sqlite_engine, status=ContactStatus.UNKNOWN, outcome=AttemptOutcome.UNKNOWN
    )
    reports = ScriptedReports()
    reports.end(ext, "success_finish", picked_up=True, listened=30)
    _collect(sqlite_engine, reports)
    (attempt,) = _attempts(sqlite_engine)
    assert attempt.outcome == AttemptOutcome.PLACED
    assert attempt.call_session_id is not None
    assert _contact(sqlite_engine, contact_id).status == ContactStatus.ANSWERED


def test_an_unknown_attempt_is_absent_only_once_later_calls_are_listed(
    sqlite_engine: Engine,
) -> None:
    contact_id, _ = _setup(
        sqlite_engine, status=ContactStatus.UNKNOWN, outcome=AttemptOutcome.UNKNOWN
    )
    reports = ScriptedReports()
    _collect(sqlite_engine, reports, at=100.0)
    assert _contact(sqlite_engine, contact_id).status == ContactStatus.UNKNOWN  # no proof yet
    reports.latest_start = T0 + dt.timedelta(minutes=5)
    _collect(sqlite_engine, reports, at=200.0)
    contact = _contact(sqlite_engine, contact_id)
    assert contact.status == ContactStatus.PENDING
    (attempt,) = _attempts(sqlite_engine)
    assert attempt.report_status == ReportStatus.ABSENT


def test_an_outcome_not_found_in_time_expires_and_the_contact_stays_placed(
    sqlite_engine: Engine,
) -> None:
    contact_id, _ = _setup(sqlite_engine)
    reports = ScriptedReports()
    _collect(sqlite_engine, reports, at=7 * HOUR)
    (attempt,) = _attempts(sqlite_engine)
    assert attempt.report_status == ReportStatus.EXPIRED
    assert _contact(sqlite_engine, contact_id).status == ContactStatus.PLACED
    assert reports.requests == 0


def test_a_thousand_calls_take_two_requests_per_batch(sqlite_engine: Engine) -> None:
    reports = ScriptedReports()
    with transaction(sqlite_engine) as session:
        campaign = add_campaign(session)
        for i in range(1000):
            contact = add_contact(session, campaign, f"7926{i:07d}", status=ContactStatus.PLACED)
            attempt = add_attempt(session, contact, report_status=ReportStatus.AWAITED)
            reports.end(attempt.external_id, "success_finish", picked_up=True, listened=5)
    result = collect(
        sqlite_engine, reports, T0 + dt.timedelta(minutes=2), interval=60, timeout=HOUR, batch=1000
    )
    assert (result.asked, result.found) == (1000, 1000)
    assert reports.requests == 2


class UnreadableReports(ScriptedReports):
    """Reports that cannot be read: for now (`permanent=False`) or at all."""

    def __init__(self, *, permanent: bool) -> None:
        super().__init__()
        self.permanent = permanent

    def find_calls(
        self, external_ids: Sequence[str], since: dt.datetime, until: dt.datetime
    ) -> list[ReportedCall]:
        self.requests += 1
        raise ReportsUnavailable("component_is_inactive", permanent=self.permanent)


def test_reports_out_of_points_leave_the_outcome_awaited(sqlite_engine: Engine) -> None:
    contact_id, _ = _setup(sqlite_engine)
    _collect(sqlite_engine, UnreadableReports(permanent=False))
    (attempt,) = _attempts(sqlite_engine)
    assert attempt.report_status == ReportStatus.AWAITED
    assert _contact(sqlite_engine, contact_id).status == ContactStatus.PLACED


def test_no_report_access_leaves_outcomes_unknown_and_says_so_once(
    sqlite_engine: Engine, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("dialer.collector._said", set())
    contact_id, _ = _setup(sqlite_engine)
    _collect(sqlite_engine, UnreadableReports(permanent=True))
    (attempt,) = _attempts(sqlite_engine)
    assert attempt.report_status == ReportStatus.EXPIRED  # the campaign can complete
    assert _contact(sqlite_engine, contact_id).status == ContactStatus.PLACED
    _setup(sqlite_engine, name="autumn")
    _collect(sqlite_engine, UnreadableReports(permanent=True))
    warnings = [r for r in caplog.records if "cannot read call reports" in r.getMessage()]
    assert len(warnings) == 1
