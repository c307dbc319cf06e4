"""The time to finish from the rate, the pace cap, the budget and the calling windows; a smoothed
rate; and the status as `dialer campaign show` prints it."""

from __future__ import annotations

import datetime as dt
import json
import re
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dialer.config import get_settings
from dialer.db import transaction
from dialer.models import Campaign, CampaignState, ContactStatus, ReportStatus
from dialer.options import CampaignOptions, Pace, Window
from dialer.reports.messages import Lang, Texts
from dialer.reports.status import (
    BudgetSeen,
    campaign_progress,
    campaign_status,
    estimate_seconds,
    through_windows,
)
from tests.unit.factories import T0, add_attempt, add_budget, add_campaign, add_contact
from tests.unit.reports.conftest import Invoke

MSK = "Europe/Moscow"
OFFICE = Window(timezone=MSK, days=(0, 1, 2, 3, 4), hours=((9 * 60, 18 * 60),))
# 2026-03-02 is a Monday; 20:00 UTC is 23:00 in Moscow, after the window closed.
EVENING = dt.datetime(2026, 3, 2, 20, 0, tzinfo=dt.UTC)
NEXT_MORNING = dt.datetime(2026, 3, 3, 6, 0, tzinfo=dt.UTC)  # 09:00 MSK


def _campaign(session: Session, name: str, contacts: int, **options: object) -> Campaign:
    campaign = add_campaign(session, name, started_at=T0)
    campaign.options = CampaignOptions(**options).to_json()  # type: ignore[arg-type]
    for n in range(contacts):
        add_contact(session, campaign, f"7926{n:07d}")
    session.flush()
    return campaign


def test_the_pace_cap_bounds_the_estimate() -> None:
    assert estimate_seconds(30, None, None, T0, pace=10) == (180.0, "pace")
    budget = BudgetSeen(60, 60, T0, 1000, 1000, T0 + dt.timedelta(hours=5), T0, "budget")
    assert estimate_seconds(30, None, budget, T0, pace=10) == (180.0, "pace")
    # The budget is lower than the pace: the budget decides.
    assert estimate_seconds(30, None, budget, T0, pace=100) == (30.0, "budget")
    assert estimate_seconds(0, None, None, T0, pace=10) == (0.0, "done")


def test_work_is_laid_over_the_open_hours() -> None:
    # Two hours of calling from 17:00 MSK: one hour today, one tomorrow from 09:00.
    five_pm = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)
    assert through_windows(7200, OFFICE, MSK, five_pm) == NEXT_MORNING + dt.timedelta(hours=1)
    # On Friday evening, the next opening is Monday.
    friday = dt.datetime(2026, 3, 6, 20, 0, tzinfo=dt.UTC)
    assert through_windows(60, OFFICE, MSK, friday) == dt.datetime(2026, 3, 9, 6, 1, tzinfo=dt.UTC)
    assert through_windows(60, Window(days=()), MSK, friday) is None


def test_a_closed_window_says_when_it_opens_and_counts_the_night(session: Session) -> None:
    campaign = _campaign(session, "night", 60, window=OFFICE, pace=Pace(calls_per_minute=30))
    status = campaign_status(session, campaign, now=EVENING)
    assert status.window_opens_at == NEXT_MORNING
    assert status.eta_in_windows
    assert status.eta_basis == "pace"
    # Ten hours of night, then two minutes of calls at 30 a minute.
    assert status.eta_seconds == (NEXT_MORNING - EVENING).total_seconds() + 120
    assert "waiting for the window at 2026-03-03 09:00 MSK" in status.line()
    assert status.as_dict()["window_opens_at"] == "2026-03-03T06:00:00+00:00"


def test_an_open_window_is_not_waited_for(session: Session) -> None:
    campaign = _campaign(session, "day", 30, window=OFFICE, pace=Pace(calls_per_minute=30))
    status = campaign_status(session, campaign, now=NEXT_MORNING + dt.timedelta(hours=1))
    assert status.window_opens_at is None
    assert status.eta_seconds == 60.0


def test_the_rate_waits_for_a_minute_of_calls(session: Session) -> None:
    campaign = _campaign(session, "burst", 0)
    contact = add_contact(session, campaign, "79260000001")
    for n in range(10):  # ten calls in five seconds
        add_attempt(session, contact, T0 + dt.timedelta(seconds=n / 2))
    early = campaign_status(session, campaign, now=T0 + dt.timedelta(seconds=5))
    assert early.calls_per_minute is None
    assert "…/min" in early.line()
    later = campaign_status(session, campaign, now=T0 + dt.timedelta(seconds=77))
    assert later.calls_per_minute == pytest.approx(10 / (77 / 60), abs=0.01)


def test_a_cancelled_campaign_shows_what_it_got_to(session: Session) -> None:
    campaign = add_campaign(session, "stopped", CampaignState.CANCELLED)
    add_contact(session, campaign, "79260000001", ContactStatus.PLACED)
    for n in range(2, 5):
        add_contact(session, campaign, f"7926000000{n}", ContactStatus.CANCELLED)
    assert campaign_status(session, campaign, now=T0).percent == 25.0
    progress = {p.name: p for p in campaign_progress(session)}
    assert (progress["stopped"].done, progress["stopped"].percent) == (1, 25.0)


