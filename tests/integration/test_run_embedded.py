"""The embedded default, end to end, as a user runs it: SQLite, the file-system broker, a
Celery worker process, and the simulator — `dialer demo` and `dialer run` in subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dialer.db import make_engine, transaction
from dialer.models import Attempt, Campaign, CampaignState, Contact
from dialer.simulator import DEFAULT_ACCESS_TOKEN, FakeCallApi, SimulatorServer

ROOT = Path(__file__).resolve().parents[2]
UNKNOWN_NUMBER_CAMPAIGN = """
name = "wrong-number"
method = "start.informer_call"
[params]
virtual_phone_number = "74990000000"
contact_message = { type = "tts", value = "Здравствуйте!" }
"""


def dialer(
    home: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the `dialer` command line with its own DIALER_HOME, as a user would."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DIALER_")}
    environment.update({"DIALER_HOME": str(home), **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "dialer", *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=ROOT,
        timeout=240,
        check=False,
    )


def counts_by_status(home: Path) -> dict[str, int]:
    engine = make_engine(f"sqlite:///{home / 'dialer.db'}")
    with transaction(engine) as session:
        rows = session.execute(select(Contact.status, func.count()).group_by(Contact.status))
        counts = {str(status): n for status, n in rows}
    engine.dispose()
    return counts


@pytest.fixture
def simulator() -> Iterator[SimulatorServer]:
    """A simulator on a free loopback port."""
    with SimulatorServer(FakeCallApi(minute_limit=20, window_seconds=2.0)) as server:
        yield server


def test_the_demo_runs_the_example_campaign_to_the_end(tmp_path: Path) -> None:
    result = dialer(tmp_path, "demo")

    assert result.returncode == 0, result.stderr + result.stdout
    assert "(completed)" in result.stdout
    worker_log = (tmp_path / "worker.log").read_text(encoding="utf-8")
    for output in (result.stdout, result.stderr, worker_log):
        assert DEFAULT_ACCESS_TOKEN not in output
    # The sample CSV: 15 usable rows, one of them on the simulated provider's blacklist.
    assert counts_by_status(tmp_path) == {"placed": 14, "blacklisted": 1}


def test_run_exits_nonzero_with_the_reason_when_the_campaign_pauses_itself(
    tmp_path: Path, simulator: SimulatorServer
) -> None:
    campaign_file = tmp_path / "wrong-number.toml"
    campaign_file.write_text(UNKNOWN_NUMBER_CAMPAIGN, encoding="utf-8")
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("phone\n79260000001\n79260000002\n", encoding="utf-8")
    env = {"DIALER_CALLAPI_URL": simulator.url, "DIALER_CALLAPI_ACCESS_TOKEN": DEFAULT_ACCESS_TOKEN}

    assert dialer(tmp_path, "campaign", "create", str(campaign_file), env=env).returncode == 0
    assert (
        dialer(tmp_path, "contacts", "import", "wrong-number", str(contacts), env=env).returncode
        == 0
    )
    # One request at a time, so that exactly one is in flight when the campaign pauses.
    result = dialer(tmp_path, "run", "wrong-number", "--concurrency", "1", env=env)

    assert result.returncode == 1
    assert "virtual_phone_number_not_found" in result.stderr
    assert counts_by_status(tmp_path) == {"pending": 2}  # nothing lost: resume continues
    engine = make_engine(f"sqlite:///{tmp_path / 'dialer.db'}")
    with transaction(engine) as session:
        assert session.scalars(select(Campaign.state)).one() == CampaignState.PAUSED
        assert session.scalar(select(func.count()).select_from(Attempt)) == 1
    engine.dispose()
    assert DEFAULT_ACCESS_TOKEN not in result.stderr + result.stdout
    worker_log = (tmp_path / "worker.log").read_text(encoding="utf-8")
    assert "callapi start.informer_call" in worker_log  # the requests are logged, redacted
    assert DEFAULT_ACCESS_TOKEN not in worker_log
