"""`dialer report`, `dialer call show`, `dialer campaign show` and `dialer campaign list`."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from pathlib import Path

import pytest
import typer
from sqlalchemy import Engine
from typer.testing import CliRunner

from dialer.db import transaction
from dialer.models import ContactStatus
from tests.unit.factories import report_campaign


def _app() -> typer.Typer:
    # Every command module registers on import; fall back to this module's commands alone if a
    # module under construction elsewhere does not import yet.
    with contextlib.suppress(ImportError):
        import dialer.cli.main  # noqa: F401  (registers every command)
    from dialer.cli.app import app

    return app


APP = _app()
runner = CliRunner()


@pytest.fixture
def database(sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """The settings point at a SQLite file holding the report campaign; tables from create_all."""
    monkeypatch.setenv("DIALER_DATABASE_URL", str(sqlite_engine.url))
    with transaction(sqlite_engine) as session:
        report_campaign(session)
    return sqlite_engine


def test_report_table_shows_the_counts(database: Engine) -> None:
    result = runner.invoke(APP, ["report", "spring"])
    assert result.exit_code == 0, result.output
    assert "pending" in result.output
    assert "contact_not_allowed" in result.output


@pytest.mark.parametrize("fmt", ["csv", "json", "html", "table"])
def test_report_to_a_file(database: Engine, tmp_path: Path, fmt: str) -> None:
    target = tmp_path / f"report.{fmt}"
    result = runner.invoke(APP, ["report", "spring", "--format", fmt, "--output", str(target)])
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


def test_report_of_an_unknown_campaign_exits_2(database: Engine, tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    result = runner.invoke(APP, ["report", "nope", "-f", "csv", "-o", str(target)])
    assert result.exit_code == 2
    assert "no campaign named 'nope'" in result.output
    assert not target.exists()
    assert not list(tmp_path.glob("*.part"))


def test_call_show_by_session_id(database: Engine) -> None:
    result = runner.invoke(APP, ["call", "show", "900004", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["contact"]["phone"] == "79260000005"
    assert [a["outcome"] for a in shown["attempts"]] == ["transient", "placed"]
    first = shown["attempts"][0]["external_id"]
    text = runner.invoke(APP, ["call", "show", first])
    assert text.exit_code == 0, text.output
    assert "79260000005" in text.output
    assert f"* 1. 2026-03-02T09:01:00+00:00  transient  external_id {first}" in text.output
    assert "spring" in text.output


def test_call_show_unknown_id_exits_2(database: Engine) -> None:
    result = runner.invoke(APP, ["call", "show", "12345"])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0


def test_campaign_show(database: Engine) -> None:
    result = runner.invoke(APP, ["campaign", "show", "spring", "--json"])
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    assert status["name"] == "spring"
    assert status["state"] == "running"
    assert status["counts"]["failed"] == 2
    assert set(status["counts"]) == {s.value for s in ContactStatus}
    text = runner.invoke(APP, ["campaign", "show", "spring"])
    assert "Progress: 6/10 (60.0%)" in text.output


def test_campaign_show_unknown_exits_2(database: Engine) -> None:
    result = runner.invoke(APP, ["campaign", "show", "nope"])
    assert result.exit_code == 2


def test_campaign_list(database: Engine) -> None:
    result = runner.invoke(APP, ["campaign", "list"])
    assert result.exit_code == 0, result.output
    assert result.output.split() == ["spring", "running", "6/10", "(60.0%)"]


def test_commands_prepare_a_fresh_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIALER_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    result = runner.invoke(APP, ["campaign", "list"])
    assert result.exit_code == 0, result.output
    assert "No campaigns." in result.output