@pytest.fixture
def shown(sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """A database with a paused campaign, one waiting for a retry, one cancelled, one at night."""
    monkeypatch.setenv("DIALER_DATABASE_URL", str(sqlite_engine.url))
    with transaction(sqlite_engine) as session:
        add_campaign(session, "held", CampaignState.PAUSED, pause_reason="paused by an operator")
        add_campaign(
            session,
            "later",
            waiting_reason="waiting: retry delay",
            waiting_until=T0 + dt.timedelta(minutes=10),
        )
        stopped = add_campaign(session, "stopped", CampaignState.CANCELLED)
        add_contact(session, stopped, "79260000001", ContactStatus.CANCELLED)
        # Every day for an hour that starts two hours from now in Moscow: closed now.
        start = (dt.datetime.now(ZoneInfo(MSK)).hour + 2) % 24 * 60
        later_today = Window(timezone=MSK, hours=((start, start + 60),))
        _campaign(session, "tonight", 5, window=later_today, pace=Pace(calls_per_minute=5))
    return sqlite_engine


def test_campaign_show_says_each_thing_once(shown: Engine, cli: Invoke) -> None:
    held = cli(["campaign", "show", "held"])
    assert held.exit_code == 0, held.output
    assert "State: paused\n" in held.output
    assert "Paused because: paused by an operator" in held.output
    assert "(paused:" not in held.output
    later = cli(["campaign", "show", "later"])
    assert "Waiting: retry delay until 2026-03-02 12:10:00 MSK" in later.output
    assert "waiting: waiting" not in later.output.lower()
    stopped = cli(["campaign", "show", "stopped"])
    assert "0/1 (0.0%)" in stopped.output
    assert "100.0%" not in stopped.output
    listed = cli(["campaign", "list"]).output.splitlines()
    assert next(x for x in listed if x.startswith("stopped")).split() == [
        "stopped",
        "cancelled",
        "0/1",
        "(0.0%)",
    ]


def test_campaign_show_names_the_window_and_the_zone(shown: Engine, cli: Invoke) -> None:
    result = cli(["campaign", "show", "tonight"])
    assert result.exit_code == 0, result.output
    opens = (dt.datetime.now(ZoneInfo(MSK)).hour + 2) % 24
    # Tomorrow's date is named when the opening is not today in Moscow.
    said = rf"Waiting: the calling window opens at (\d{{4}}-\d\d-\d\d )?{opens:02d}:00 MSK\n"
    assert re.search(said, result.output), result.output
    assert "(at the campaign's pace cap, calling windows included)" in result.output
    assert "Times in Europe/Moscow (MSK)" in result.output
    ru = cli(["campaign", "show", "tonight", "--lang", "ru"])
    assert "Время: Europe/Moscow (MSK)" in ru.output
    assert "Состояние: идёт" in ru.output
    assert re.search(rf"Ожидание: окно звонков откроется в (\S+ )?{opens:02d}:00 MSK\n", ru.output)
    assert "(по ограничению темпа кампании, с учётом окон звонков)" in ru.output


def test_campaign_show_json_keeps_iso_with_offsets(shown: Engine, cli: Invoke) -> None:
    result = cli(["campaign", "show", "later", "--json"])
    shown_json = json.loads(result.output)
    assert shown_json["waiting_until"] == "2026-03-02T09:10:00+00:00"
    assert shown_json["timezone"] == MSK


def test_a_burst_faster_than_the_cap_or_the_budget_does_not_shorten_the_estimate() -> None:
    budget = BudgetSeen(20, 20, T0, 1000, 1000, T0 + dt.timedelta(hours=5), T0, "budget")
    # 60 calls a minute measured, but the pace cap allows 10: the cap decides.
    assert estimate_seconds(30, 60.0, None, T0, pace=10) == (180.0, "pace")
    # ... and without a cap, the budget's 20 points a minute.
    assert estimate_seconds(30, 60.0, budget, T0) == (90.0, "budget")
    # A slower measured rate (few workers) is the truth.
    assert estimate_seconds(30, 5.0, budget, T0, pace=10) == (360.0, "recent rate")


def test_the_run_line_in_russian_names_the_window_and_the_time_to_finish(
    session: Session,
) -> None:
    campaign = _campaign(session, "night", 60, window=OFFICE, pace=Pace(calls_per_minute=30))
    line = campaign_status(session, campaign, now=EVENING).line(Texts(Lang.RU))
    assert line.startswith("night: идёт 0/60 (0.0%) звонков 0 ответили 0 не ответили 0 ")
    assert " до конца 10ч 02м " in line
    assert line.endswith("[ждёт окна звонков в 2026-03-03 09:00 MSK]")


def test_a_run_past_its_last_call_says_it_waits_for_call_results(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch, cli: Invoke
) -> None:
    monkeypatch.setenv("DIALER_DATABASE_URL", str(sqlite_engine.url))
    with transaction(sqlite_engine) as session:
        campaign = add_campaign(session, "tail", started_at=T0)
        for n in range(3):
            contact = add_contact(session, campaign, f"7926000000{n}", ContactStatus.PLACED)
            add_attempt(session, contact, report_status=ReportStatus.AWAITED)
        # The dialer's own guess: the provider has not answered yet.
        add_budget(session, get_settings().account_key, observed_at=None)

    shown = cli(["campaign", "show", "tail"])
    assert shown.exit_code == 0, shown.output
    assert "Waiting: 3 call results from the provider's reports\n" in shown.output
    assert "Time to finish" not in shown.output
    assert "(the dialer's guess until the provider answers)" in shown.output
    ru = cli(["campaign", "show", "tail", "--lang", "ru"])
    assert "Ожидание: итоги 3 звонков из отчётов провайдера\n" in ru.output
    with transaction(sqlite_engine) as session:
        status = campaign_status(session, session.scalars(select(Campaign)).one())
    assert status.line().endswith("[waiting for 3 call results from the provider's reports]")
    assert status.as_dict()["results_awaited"] == 3
