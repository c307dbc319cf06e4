"""Each report format on a campaign with every status, Cyrillic and hostile variables."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from rich.console import Console
from sqlalchemy.orm import Session

from dialer.models import Campaign
from dialer.reports import rows as report_rows
from dialer.reports.csv_report import BOM, neutralize, write_csv
from dialer.reports.html_report import write_html
from dialer.reports.json_report import write_json
from dialer.reports.rows import REPORT_COLUMNS
from dialer.reports.summary import campaign_summary
from dialer.reports.table import summary_table
from tests.unit.factories import add_attempt, add_campaign, add_contact, report_campaign


@pytest.fixture
def campaign(session: Session) -> Campaign:
    """The campaign every format is tested on."""
    return report_campaign(session)


def _csv(session: Session, campaign: Campaign) -> str:
    out = io.StringIO(newline="")
    write_csv(session, campaign, out)
    return out.getvalue()


def test_csv_starts_with_a_bom_and_has_the_columns(session: Session, campaign: Campaign) -> None:
    text = _csv(session, campaign)
    assert text.startswith(BOM)
    rows = list(csv.DictReader(io.StringIO(text[1:])))
    assert list(rows[0])[: len(REPORT_COLUMNS)] == list(REPORT_COLUMNS)
    # The contacts' own columns follow, in first-seen order.
    assert list(rows[0])[len(REPORT_COLUMNS) :] == ["имя", "сумма", "долг", "город"]
    assert len(rows) == 10
    assert {r["status"] for r in rows} == {
        "pending",
        "queued",
        "dialing",
        "placed",
        "failed",
        "blacklisted",
        "unknown",
        "cancelled",
    }


def test_csv_names_the_latest_attempt(session: Session, campaign: Campaign) -> None:
    rows = {r["phone"]: r for r in csv.DictReader(io.StringIO(_csv(session, campaign)[1:]))}
    placed = rows["79260000005"]
    assert placed["attempts"] == "2"
    assert placed["call_session_id"] == "900004"
    assert placed["external_id"].startswith("ext-")
    assert rows["79260000001"]["external_id"] == ""
    assert rows["79260000006"]["error_mnemonic"] == "invalid_contact"


def test_csv_neutralizes_formulas_but_not_numbers(session: Session, campaign: Campaign) -> None:
    rows = {r["phone"]: r for r in csv.DictReader(io.StringIO(_csv(session, campaign)[1:]))}
    assert rows["79260000005"]["имя"] == '\'=HYPERLINK("http://x")'
    assert rows["79260000001"]["сумма"] == "-150"
    assert rows["79260000001"]["имя"] == "Иван"
    assert "access_token" not in _csv(session, campaign)


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        ("=1+1", "'=1+1"),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-150", "-150"),
        ("+79260000001", "+79260000001"),
        ("-12.50", "-12.50"),
        ("79260000001", "79260000001"),
        (None, ""),
        (3, "3"),
    ],
)
def test_neutralize(cell: object, shown: str) -> None:
    assert neutralize(cell) == shown


def test_csv_header_takes_keys_from_every_contact(session: Session) -> None:
    campaign = add_campaign(session, "two-imports")
    add_contact(session, campaign, "79260000001", variables={"a": "1"})
    add_contact(session, campaign, "79260000002", variables={"b": "2", "phone": "x"})
    header = next(csv.reader(io.StringIO(_csv(session, campaign)[1:])))
    assert header[len(REPORT_COLUMNS) :] == ["a", "b", "var:phone"]


def test_json_parses_and_has_the_fields(session: Session, campaign: Campaign) -> None:
    out = io.StringIO()
    assert write_json(session, campaign, out) == 10
    report = json.loads(out.getvalue())
    assert report["campaign"]["name"] == "spring"
    assert "params" not in report["campaign"]
    assert report["summary"]["counts"]["failed"] == 2
    assert report["summary"]["failed_by_error"] == {"contact_not_allowed": 1, "invalid_contact": 1}
    first = report["contacts"][0]
    assert set(REPORT_COLUMNS) <= set(first)
    assert first["variables"] == {"имя": "Иван", "сумма": "-150"}
    assert "Иван" in out.getvalue()  # kept readable, not \u-escaped
    assert "access_token" not in out.getvalue()


def test_json_of_an_empty_campaign_is_valid(session: Session) -> None:
    out = io.StringIO()
    write_json(session, add_campaign(session, "empty"), out)
    assert json.loads(out.getvalue())["contacts"] == []


def _html(session: Session, campaign: Campaign) -> str:
    out = io.StringIO()
    write_html(session, campaign, out)
    return out.getvalue()


def test_html_has_the_chart_and_escapes(session: Session, campaign: Campaign) -> None:
    page = _html(session, campaign)
    assert "<svg" in page
    assert 'class="limit"' in page  # the minute_limit line
    assert page.count('class="bar"') == 3  # three minutes with calls
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Иван" not in page  # pending: not in the attention list
    assert "Юрий" in page  # unknown: needs attention
    assert "contact_not_allowed" in page
    assert not re.search(r"(src|href)=\"?https?:", page)  # nothing fetched from the network
    assert "access_token" not in page


def test_html_without_calls_says_so(session: Session) -> None:
    campaign = add_campaign(session, "quiet")
    add_contact(session, campaign, "79260000001")
    assert "No calls yet." in _html(session, campaign)


def test_html_folds_a_long_campaign(session: Session) -> None:
    import datetime as dt

    from tests.unit.factories import T0

    campaign = add_campaign(session, "long")
    contact = add_contact(session, campaign, "79260000001")
    for day in range(3):  # three days: 4,321 minutes, folded into at most 240 bars
        add_attempt(session, contact, T0 + dt.timedelta(days=day))
    page = _html(session, campaign)
    assert 0 < page.count('class="bar"') <= 240
    assert "average per minute" in page


def test_table_shows_the_counts(session: Session, campaign: Campaign) -> None:
    console = Console(file=io.StringIO(), width=100)
    console.print(summary_table(campaign, campaign_summary(session, campaign)))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    for status in ("pending", "queued", "dialing", "placed", "blacklisted", "cancelled"):
        assert re.search(rf"{status}\s+│\s+\d", text), status
    assert "invalid_contact" in text
    assert "still to dial" in text


@pytest.mark.parametrize("in_sql", [True, False])
def test_variable_keys_in_first_seen_order(
    session: Session, monkeypatch: pytest.MonkeyPatch, in_sql: bool
) -> None:
    if not in_sql:
        monkeypatch.setattr(report_rows, "_KEYS_SQL", {})  # the portable pass in Python
    campaign = add_campaign(session, "mixed")
    add_contact(session, campaign, "79260000001", variables={"x": "1", "a": "2"})
    add_contact(session, campaign, "79260000002", variables={"b": "3", "a": "4", "z": "5"})
    add_contact(session, campaign, "79260000003", variables={})
    add_contact(session, campaign, "79260000004", variables={"c": "6", "x": "7"})
    assert report_rows.variable_keys(session, campaign.id) == ["x", "a", "b", "z", "c"]


def test_limit_line_is_one_segment_per_run_of_equal_limits() -> None:
    import datetime as dt

    from dialer.reports.chart import Bar, _limit_path

    t = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    bars = [Bar(t, 1, 1.0, lim) for lim in (60, 60, 120, None, 120)]
    path = _limit_path(bars, 0.0, 10.0, {60: 50.0, 120: 10.0})
    assert path == "M0.0,50.0 L20.0,50.0 L20.0,10.0 L30.0,10.0 M40.0,10.0 L50.0,10.0"


def test_table_prints_names_as_they_are(session: Session) -> None:
    campaign = add_campaign(session, "[bold]sale[/bold]", pause_reason="[red]x")
    console = Console(file=io.StringIO(), width=100)
    console.print(summary_table(campaign, campaign_summary(session, campaign)))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "[bold]sale[/bold]" in text
    assert "[red]x" in text
