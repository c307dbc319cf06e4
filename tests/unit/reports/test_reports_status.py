"""The live status of a campaign, the time-to-finish estimate, and the campaign list."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from dialer.models import CampaignState, ContactStatus
from dialer.reports.status import (
    BudgetSeen,
    campaign_progress,
    campaign_status,
    estimate_seconds,
    format_duration,
)
from tests.unit.factories import T0, add_budget, add_campaign, add_contact, report_campaign

NOW = T0 + dt.timedelta(minutes=3)


def test_status_of_a_running_campaign(session: Session) -> None:
    status = campaign_status(session, report_campaign(session), now=NOW)
    assert status.state == "running"
    assert status.counts["pending"] == 2
    assert len(status.counts) == len(ContactStatus)
    assert (status.done, status.total, status.percent) == (6, 10, 60.0)
    # Seven calls since the start three minutes ago.
    assert status.recent_minutes == 3.0
    assert status.calls_per_minute == 2.33
    assert status.budget is not None
    assert status.budget.source == "attempt"
    assert status.budget.minute_limit == 60
    assert status.eta_basis == "recent rate"
    assert status.eta_seconds == pytest.approx(4 / 2.33 * 60, abs=0.1)
    assert {"name", "state", "counts"} <= set(status.as_dict())
    assert "6/10 (60.0%)" in status.line()


def test_the_budget_row_wins_over_attempt_limits(session: Session) -> None:
    campaign = report_campaign(session)
    add_budget(session, account="acct", minute_remaining=7, day_remaining=123)
    status = campaign_status(session, campaign, now=NOW, account="acct")
    assert status.budget is not None
    assert (status.budget.source, status.budget.minute_remaining) == ("budget", 7)
    assert status.as_dict()["budget"]["day_remaining"] == 123


def test_a_paused_campaign_says_why_and_has_no_estimate(session: Session) -> None:
    campaign = add_campaign(
        session, "stopped", CampaignState.PAUSED, pause_reason="virtual number unknown"
    )
    add_contact(session, campaign, "79260000001")
    status = campaign_status(session, campaign, now=NOW)
    assert status.pause_reason == "virtual number unknown"
    assert status.eta_seconds is None
    assert "virtual number unknown" in status.line()


def test_a_waiting_campaign_says_until_when(session: Session) -> None:
    campaign = add_campaign(
        session, "night", waiting_reason="calling window closed", waiting_until=NOW
    )
    status = campaign_status(session, campaign, now=NOW).as_dict()
    assert status["waiting_reason"] == "calling window closed"
    assert status["waiting_until"] == NOW.isoformat()
    assert status["eta_basis"] == "done"  # no contacts: nothing left


def _budget(minute_limit: int = 60, day_remaining: int = 100, day_limit: int = 1000) -> BudgetSeen:
    return BudgetSeen(
        minute_limit, 10, NOW, day_limit, day_remaining, NOW + dt.timedelta(hours=2), NOW, "budget"
    )


def test_estimate_by_budget_when_idle() -> None:
    assert estimate_seconds(30, 0.0, _budget(), NOW) == (30.0, "budget")
    assert estimate_seconds(30, 0.0, _budget(), NOW, cost=2) == (60.0, "budget")
    assert estimate_seconds(30, 0.0, None, NOW) == (None, None)
    assert estimate_seconds(0, 0.0, None, NOW) == (0.0, "done")


def test_estimate_waits_for_the_day_reset_when_today_is_spent() -> None:
    # 100 today, then 1000 tomorrow, then 900 more the day after: two hours + one day + 15 min.
    seconds, basis = estimate_seconds(2000, 30.0, _budget(), NOW)
    assert basis == "budget"
    assert seconds == 2 * 3600 + 86400 + 900 / 60 * 60


def test_format_duration() -> None:
    assert format_duration(40) == "40s"
    assert format_duration(432) == "7m 12s"
    assert format_duration(4 * 3600 + 300) == "4h 05m"
    assert format_duration(2 * 86400 + 3 * 3600) == "2d 3h"


def test_progress_of_every_campaign(session: Session) -> None:
    report_campaign(session)
    add_campaign(session, "empty", CampaignState.DRAFT)
    done = add_campaign(session, "done", CampaignState.COMPLETED)
    add_contact(session, done, "79260000001", ContactStatus.PLACED)
    progress = {p.name: p for p in campaign_progress(session)}
    assert (progress["spring"].done, progress["spring"].total) == (6, 10)
    assert progress["empty"].total == 0
    assert progress["done"].percent == 100.0
    assert progress["empty"].as_dict()["state"] == "draft"


def test_without_an_account_the_newest_budget_row_is_used(session: Session) -> None:
    campaign = add_campaign(session)
    add_budget(session, account="never-heard", observed_at=None, minute_remaining=1)
    add_budget(session, account="heard", minute_remaining=33)
    status = campaign_status(session, campaign, now=NOW)
    assert status.budget is not None
    assert status.budget.minute_remaining == 33
