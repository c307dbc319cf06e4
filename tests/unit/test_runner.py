"""The worker keeper behind `dialer run` and `dialer worker`: dead workers are started again,
within a bound per time window; a clean exit or a stop signal is not a death."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

import dialer.cli.main  # noqa: F401  (registers every command)
from dialer import doctor, runner, worker
from dialer.cli.app import app
from dialer.config import get_settings
from dialer.worker import PREFLIGHT_DONE_VARIABLE


def fake_worker(exit_code: int) -> subprocess.Popen[bytes]:
    """A process that ends at once with `exit_code` (negative: killed by that signal), standing
    in for a Celery worker."""
    end = f"os.kill(os.getpid(), {-exit_code})" if exit_code < 0 else f"sys.exit({exit_code})"
    process = subprocess.Popen([sys.executable, "-c", f"import os, sys; {end}"])
    process.wait()
    return process


# A stand-in for a Celery worker that runs until SIGTERM or SIGINT, notes which one it got in
# the file named by its argument, and exits 0 as a warm shutdown does.
UNTIL_STOPPED = """
import pathlib, signal, sys, time
note = pathlib.Path(sys.argv[1])
def stop(signum, frame):
    note.write_text(signal.Signals(signum).name)
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
note.with_suffix(".started").write_text("yes")
while True:
    time.sleep(0.05)
