"""Call outcomes in every report, through the command line, read back as a user opens them: the
CSV parsed, the JSON loaded, the xlsx read with openpyxl, the HTML's charts; `dialer call show`
and the progress lines of `dialer run` and `dialer campaign show`."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dialer.db import transaction
from dialer.models import Campaign
from dialer.reports.calls import with_attempts
from dialer.reports.messages import Lang, Texts
from dialer.reports.outcome_charts import answered_rate_chart, bucket_size
from dialer.reports.rows import iter_contact_rows
from dialer.reports.status import campaign_status
from dialer.reports.summary import campaign_summary, outcomes_per_minute_series
from dialer.reports.zone import ShownZone
from tests.unit.factories import T0, add_call, add_contact, outcome_campaign
from tests.unit.reports.conftest import Invoke

DISPOSITIONS = {
    "answered": 2,
    "busy": 1,
    "no_answer": 1,
    "bad_number": 1,
    "blocked": 0,
    "campaign_error": 0,
    "provider_error": 0,
    "other": 0,
}


@pytest.fixture
def outcomes(sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """The settings point at a SQLite file holding the outcome campaign `autumn`."""
    monkeypatch.setenv("DIALER_DATABASE_URL", str(sqlite_engine.url))
    with transaction(sqlite_engine) as session:
        outcome_campaign(session)
    return sqlite_engine


def _csv(path: Path, delimiter: str = ",") -> dict[str, dict[str, str]]:
    text = path.read_bytes().decode("utf-8-sig")
    return {r["phone"][-1]: r for r in csv.DictReader(io.StringIO(text), delimiter=delimiter)}


def test_csv_has_the_outcome_columns(outcomes: Engine, tmp_path: Path, cli: Invoke) -> None:
    target = tmp_path / "r.csv"
    result = cli(["report", "autumn", "-f", "csv", "-o", str(target)])
    assert result.exit_code == 0, result.output
    rows = _csv(target)
    picked = {
        k: (r["disposition"], r["finish_reason"], r["listened_seconds"], r["calls"])
        for k, r in rows.items()
    }
    assert picked == {
        "1": ("answered", "success_finish", "42", "2"),
        "2": ("no_answer", "no_success_subscriber_call", "0", "2"),
        "3": ("bad_number", "subscriber_number_problems", "0", "1"),
        "4": ("answered", "caller_disconnects", "15", "1"),
        # The newest call awaits its report: the last known result stands meanwhile.
        "5": ("busy", "subscriber_busy", "0", "2"),
        "6": ("", "", "", "0"),
    }


def test_excel_ru_csv_has_the_outcome_columns(
    outcomes: Engine, tmp_path: Path, cli: Invoke
) -> None:
    target = tmp_path / "r.csv"
    result = cli(["report", "autumn", "-f", "csv", "--dialect", "excel-ru", "-o", str(target)])
    assert result.exit_code == 0, result.output
    first = _csv(target, ";")["1"]
    assert (first["disposition"], first["listened_seconds"], first["calls"]) == (
        "answered",
        "42",
        "2",
    )


def test_json_has_each_contacts_calls_with_their_own_outcome(
    outcomes: Engine, tmp_path: Path, cli: Invoke
) -> None:
    target = tmp_path / "r.json"
    result = cli(["report", "autumn", "-f", "json", "-o", str(target)])
    assert result.exit_code == 0, result.output
    report = json.loads(target.read_text("utf-8"))
    contacts = {c["phone"][-1]: c for c in report["contacts"]}
    first = contacts["1"]
    assert (first["disposition"], first["finish_reason"], first["calls"]) == (
        "answered",
        "success_finish",
        2,
    )
    busy, answered = first["attempts"]
    assert (busy["disposition"], busy["answered"], busy["finish_reason"]) == (
        "busy",
        False,
        "subscriber_busy",
    )
    assert answered == {
        "external_id": answered["external_id"],
        "call_session_id": answered["call_session_id"],
        "requested_at": "2026-03-02T10:05:00+00:00",
        "outcome": "placed",
        "report_status": "found",
        "disposition": "answered",
        "finish_reason": "success_finish",
        "answered": True,
        "listened_seconds": 42,
        "talk_duration": 42,
        "total_duration": 62,
        "finished_at": "2026-03-02T10:06:02+00:00",
    }
    assert isinstance(answered["call_session_id"], int)
    awaited = contacts["5"]["attempts"][-1]
    assert (awaited["report_status"], awaited["disposition"], awaited["answered"]) == (
        "awaited",
        None,
        None,
    )
    assert contacts["6"]["attempts"] == []
    summary = report["summary"]
    assert summary["dispositions"] == DISPOSITIONS
    assert (summary["answered"], summary["not_answered"]) == (2, 1)
    assert (summary["outcome_known"], summary["called"]) == (5, 5)
    assert summary["answered_rate_of_known"] == 0.4
    assert summary["answered_rate_of_called"] == 0.4


def test_attempts_are_fetched_a_batch_of_contacts_at_a_time(session: Session) -> None:
    campaign = outcome_campaign(session)
    rows = iter_contact_rows(session, campaign.id)
    calls = {
        row["phone"][-1]: [a["disposition"] for a in attempts]
        for row, attempts in with_attempts(session, rows, batch=4)
    }
    assert calls == {
        "1": ["busy", "answered"],
        "2": ["no_answer", "no_answer"],
        "3": ["bad_number"],
        "4": ["answered"],
        "5": ["busy", None],
        "6": [],
    }


def test_answered_rate_counts_known_outcomes_and_calls_apart(session: Session) -> None:
    campaign = outcome_campaign(session)
    # A contact called whose only call awaits its report: called, but no outcome known.
    waiting = add_contact(session, campaign, "79160000007")
    add_call(session, waiting, None, T0)
    summary = campaign_summary(session, campaign)
    assert (summary.answered, summary.outcome_known, summary.called) == (2, 5, 6)
    assert summary.answered_of_known == 0.4
    assert summary.answered_of_called == pytest.approx(0.3333)


def test_table_shows_the_answered_rate_and_dispositions(outcomes: Engine, cli: Invoke) -> None:
    result = cli(["report", "autumn"])
    assert result.exit_code == 0, result.output
    text = result.output
    assert re.search(
        r"answered, of contacts whose call result is known\s*│\s*40\.00% \(2 of 5\)", text
    )
    assert re.search(r"answered, of contacts called\s*│\s*40\.00% \(2 of 5\)", text)
    assert re.search(r"bad number\s*│\s*1", text)
    russian = cli(["report", "autumn", "--lang", "ru"]).output
    assert re.search(r"ответили, из контактов, которым звонили\s*│\s*40\.00% \(2 из 5\)", russian)
    assert re.search(r"занято\s*│\s*1", russian)


def test_xlsx_summary_sheet_has_the_rate_and_dispositions(
    outcomes: Engine, tmp_path: Path, cli: Invoke
) -> None:
    target = tmp_path / "r.xlsx"
    result = cli(["report", "autumn", "-f", "xlsx", "-o", str(target)])
    assert result.exit_code == 0, result.output
    book = openpyxl.load_workbook(target)
    rows: list[tuple[object, ...]] = list(book["summary"].iter_rows(values_only=True))
    split = rows.index(("Contacts by call result (latest known call)", None))
    figures = {label: value for label, value in rows[:split]}
    assert figures["answered, of contacts whose call result is known"] == "40.00% (2 of 5)"
    assert (figures["answered"], figures["not answered"]) == ("2", "1")
    by_result = {label: value for label, value in rows[split + 1 :]}
    assert by_result == {
        "answered": 2,
        "busy": 1,
        "no answer": 1,
        "bad number": 1,
        "blocked": 0,
        "campaign error": 0,
        "provider error": 0,
        "other": 0,
    }
    sheet = book["contacts"]
    header = [c.value for c in sheet[1]]
    first = dict(zip(header, [c.value for c in sheet[2]], strict=True))
    assert (first["disposition"], first["finish_reason"]) == ("answered", "success_finish")
    assert (first["listened_seconds"], first["calls"]) == (42, 2)  # numbers, not text


def test_html_charts_dispositions_and_the_answered_rate(
    outcomes: Engine, tmp_path: Path, cli: Invoke
) -> None:
    target = tmp_path / "r.html"
    result = cli(["report", "autumn", "-f", "html", "-o", str(target)])
    assert result.exit_code == 0, result.output
    page = target.read_text("utf-8")
    dispositions = re.search(r'<svg[^>]*id="dispositions-chart".*?</svg>', page, re.S)
    assert dispositions is not None
    assert len(re.findall(r'<rect[^>]*class="bar"', dispositions.group())) == len(DISPOSITIONS)
    assert "<title>bad number: 1</title>" in dispositions.group()
    answered = re.search(r'<svg[^>]*id="answered-chart".*?</svg>', page, re.S)
    assert answered is not None
    # Calls with a known outcome at 12:00-12:40 and 13:05-13:10 Moscow time: two hourly bars.
    tips = re.findall(r"<title>(2026-03-02 \d\d:00 MSK: [^<]*)</title>", answered.group())
    assert tips == [
        "2026-03-02 12:00 MSK: 20% of 5 calls answered",
        "2026-03-02 13:00 MSK: 50% of 2 calls answered",
    ]
    assert "40.00% (2 of 5)" in page
    assert "http" not in page.split("<body>")[1].replace("http://www.w3.org/2000/svg", "")


def test_html_without_outcomes_says_so(database: Engine, tmp_path: Path, cli: Invoke) -> None:
    target = tmp_path / "r.html"
    result = cli(["report", "spring", "-f", "html", "-o", str(target), "--lang", "ru"])
    assert result.exit_code == 0, result.output
    page = target.read_text("utf-8")
    assert "Итоги звонков ещё не известны." in page
    assert 'id="dispositions-chart"' not in page


def test_answered_rate_buckets_follow_the_span() -> None:
    start = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    assert bucket_size(start, start + dt.timedelta(minutes=3)) == (
        dt.timedelta(hours=1),
        "bucket.1h",
    )
    assert bucket_size(start, start + dt.timedelta(days=3))[1] == "bucket.1h"
    assert bucket_size(start, start + dt.timedelta(days=30))[1] == "bucket.1d"
    size, key = bucket_size(start, start + dt.timedelta(days=300))
    assert (key, size) == ("bucket.days", dt.timedelta(days=4))


def test_answered_rate_buckets_are_local_hours(session: Session) -> None:
    # Kathmandu is UTC+05:45: a bucket on the local hour is not a UTC hour.
    campaign = outcome_campaign(session)
    chart = answered_rate_chart(
        outcomes_per_minute_series(session, campaign.id), ShownZone("Asia/Kathmandu"), Texts()
    )
    assert chart is not None
    assert [b.tip.split(": ")[0] for b in chart.bars] == [
        "2026-03-02 14:00 +0545",
        "2026-03-02 15:00 +0545",
    ]


def test_call_show_tells_each_calls_outcome(outcomes: Engine, cli: Invoke) -> None:
    result = cli(["call", "show", "79160000001"])
    assert result.exit_code == 0, result.output
    text = result.output
    assert (
        "call result: answered, finish_reason success_finish, picked up, listened 42 s, "
        "ended 2026-03-02 13:06:02 MSK" in text
    )
    assert "call result: busy, finish_reason subscriber_busy, not picked up, listened 0 s" in text
    # "answered" is said only of the call someone picked up.
    assert text.count("picked up") == 2
    assert text.count("not picked up") == 1
    awaited = cli(["call", "show", "79160000005", "--lang", "ru"]).output
    assert "итог звонка: ожидается из отчёта провайдера" in awaited
    assert "итог звонка: занято, finish_reason subscriber_busy, не ответил" in awaited


def test_call_show_json_has_the_outcome(outcomes: Engine, cli: Invoke) -> None:
    shown = json.loads(cli(["call", "show", "79160000004", "--json"]).output)
    (call,) = shown["attempts"]
    assert call["disposition"] == "answered"
    assert call["call_answered"] is True
    assert call["finish_reason"] == "caller_disconnects"
    assert call["listened_seconds"] == 15
    assert call["call_finished_at"] == "2026-03-02T09:30:35+00:00"


def test_campaign_show_and_the_run_line_say_answered_so_far(outcomes: Engine, cli: Invoke) -> None:
    shown = cli(["campaign", "show", "autumn"])
    assert shown.exit_code == 0, shown.output
    assert "Answered so far: 2 (not answered 1)" in shown.output
    russian = cli(["campaign", "show", "autumn", "--lang", "ru"]).output
    assert "Ответили: 2 (не ответили 1)" in russian
    with Session(outcomes) as session:
        campaign = session.scalars(select(Campaign).where(Campaign.name == "autumn")).one()
        line = campaign_status(session, campaign, now=T0 + dt.timedelta(hours=2)).line()
    assert "placed 1 answered 2 not answered 1 failed 1" in line


def test_the_new_texts_exist_in_russian() -> None:
    ru = Texts(Lang.RU)
    assert ru("fig.answered_rate_known") != Texts()("fig.answered_rate_known")
    assert ru.disposition("no_answer") == "не ответил"
