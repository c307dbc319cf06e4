"""`dialer doctor`: one line per check, each failure with its fix, and a non-zero exit."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import kombu.transport
import pytest
from typer.testing import CliRunner, Result

import dialer.cli.main  # registers every command (and binds `dialer`)
from dialer import migrate
from dialer.cli.app import app
from dialer.cli.main import main
from dialer.simulator import DEFAULT_ACCESS_TOKEN, SimulatorServer

runner = CliRunner()


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorServer]:
    """The Call API simulator on a free loopback port."""
    server = SimulatorServer().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def healthy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, simulator: SimulatorServer) -> None:
    """A configuration where every check passes; each test breaks one thing."""
    database = f"sqlite:///{tmp_path / 'doctor.db'}"
    migrate.upgrade(database)
    monkeypatch.setenv("DIALER_DATABASE_URL", database)
    monkeypatch.setenv("DIALER_CALLAPI_URL", simulator.url)
    monkeypatch.setenv("DIALER_CALLAPI_ACCESS_TOKEN", DEFAULT_ACCESS_TOKEN)
    monkeypatch.setenv("COLUMNS", "400")  # one table row per line, whatever the terminal


def doctor() -> Result:
    return runner.invoke(app, ["doctor"])


def row(result: Result, check: str) -> str:
    """The table line of one check."""
    lines = [line for line in result.stdout.splitlines() if line.startswith(f"│ {check} ")]
    assert len(lines) == 1, result.stdout
    return lines[0]


def assert_fails(result: Result, check: str, *said: str) -> None:
    assert result.exit_code == 1, result.stdout
    line = row(result, check)
    assert "FAIL" in line
    for text in said:
        assert text in line


def test_a_healthy_setup_passes_every_check_and_masks_the_secrets() -> None:
    result = doctor()
    assert result.exit_code == 0, result.stdout
    for check in ("settings", "database", "broker", "Call API"):
        assert "│ ok " in row(result, check)
    assert "DIALER_CALLAPI_ACCESS_TOKEN" in result.stdout
    assert DEFAULT_ACCESS_TOKEN not in result.stdout
    assert "**********" in result.stdout


def test_a_database_driver_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    monkeypatch.setenv("DIALER_DATABASE_URL", "postgresql://postgres@127.0.0.1/dialer")
    assert_fails(
        doctor(),
        "database",
        "the postgresql driver is not installed (no module 'psycopg')",
        "pip install 'dialer[postgres]'",
    )


def test_a_broker_transport_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    # What a venv without Celery's Redis extra saw: kombu's redis transport cannot load.
    monkeypatch.setitem(sys.modules, "packaging.version", None)
    monkeypatch.delitem(sys.modules, "kombu.transport.redis", raising=False)
    monkeypatch.delitem(sys.modules, "dialer.redis_broker", raising=False)  # built on it
    # `from kombu.transport import redis` finds a submodule imported before as an attribute.
    monkeypatch.delattr(kombu.transport, "redis", raising=False)
    monkeypatch.delattr(dialer, "redis_broker", raising=False)
    monkeypatch.setattr(kombu.transport, "_transport_cache", {})
    monkeypatch.setenv("DIALER_BROKER_URL", "redis://127.0.0.1:6379/0")
    assert_fails(
        doctor(),
        "broker",
        "the redis:// broker transport is not installed",
        "pip install 'dialer[redis]'",
    )


def test_a_database_that_is_down() -> None:
    url = f"postgresql://postgres@127.0.0.1:{closed_port()}/dialer"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DIALER_DATABASE_URL", url)
        assert_fails(doctor(), "database", "cannot reach the database", "is it running")


@pytest.mark.parametrize(
    "scheme", ["redis://127.0.0.1:{port}/0", "amqp://guest@127.0.0.1:{port}//"]
)
def test_a_broker_that_is_down(monkeypatch: pytest.MonkeyPatch, scheme: str) -> None:
    monkeypatch.setenv("DIALER_BROKER_URL", scheme.format(port=closed_port()))
    assert_fails(doctor(), "broker", "cannot reach the broker", "DIALER_BROKER_URL")


def test_a_database_never_migrated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIALER_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    assert_fails(doctor(), "database", "run `dialer db upgrade`")


def test_a_token_the_api_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIALER_CALLAPI_ACCESS_TOKEN", "not-the-key")
    result = doctor()
    assert_fails(result, "Call API", "refused the credentials", "DIALER_CALLAPI_ACCESS_TOKEN")
    assert "not-the-key" not in result.stdout


def test_no_credentials_name_the_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DIALER_CALLAPI_ACCESS_TOKEN")
    assert_fails(
        doctor(), "Call API", "DIALER_CALLAPI_ACCESS_TOKEN", "DIALER_CALLAPI_LOGIN and DIALER_"
    )


def test_a_broker_scheme_that_does_not_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIALER_BROKER_URL", "rabbitmq://guest:guest@127.0.0.1:5672//")
    assert_fails(doctor(), "settings", "no broker scheme rabbitmq://, use amqp://")


def test_any_command_says_one_line_instead_of_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    monkeypatch.setenv("DIALER_DATABASE_URL", "postgresql://postgres@127.0.0.1/dialer")
    monkeypatch.setattr(sys, "argv", ["dialer", "campaign", "list"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 1
    assert capsys.readouterr().err == (
        "dialer: the postgresql driver is not installed (no module 'psycopg'): "
        "pip install 'dialer[postgres]'\n"
    )
