"""The embedded default, end to end, as a user runs it: SQLite, the file-system broker, a
Celery worker process, and the simulator — `dialer demo` and `dialer run` in subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dialer.db import make_engine, transaction
from dialer.models import Attempt, Campaign, CampaignState
from dialer.simulator import DEFAULT_ACCESS_TOKEN, FakeCallApi, SimulatorServer
from tests.integration.cli import counts_by_status, dialer, without_dialer_settings
from tests.integration.engine_harness import created_calls

ROOT = Path(__file__).resolve().parents[2]
UNKNOWN_NUMBER_CAMPAIGN = """
name = "wrong-number"
method = "start.informer_call"
[params]
virtual_phone_number = "74990000000"
contact_message = { type = "tts", value = "Здравствуйте!" }
"""


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
    # The sample CSV: 15 usable rows, one of them on the simulated provider's blacklist; every
    # other call's result is read from the simulator's reports (busy and unanswered are
    # redialed once).
    counts = counts_by_status(tmp_path)
    assert counts.pop("blacklisted") == 1
    assert set(counts) <= {"answered", "not_answered", "failed"}
    assert sum(counts.values()) == 14
    assert counts["answered"] >= 1
    assert "answered" in result.stdout


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


PLAIN_CAMPAIGN = """
name = "{name}"
method = "start.informer_call"
[params]
virtual_phone_number = "74993720692"
contact_message = {{ type = "tts", value = "Здравствуйте!" }}
"""


def prepare_campaign(home: Path, name: str, contacts: int, env: dict[str, str]) -> list[str]:
    """Create a campaign and import `contacts` numbers into it; returns the numbers."""
    campaign_file = home / f"{name}.toml"
    campaign_file.write_text(PLAIN_CAMPAIGN.format(name=name), encoding="utf-8")
    phones = [f"7926{i:07d}" for i in range(1, contacts + 1)]
    csv_file = home / f"{name}.csv"
    csv_file.write_text("phone\n" + "\n".join(phones) + "\n", encoding="utf-8")
    assert dialer(home, "campaign", "create", str(campaign_file), env=env).returncode == 0
    assert dialer(home, "contacts", "import", name, str(csv_file), env=env).returncode == 0
    return phones


def start_run(home: Path, name: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """`dialer run` in its own process group, as a terminal starts it."""
    environment = without_dialer_settings(home)
    environment.update(env)
    return subprocess.Popen(
        [sys.executable, "-m", "dialer", "run", name],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
        cwd=ROOT,
        start_new_session=True,
    )


def wait_for(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def placed(home: Path) -> int:
    return counts_by_status(home).get("placed", 0)


def dialed_numbers(server: SimulatorServer) -> list[str]:
    """Every number the simulator created a call for, once per call.

    A request refused with `limit_exceeded` (racing the provider's reset of a 1-second window)
    created nothing and goes out again: that dials nobody twice.
    """
    return [entry.params["contact"] for entry in created_calls(server.request_log())]


def worker_children(run_pid: int) -> list[int]:
    """The worker processes `dialer run` started (its child processes)."""
    children = Path(f"/proc/{run_pid}/task/{run_pid}/children").read_text().split()
    return [int(pid) for pid in children]


@pytest.fixture
def paced_simulator() -> Iterator[SimulatorServer]:
    """A simulator slow enough (10 calls a second) that a run can be caught midway."""
    with SimulatorServer(FakeCallApi(minute_limit=10, window_seconds=1.0)) as server:
        yield server


def simulator_env(server: SimulatorServer) -> dict[str, str]:
    # Lost wake-ups and settled attempts come back after 3 s, not the default two minutes.
    return {
        "DIALER_CALLAPI_URL": server.url,
        "DIALER_CALLAPI_ACCESS_TOKEN": DEFAULT_ACCESS_TOKEN,
        "DIALER_STUCK_AFTER": "3",
    }


def test_ctrl_c_in_a_terminal_says_how_to_resume_and_a_new_run_resumes(
    tmp_path: Path, paced_simulator: SimulatorServer
) -> None:
    env = simulator_env(paced_simulator)
    phones = prepare_campaign(tmp_path, "reminder", 60, env)
    run = start_run(tmp_path, "reminder", env)
    wait_for(lambda: placed(tmp_path) >= 5)

    os.killpg(run.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    _, stderr = run.communicate(timeout=60)

    assert run.returncode == 130
    assert "interrupted; campaign 'reminder' is still running and nothing was lost" in stderr
    assert "`dialer run reminder` continues it" in stderr
    assert "exited with code" not in stderr
    assert counts_by_status(tmp_path).get("dialing", 0) == 0  # in-flight requests finished
    assert placed(tmp_path) < len(phones)

    again = dialer(tmp_path, "run", "reminder", env=env)

    assert again.returncode == 0, again.stderr
    assert counts_by_status(tmp_path) == {"placed": len(phones)}
    assert sorted(dialed_numbers(paced_simulator)) == phones  # each number once


def test_a_killed_worker_is_started_again_and_the_run_finishes(
    tmp_path: Path, paced_simulator: SimulatorServer
) -> None:
    env = simulator_env(paced_simulator)
    phones = prepare_campaign(tmp_path, "reminder", 60, env)
    run = start_run(tmp_path, "reminder", env)
    wait_for(lambda: placed(tmp_path) >= 5)

    (worker,) = worker_children(run.pid)
    os.kill(worker, signal.SIGKILL)
    _, stderr = run.communicate(timeout=180)

    assert run.returncode == 0, stderr
    assert "the worker process exited with code -9; started it again (1 of 5" in stderr
    dialed = dialed_numbers(paced_simulator)
    assert len(dialed) == len(set(dialed))  # nobody dialed twice
    counts = counts_by_status(tmp_path)
    # A request cut off by the kill that cannot be confirmed is `unknown`, never redialed.
    assert set(counts) <= {"placed", "unknown"}
    assert sum(counts.values()) == len(phones)
    assert counts["placed"] <= len(dialed) <= counts["placed"] + counts.get("unknown", 0)


NAMED_CAMPAIGN = """
name = "greeting"
method = "start.informer_call"
[params]
virtual_phone_number = "74993720692"
contact_message = { type = "tts", value = "Здравствуйте, {name}!" }
"""


def test_run_learns_the_tts_limit_and_speaks_russian(tmp_path: Path) -> None:
    """The provider refuses one text over its limit and names it; the other long texts fail
    without a request, and `--lang ru` gives the progress and the last line in Russian."""
    campaign_file = tmp_path / "greeting.toml"
    campaign_file.write_text(NAMED_CAMPAIGN, encoding="utf-8")
    long_name = "Константин Константинович Константинопольский"
    names = [long_name, "Ия", long_name, "Анна", long_name]
    csv_file = tmp_path / "greeting.csv"
    csv_file.write_text(
        "phone,name\n" + "".join(f"7926{i:07d},{n}\n" for i, n in enumerate(names, 1)),
        encoding="utf-8",
    )
    with SimulatorServer(FakeCallApi(minute_limit=20, tts_max_length=30)) as server:
        env = simulator_env(server)
        assert dialer(tmp_path, "campaign", "create", str(campaign_file), env=env).returncode == 0
        imported = dialer(tmp_path, "contacts", "import", "greeting", str(csv_file), env=env)
        assert imported.returncode == 0, imported.stderr
        # One request at a time: exactly one long text reaches the provider.
        result = dialer(tmp_path, "run", "greeting", "--concurrency", "1", "--lang", "ru", env=env)
        sent = [
            len(entry.params["contact_message"]["value"])
            for entry in server.request_log()
            if entry.method == "start.informer_call"
        ]

    assert result.returncode == 0, result.stderr
    assert counts_by_status(tmp_path) == {"placed": 2, "failed": 3}
    assert sorted(sent) == [17, 19, 60]  # the two short ones and a single long one
    # The campaign has no [window]: `run` warns, in the reader's language.
    assert result.stderr.startswith("внимание: у кампании 'greeting' нет [window]")
    last_line = result.stderr.strip().splitlines()[-1]  # one line, however long, in a log
    assert last_line.startswith(
        "greeting: завершена 5/5 (100.0%) звонков 2 ответили 0 не ответили 0 ошибок 3 "
    )
    engine = make_engine(f"sqlite:///{tmp_path / 'dialer.db'}")
    with transaction(engine) as session:
        assert session.scalars(select(Campaign.tts_limit_learned)).one() == 30
        refused = session.scalars(select(Attempt.error_mnemonic)).all()
    engine.dispose()
    assert sorted(refused, key=str) == [None, None, "tts_text_exceeded"]
