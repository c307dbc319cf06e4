"""The command line and a SQLite database holding the report campaign, for the reports' tests."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

import pytest
import typer
from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from dialer.db import transaction
from tests.unit.factories import report_campaign


def _app() -> typer.Typer:
    # Every command module registers on import; fall back to this module's commands alone if a
    # module under construction elsewhere does not import yet.
    with contextlib.suppress(ImportError):
        import dialer.cli.main  # noqa: F401  (registers every command)
    from dialer.cli.app import app

    return app


Invoke = Callable[[Sequence[str]], Result]


@pytest.fixture(scope="session")
def cli() -> Invoke:
    """Run `dialer ARGS…` in-process; the result has the exit code and the output (stderr too)."""
    app, runner = _app(), CliRunner()

    def invoke(args: Sequence[str]) -> Result:
        return runner.invoke(app, list(args))

    return invoke


@pytest.fixture
def database(sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """The settings point at a SQLite file holding the report campaign; tables from create_all."""
    monkeypatch.setenv("DIALER_DATABASE_URL", str(sqlite_engine.url))
    with transaction(sqlite_engine) as session:
        report_campaign(session)
    return sqlite_engine
