"""The foreground run's worker keeper: dead workers are started again, within a bound."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from dialer import runner
from dialer.config import get_settings


def fake_worker(exit_code: int) -> subprocess.Popen[bytes]:
    """A process that ends at once with `exit_code` (negative: killed by that signal), standing
    in for a Celery worker."""
    end = f"os.kill(os.getpid(), {-exit_code})" if exit_code < 0 else f"sys.exit({exit_code})"
    process = subprocess.Popen([sys.executable, "-c", f"import os, sys; {end}"])
    process.wait()
    return process


@pytest.fixture
def workers_exiting_with(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Exit codes the next started workers end with (the last one repeats)."""
    codes: list[int] = []

    def start(concurrency: int, pool: str, log_file: Path) -> subprocess.Popen[bytes]:
        return fake_worker(codes.pop(0) if len(codes) > 1 else codes[0])

    monkeypatch.setattr(runner, "start_worker_process", start)
    return codes


def keeper() -> tuple[runner.WorkerKeeper, Console]:
    console = Console(record=True, width=200)
    return runner.WorkerKeeper(get_settings(), 1, "threads", console), console


def test_a_dead_worker_is_started_again_said_and_logged(workers_exiting_with: list[int]) -> None:
    workers_exiting_with.extend([-9, 0])
    workers, console = keeper()

    workers.check()

    said = "the worker process exited with code -9; started it again (1 of 5 restarts"
    assert said in console.export_text()
    assert said in (get_settings().home / "worker.log").read_text(encoding="utf-8")
    assert workers.note() == " · worker restarted 1x"


def test_restarts_are_bounded(workers_exiting_with: list[int]) -> None:
    workers_exiting_with.append(1)
    workers, _ = keeper()
    for _ in range(runner.MAX_WORKER_RESTARTS):
        workers.check()

    with pytest.raises(runner.RunError, match=r"exited with code 1 6 times; see .*worker\.log"):
        workers.check()


def test_a_worker_stopped_cleanly_from_outside_interrupts_the_run(
    workers_exiting_with: list[int],
) -> None:
    workers_exiting_with.append(0)
    workers, _ = keeper()
    with pytest.raises(KeyboardInterrupt):
        workers.check()
    assert workers.restarts == 0