"""


class Starts:
    """What the keeper started: the arguments of each start, in order."""

    def __init__(self) -> None:
        self.calls: list[dict[str, object]] = []


@pytest.fixture(autouse=True)
def no_restart_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    """Restarts at once: the pause only keeps a real crash loop from spinning."""
    monkeypatch.setattr(runner, "RESTART_DELAY", 0.0)


@pytest.fixture
def workers_exiting_with(monkeypatch: pytest.MonkeyPatch) -> tuple[list[int], Starts]:
    """Exit codes the next started workers end with (the last one repeats), and the starts."""
    codes: list[int] = []
    starts = Starts()

    def start(
        concurrency: int, pool: str, log_file: Path | None, **options: object
    ) -> subprocess.Popen[bytes]:
        starts.calls.append({"concurrency": concurrency, "pool": pool, **options})
        return fake_worker(codes.pop(0) if len(codes) > 1 else codes[0])

    monkeypatch.setattr(runner, "start_worker_process", start)
    return codes, starts


def run_keeper(log_file: Path | None = None) -> tuple[runner.WorkerKeeper, Console]:
    """A keeper as `dialer run` makes one, saying what it does on a recorded console."""
    console = Console(record=True, width=200)
    keeper = runner.WorkerKeeper(
        1,
        "threads",
        name="run-test",
        say=lambda message: console.print(message, markup=False, highlight=False),
        log_file=log_file or get_settings().home / "worker.log",
    )
    return keeper, console


def test_a_dead_worker_is_started_again_said_and_logged(
    workers_exiting_with: tuple[list[int], Starts],
) -> None:
    codes, starts = workers_exiting_with
    codes.extend([-9, 0])
    workers, console = run_keeper()

    workers.check()

    said = "the worker process exited with code -9; started it again (1 of 5 restarts"
    text = console.export_text()
    assert said in text
    assert "killed by SIGKILL" in text
    assert said in (get_settings().home / "worker.log").read_text(encoding="utf-8")
    assert workers.note() == " · worker restarted 1x"
    # The restarted worker does not refuse to start because a service is away just now.
    assert [call["restarted"] for call in starts.calls] == [False, True]
    # `dialer run` does not check the services itself: its first worker does.
    assert [call["checked"] for call in starts.calls] == [False, False]


def test_restarts_are_bounded(workers_exiting_with: tuple[list[int], Starts]) -> None:
    workers_exiting_with[0].append(1)
    workers, _ = run_keeper()
    for _ in range(runner.MAX_WORKER_RESTARTS):
        workers.check()

    with pytest.raises(runner.RunError, match=r"code 1: 6 deaths within 10 min; .*worker\.log"):
        workers.check()


def test_the_bound_counts_only_restarts_within_the_window(
    workers_exiting_with: tuple[list[int], Starts], monkeypatch: pytest.MonkeyPatch
) -> None:
    workers_exiting_with[0].append(1)
    now = [1_000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    workers, _ = run_keeper()
    for _ in range(runner.MAX_WORKER_RESTARTS):
        workers.check()
        now[0] += runner.RESTART_WINDOW / runner.MAX_WORKER_RESTARTS + 1

    workers.check()  # the first restart has left the window: one more is allowed

    assert workers.restarts == runner.MAX_WORKER_RESTARTS + 1


def test_a_worker_stopped_cleanly_from_outside_interrupts_the_run(
    workers_exiting_with: tuple[list[int], Starts],
) -> None:
    workers_exiting_with[0].append(0)
    workers, _ = run_keeper()
    with pytest.raises(runner.WorkerStopped):
        workers.check()
    assert workers.restarts == 0


# --- as `dialer worker` uses it -------------------------------------------------------------


def quiet_keeper() -> runner.WorkerKeeper:
    """A keeper as `dialer worker` makes one (output to ours, said on stderr)."""
    return runner.WorkerKeeper(2, "threads", name="dialer-test", say=print)


def test_the_worker_command_restarts_a_crashed_worker_and_exits_0_when_it_stops(
    workers_exiting_with: tuple[list[int], Starts], capsys: pytest.CaptureFixture[str]
) -> None:
    codes, starts = workers_exiting_with
    codes.extend([1, -9, 0])
    stopped: list[bool] = []

    code = runner.run_keeper(quiet_keeper, on_stop=lambda: stopped.append(True))

    assert code == 0
    assert len(starts.calls) == 3
    out = capsys.readouterr().out
    assert "exited with code 1; started it again (1 of 5 restarts within 10 min)" in out
    assert "exited with code -9; started it again (2 of 5 restarts within 10 min; killed by" in out
    assert stopped == [True]


def test_the_worker_command_gives_up_after_the_bound_with_the_workers_exit_code(
    workers_exiting_with: tuple[list[int], Starts], capsys: pytest.CaptureFixture[str]
) -> None:
    codes, starts = workers_exiting_with
    codes.append(3)

    assert runner.run_keeper(quiet_keeper, on_stop=lambda: None) == 3

    assert len(starts.calls) == runner.MAX_WORKER_RESTARTS + 1
    assert "exited with code 3: 6 deaths within 10 min; not starting it again" in (
        capsys.readouterr().out
    )


def test_a_worker_killed_for_good_exits_as_a_shell_says(
    workers_exiting_with: tuple[list[int], Starts],
) -> None:
    workers_exiting_with[0].append(-9)
    assert runner.run_keeper(quiet_keeper, on_stop=lambda: None) == 128 + 9


@pytest.mark.parametrize(
    ("sig", "forwarded"),
    [
        (signal.SIGTERM, "SIGTERM"),
        (signal.SIGINT, "SIGINT"),
        # A closed terminal: Celery would take SIGHUP as "re-exec yourself".
        (signal.SIGHUP, "SIGTERM"),
    ],
)
def test_a_stop_signal_is_forwarded_once_and_ends_the_keeper_without_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sig: signal.Signals, forwarded: str
) -> None:
    note = tmp_path / "got"
    starts: list[bool] = []

    def start(
        concurrency: int, pool: str, log_file: Path | None, **options: object
    ) -> subprocess.Popen[bytes]:
        starts.append(bool(options["restarted"]))
        return subprocess.Popen([sys.executable, "-c", UNTIL_STOPPED, str(note)])

    monkeypatch.setattr(runner, "start_worker_process", start)

    def deploy_stops_us() -> None:
        deadline = time.monotonic() + 30
        while not note.with_suffix(".started").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), sig)  # to the keeper's process, as systemd or a terminal does

    before = signal.getsignal(sig)
    stopper = threading.Thread(target=deploy_stops_us)
    stopper.start()
    code = runner.run_keeper(quiet_keeper, on_stop=lambda: None)
    stopper.join()

    assert code == 0  # the worker's warm shutdown
    assert note.read_text() == forwarded
    assert starts == [False]
    assert signal.getsignal(sig) == before  # the keeper gave the handler back


def test_the_worker_command_keeps_its_options_and_says_why_it_cannot_start(
    workers_exiting_with: tuple[list[int], Starts], monkeypatch: pytest.MonkeyPatch
) -> None:
    codes, starts = workers_exiting_with
    codes.append(0)
    monkeypatch.setenv("DIALER_CALLAPI_ACCESS_TOKEN", "test-token")
    monkeypatch.setattr(doctor, "preflight", lambda *_: None)

    result = CliRunner().invoke(
        app, ["worker", "-c", "3", "--pool", "threads", "--loglevel", "DEBUG", "--no-dispatch"]
    )

    assert result.exit_code == 0, result.output
    assert starts.calls[0]["concurrency"] == 3
    assert starts.calls[0]["pool"] == "threads"
    assert starts.calls[0]["loglevel"] == "DEBUG"
    assert str(starts.calls[0]["name"]).startswith("dialer-")
    assert starts.calls[0]["checked"] is True  # it ran the preflight: the worker need not

    def broken(settings: object, connect: object) -> None:
        raise doctor.CheckFailed("cannot reach the broker redis://127.0.0.1:1/0")

    monkeypatch.setattr(doctor, "preflight", broken)
    refused = CliRunner().invoke(app, ["worker", "--no-dispatch"])
    assert refused.exit_code == 1
    assert "dialer worker: cannot start: cannot reach the broker" in refused.output
    assert len(starts.calls) == 1  # no worker was started, let alone again


def test_a_worker_is_told_when_its_services_were_checked_and_a_first_one_is_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(PREFLIGHT_DONE_VARIABLE, "1")  # left over from whoever started us
    seen: list[str | None] = []

    def popen(command: list[str], **options: object) -> None:
        env = options["env"]
        assert isinstance(env, dict)
        seen.append(env.get(PREFLIGHT_DONE_VARIABLE))

    monkeypatch.setattr(subprocess, "Popen", popen)
    runner.start_worker_process(1, "threads", None, restarted=False)
    runner.start_worker_process(1, "threads", None, restarted=True)
    runner.start_worker_process(1, "threads", None, checked=True)
    assert seen == [None, "1", "1"]


@pytest.fixture
def preflights(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The settings of each `doctor.preflight` run, which passes."""
    runs: list[object] = []
    monkeypatch.setenv("DIALER_CALLAPI_ACCESS_TOKEN", "test-token")
    monkeypatch.setattr(doctor, "preflight", lambda settings, *_: runs.append(settings))
    return runs


def test_a_worker_started_by_hand_runs_the_preflight_at_start(
    preflights: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PREFLIGHT_DONE_VARIABLE, raising=False)  # plain `celery ... worker`
    worker._refuse_to_start_broken()
    assert len(preflights) == 1


def test_a_worker_whose_keeper_ran_the_preflight_does_not_run_it_again(
    preflights: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[dict[str, str]] = []

    class StoppedWorker:
        """A worker process that has already exited 0 (stopped cleanly)."""

        def wait(self) -> int:
            return 0

    def popen(command: list[str], **options: object) -> StoppedWorker:
        env = options["env"]
        assert isinstance(env, dict)
        started.append(env)
        return StoppedWorker()

    monkeypatch.setattr(subprocess, "Popen", popen)
    result = CliRunner().invoke(app, ["worker", "--pool", "threads", "--no-dispatch"])
    assert result.exit_code == 0, result.output
    assert len(preflights) == 1  # `dialer worker`'s own
    assert len(started) == 1

    # The worker it started, at its `celeryd_init`, with what its environment says.
    monkeypatch.setenv(PREFLIGHT_DONE_VARIABLE, started[0][PREFLIGHT_DONE_VARIABLE])
    worker._refuse_to_start_broken()
    assert len(preflights) == 1
