"""Reports and lookups on PostgreSQL: the streamed CSV (server-side cursor), the JSON report
with each contact's calls fetched beside that cursor, the call outcomes, and the indexed
lookups, checked with EXPLAIN."""

from __future__ import annotations

import csv
import io
import json
import random
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import Engine, text

from dialer.campaigns import find_campaign
from dialer.db import transaction
from dialer.reports.calls import with_attempts
from dialer.reports.csv_report import BOM, CsvDialect, write_csv
from dialer.reports.json_report import write_json
from dialer.reports.lookup import call_details, lookup_queries
from dialer.reports.rows import iter_contact_rows, variable_keys
from dialer.reports.summary import campaign_summary
from dialer.reports.xlsx_report import write_xlsx
from tests.unit.factories import add_campaign, add_contact, outcome_campaign, report_campaign

pytestmark = pytest.mark.postgres


@dataclass(frozen=True)
class Filled:
    """The engine, and the names of what the test campaign holds."""

    engine: Engine
    name: str
    placed_session_id: int


@pytest.fixture
def filled(postgres_engine: Engine) -> Filled:
    """The report campaign committed on PostgreSQL, under names no other test uses (the
    database is shared by the whole run, so nothing is truncated)."""
    base = random.randrange(10**9, 10**12)
    name = f"pg-spring-{base}"
    with transaction(postgres_engine) as session:
        report_campaign(session, name, session_ids_from=base)
    return Filled(postgres_engine, name, base + 4)


def test_csv_report_on_postgres(filled: Filled) -> None:
    with transaction(filled.engine) as session:
        campaign = find_campaign(session, filled.name)
        out = io.StringIO(newline="")
        assert write_csv(session, campaign, out) == 10
        summary = campaign_summary(session, campaign)
    text_ = out.getvalue()
    assert text_.startswith(BOM)
    rows = {r["phone"]: r for r in csv.DictReader(io.StringIO(text_[1:]))}
    assert rows["79260000005"]["call_session_id"] == str(filled.placed_session_id)
    assert rows["79260000005"]["имя"].startswith("'=")
    assert rows["79260000001"]["сумма"] == "-150"
    assert summary.counts["failed"] == 2
    assert summary.calls_per_minute == 3.5


def test_excel_outputs_on_postgres(filled: Filled, tmp_path: Path) -> None:
    target = tmp_path / "r.xlsx"
    with transaction(filled.engine) as session:
        campaign = find_campaign(session, filled.name)
        out = io.StringIO(newline="")
        assert write_csv(session, campaign, out, CsvDialect.EXCEL_RU) == 10
        assert write_xlsx(session, campaign, target) == 10
    rows = {r["phone"]: r for r in csv.DictReader(io.StringIO(out.getvalue()[1:]), delimiter=";")}
    assert rows["8 (926) 000-00-05"]["last_attempt_at (Europe/Moscow)"] == "02.03.2026 12:02:00"
    sheet = openpyxl.load_workbook(target)["contacts"]
    phones = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert phones == [f"792600000{n:02d}" for n in range(1, 11)]


def test_rows_stream_in_small_batches(filled: Filled) -> None:
    with transaction(filled.engine) as session:
        campaign = find_campaign(session, filled.name)
        phones = [r["phone"] for r in iter_contact_rows(session, campaign.id, batch=3)]
    assert phones == sorted(phones)
    assert len(phones) == 10


def test_lookup_on_postgres_uses_the_unique_indexes(filled: Filled) -> None:
    with transaction(filled.engine) as session:
        key = str(filled.placed_session_id)
        details = call_details(session, key)
        assert details is not None
        assert details.contact["phone"] == "79260000005"
        # A tiny table is cheaper to scan; forbid that to see whether an index can serve.
        session.execute(text("SET LOCAL enable_seqscan = off"))
        for query in lookup_queries(key):
            sql = str(query.compile(filled.engine, compile_kwargs={"literal_binds": True}))
            plan = "\n".join(row[0] for row in session.execute(text(f"EXPLAIN {sql}")))
            assert "Index Scan using uq_attempts_" in plan, plan
            assert "Seq Scan" not in plan, plan


def test_variable_keys_on_postgres(filled: Filled) -> None:
    with transaction(filled.engine) as session:
        campaign = add_campaign(session, filled.name + "-mixed")
        add_contact(session, campaign, "79260000001", variables={"x": "1", "имя": "2"})
        add_contact(session, campaign, "79260000002", variables={"b": "3", "имя": "4", "z": "5"})
        add_contact(session, campaign, "79260000003", variables={})
        add_contact(session, campaign, "79260000004", variables={"c": "6", "x": "7"})
        assert variable_keys(session, campaign.id) == ["x", "имя", "b", "z", "c"]


@pytest.fixture
def outcomes(postgres_engine: Engine) -> Filled:
    """The outcome campaign committed on PostgreSQL, under names no other test uses."""
    base = random.randrange(10**9, 10**12)
    name = f"pg-autumn-{base}"
    with transaction(postgres_engine) as session:
        outcome_campaign(session, name, session_ids_from=base)
    return Filled(postgres_engine, name, base)


def test_call_outcomes_in_the_reports_on_postgres(outcomes: Filled) -> None:
    with transaction(outcomes.engine) as session:
        campaign = find_campaign(session, outcomes.name)
        out = io.StringIO(newline="")
        assert write_csv(session, campaign, out) == 6
        listing = io.StringIO()
        assert write_json(session, campaign, listing) == 6
        summary = campaign_summary(session, campaign)
    rows = {r["phone"][-1]: r for r in csv.DictReader(io.StringIO(out.getvalue()[1:]))}
    assert [rows[k]["disposition"] for k in "123456"] == [
        "answered",
        "no_answer",
        "bad_number",
        "answered",
        "busy",
        "",
    ]
    assert [rows[k]["calls"] for k in "123456"] == ["2", "2", "1", "1", "2", "0"]
    assert rows["1"]["listened_seconds"] == "42"
    contacts = {c["phone"][-1]: c for c in json.loads(listing.getvalue())["contacts"]}
    assert [a["disposition"] for a in contacts["1"]["attempts"]] == ["busy", "answered"]
    assert contacts["1"]["attempts"][1]["call_session_id"] == outcomes.placed_session_id + 1
    assert summary.dispositions["answered"] == 2
    assert summary.dispositions["busy"] == 1
    assert (summary.outcome_known, summary.called) == (5, 5)


def test_attempts_are_fetched_beside_the_streaming_cursor(outcomes: Filled) -> None:
    # Batches smaller than the campaign: attempts are queried while the rows' server-side cursor
    # is still open on the same connection.
    with transaction(outcomes.engine) as session:
        campaign = find_campaign(session, outcomes.name)
        rows = iter_contact_rows(session, campaign.id, batch=2)
        calls = [len(attempts) for _, attempts in with_attempts(session, rows, batch=2)]
    assert calls == [2, 2, 1, 1, 2, 0]
