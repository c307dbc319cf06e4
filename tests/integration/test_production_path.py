"""The production path's failures, as a user meets them: a worker that cannot start says why
in one line and exits non-zero, instead of leaving campaigns `queued` in silence."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from dialer.config import load_settings
from dialer.worker import celery_config
from tests.services import REDIS_URL, require, scratch_postgres_database

START_TIMEOUT = 120


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_worker(cwd: Path, command: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    """Run a worker command with a deployment's environment; it is expected to refuse to start."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DIALER_")}
    clean |= {"DIALER_HOME": str(cwd / "home"), "DIALER_CALLAPI_ACCESS_TOKEN": "k", **env}
    return subprocess.run(
        command,
        cwd=cwd,
        env=clean,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
        check=False,
    )


CELERY_WORKER = [sys.executable, "-m", "celery", "-A", "dialer.worker", "worker", "--pool=solo"]
DIALER_WORKER = [sys.executable, "-m", "dialer", "worker", "--pool=solo"]


@pytest.mark.parametrize("command", [CELERY_WORKER, DIALER_WORKER], ids=["celery", "dialer"])
def test_a_worker_whose_database_is_down_says_so_and_exits(
    tmp_path: Path, command: list[str]
) -> None:
    database = f"postgresql://postgres@127.0.0.1:{closed_port()}/dialer"
    result = start_worker(tmp_path, command, DIALER_DATABASE_URL=database)
    assert result.returncode != 0
    assert "cannot reach the database" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_a_celery_worker_whose_broker_is_down_says_so_and_exits(tmp_path: Path) -> None:
    broker = f"redis://127.0.0.1:{closed_port()}/0"
    result = start_worker(tmp_path, CELERY_WORKER, DIALER_BROKER_URL=broker)
    assert result.returncode == 1
    assert "dialer worker: cannot start: cannot reach the broker" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.postgres
def test_a_celery_worker_on_a_database_never_migrated_names_the_command(tmp_path: Path) -> None:
    require("Redis", "127.0.0.1", 6379)
    # A database of its own: the session's scratch database may hold other tests' tables.
    with scratch_postgres_database() as never_migrated:
        result = start_worker(
            tmp_path,
            CELERY_WORKER,
            DIALER_DATABASE_URL=never_migrated,
            DIALER_BROKER_URL=REDIS_URL,
        )
    assert result.returncode == 1
    assert "run `dialer db upgrade`" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_a_celery_worker_without_credentials_says_which_variables(tmp_path: Path) -> None:
    result = start_worker(tmp_path, CELERY_WORKER, DIALER_CALLAPI_ACCESS_TOKEN="")
    assert result.returncode == 1
    assert "DIALER_CALLAPI_ACCESS_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_beat_keeps_its_schedule_under_dialer_home(tmp_path: Path) -> None:
    schedule = Path(celery_config(load_settings())["beat_schedule_filename"])
    assert schedule.parent == load_settings().home
    assert schedule.parent.is_dir()
