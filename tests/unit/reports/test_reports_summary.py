"""The summary figures and the calls-per-minute series, from SQL aggregates."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from dialer.reports.summary import (
    STATUSES,
    calls_per_minute_series,
    campaign_summary,
    rate_per_minute,
)
from tests.unit.factories import T0, add_campaign, report_campaign


def test_summary_counts_every_status(session: Session) -> None:
    summary = campaign_summary(session, report_campaign(session))
    assert list(summary.counts) == list(STATUSES)
    assert summary.counts == {
        "pending": 2,
        "queued": 1,
        "dialing": 1,
        "placed": 1,
        "answered": 0,
        "not_answered": 0,
        "failed": 2,
        "blacklisted": 1,
        "unknown": 1,
        "cancelled": 1,
    }
    assert summary.total == 10
    assert summary.to_dial == 4
    assert summary.attempts == 7
    assert summary.errors == {"contact_not_allowed": 1, "invalid_contact": 1}
    assert summary.first_call_at == T0
    assert summary.last_call_at == T0 + dt.timedelta(minutes=2)
    # 7 calls over 2 minutes.
    assert summary.calls_per_minute == 3.5


def test_empty_campaign_has_zeros_and_no_rate(session: Session) -> None:
    summary = campaign_summary(session, add_campaign(session, "empty"))
    assert set(summary.counts.values()) == {0}
    assert summary.as_dict()["calls_per_minute"] is None
    assert summary.first_call_at is None


def test_series_groups_calls_by_minute_with_the_limit(session: Session) -> None:
    campaign = report_campaign(session)
    series = calls_per_minute_series(session, campaign.id)
    assert [p.minute for p in series] == [T0 + dt.timedelta(minutes=m) for m in range(3)]
    assert sum(p.calls for p in series) == 7
    assert {p.minute_limit for p in series} == {60}


def test_rate_counts_a_short_span_as_one_minute() -> None:
    assert rate_per_minute(5, T0, T0 + dt.timedelta(seconds=10)) == 5.0
    assert rate_per_minute(0, None, None) is None
