"""`dialer report`, `dialer call show`, `dialer campaign show` and `dialer campaign list`."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import Engine

from dialer.models import ContactStatus
from tests.unit.reports.conftest import Invoke


def test_report_table_shows_the_counts(database: Engine, cli: Invoke) -> None:
    result = cli(["report", "spring"])
    assert result.exit_code == 0, result.output
    assert "pending" in result.output
    assert "contact_not_allowed" in result.output


@pytest.mark.parametrize("fmt", ["csv", "json", "html", "table"])
def test_report_to_a_file(database: Engine, tmp_path: Path, fmt: str, cli: Invoke) -> None:
    target = tmp_path / f"report.{fmt}"
    result = cli(["report", "spring", "--format", fmt, "--output", str(target)])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / f"report.{fmt}.part").exists()
    data = target.read_bytes()
    if fmt == "csv":
        assert data.startswith(b"\xef\xbb\xbf")
        rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
        assert len(rows) == 10
    elif fmt == "json":
        assert len(json.loads(data)["contacts"]) == 10
    elif fmt == "html":
        assert b"<svg" in data
    else:
        assert b"still to dial" in data


def test_report_of_an_unknown_campaign_exits_2(
    database: Engine, tmp_path: Path, cli: Invoke
) -> None:
    target = tmp_path / "out.csv"
    result = cli(["report", "nope", "-f", "csv", "-o", str(target)])
    assert result.exit_code == 2
    assert "no campaign named 'nope'" in result.output
    assert not target.exists()
    assert not list(tmp_path.glob("*.part"))


def test_call_show_by_session_id(database: Engine, cli: Invoke) -> None:
    result = cli(["call", "show", "900004", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["contact"]["phone"] == "79260000005"
    assert [a["outcome"] for a in shown["attempts"]] == ["transient", "placed"]
    first = shown["attempts"][0]["external_id"]
    text = cli(["call", "show", first])
    assert text.exit_code == 0, text.output
    assert "79260000005" in text.output
    assert f"* 1. 2026-03-02 12:01:00 MSK  transient  external_id {first}" in text.output
    assert "spring" in text.output


def test_call_show_unknown_id_exits_2(database: Engine, cli: Invoke) -> None:
    result = cli(["call", "show", "12345"])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0


def test_campaign_show(database: Engine, cli: Invoke) -> None:
    result = cli(["campaign", "show", "spring", "--json"])
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    assert status["name"] == "spring"
    assert status["state"] == "running"
    assert status["counts"]["failed"] == 2
    assert set(status["counts"]) == {s.value for s in ContactStatus}
    text = cli(["campaign", "show", "spring"])
    assert "Progress: 6/10 (60.0%)" in text.output


def test_campaign_show_unknown_exits_2(database: Engine, cli: Invoke) -> None:
    result = cli(["campaign", "show", "nope"])
    assert result.exit_code == 2


def test_campaign_list(database: Engine, cli: Invoke) -> None:
    result = cli(["campaign", "list"])
    assert result.exit_code == 0, result.output
    assert result.output.split() == ["spring", "running", "6/10", "(60.0%)"]


def test_commands_prepare_a_fresh_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Invoke
) -> None:
    monkeypatch.setenv("DIALER_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    result = cli(["campaign", "list"])
    assert result.exit_code == 0, result.output
    assert "No campaigns." in result.output


@pytest.mark.parametrize("fmt", ["csv", "json", "html", "table", "xlsx"])
def test_report_into_a_missing_folder_is_a_clear_error(
    database: Engine, tmp_path: Path, fmt: str, cli: Invoke
) -> None:
    target = tmp_path / "no" / "such" / f"r.{fmt}"
    result = cli(["report", "spring", "-f", fmt, "--output", str(target)])
    assert result.exit_code == 2
    assert result.output == (
        f"dialer: cannot write {target}: the folder {target.parent} does not exist\n"
    )
    assert not isinstance(result.exception, OSError)


def test_report_onto_a_folder_is_a_clear_error(
    database: Engine, tmp_path: Path, cli: Invoke
) -> None:
    result = cli(["report", "spring", "-f", "html", "--output", str(tmp_path)])
    assert result.exit_code == 2
    assert "it is a folder" in result.output


def test_call_show_by_phone_lists_every_attempt_newest_first(database: Engine, cli: Invoke) -> None:
    by_id = json.loads(cli(["call", "show", "900004", "--json"]).output)
    oldest, newest = (a["external_id"] for a in by_id["attempts"])
    for typed in ("79260000005", "+7 926 000-00-05", "8 (926) 000-00-05"):
        result = cli(["call", "show", typed])
        assert result.exit_code == 0, result.output
        lines = result.output.splitlines()
        assert lines[0] == "Every attempt to 79260000005, newest first (2):"
        assert newest in lines[2]
        assert "[spring, placed]" in lines[2]
        assert oldest in lines[3]
    shown = json.loads(cli(["call", "show", "89260000005", "--json"]).output)
    assert [a["external_id"] for a in shown["attempts"]] == [newest, oldest]


def test_call_show_of_a_number_never_called_exits_2(database: Engine, cli: Invoke) -> None:
    result = cli(["call", "show", "+7 926 000-00-01"])  # pending: no attempt yet
    assert result.exit_code == 2
    assert "no call with external_id, call_session_id or phone" in result.output


def test_call_show_says_answered_only_of_a_person(database: Engine, cli: Invoke) -> None:
    result = cli(["call", "show", "900004"])
    assert result.exit_code == 0, result.output
    assert "request answered at 2026-03-02 12:02:01 MSK" in result.output
    assert re.search(r"(?<!request )answered", result.output) is None
    shown = json.loads(cli(["call", "show", "900004", "--json"]).output)
    assert shown["matched"]["replied_at"] == "2026-03-02T09:02:01+00:00"
    assert "answered_at" not in shown["matched"]


def test_call_show_in_russian(database: Engine, cli: Invoke) -> None:
    result = cli(["call", "show", "900004", "--lang", "ru"])
    assert result.exit_code == 0, result.output
    assert "Кампания: spring (идёт, start.informer_call)" in result.output
    assert "API ответил в 2026-03-02 12:02:01 MSK" in result.output
    assert "  звонок создан  external_id " in result.output  # the request's outcome, too
