"""`dialer worker` killed outright (`kill -9`, the out-of-memory killer) takes its Celery worker
with it: the worker gets SIGTERM and shuts down warmly instead of dialing on, orphaned, beside
the `dialer worker` a supervisor starts next. On the embedded default: no service needed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.cli import ROOT, without_dialer_settings

# Bound on each wait (a shared machine starts Celery slowly); never a measure of speed.
BOUND = 120.0


def wait_for(what: str, condition: Callable[[], bool]) -> None:
    """Poll `condition` until it holds; fail after `BOUND` seconds."""
    deadline = time.monotonic() + BOUND
    while not condition():
        assert time.monotonic() < deadline, f"not within {BOUND:g} s: {what}"
        time.sleep(0.1)


def children_of(pid: int) -> list[int]:
    """The pids of the processes whose parent is `pid`."""
    table = subprocess.run(
        ["ps", "-A", "-o", "pid=,ppid="],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = (line.split() for line in table.splitlines() if line.strip())
    return [int(child) for child, parent in rows if int(parent) == pid]


def ended(pid: int) -> bool:
    """The process has ended (a zombie nobody has reaped yet has ended too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    state = subprocess.run(
        ["ps", "-o", "stat=", "-p", str(pid)],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return state.strip().startswith("Z") or not state.strip()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_the_celery_worker_stops_warmly_when_dialer_worker_is_killed(tmp_path: Path) -> None:
    output = tmp_path / "worker.out"
    env = without_dialer_settings(tmp_path) | {"DIALER_CALLAPI_ACCESS_TOKEN": "k"}
    with output.open("wb") as out:
        keeper = subprocess.Popen(
            [sys.executable, "-m", "dialer", "worker", "--pool=threads", "-c", "1"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
        )
    workers: list[int] = []
    try:
        wait_for("the Celery worker ready", lambda: " ready." in output.read_text("utf-8"))
        workers = children_of(keeper.pid)
        assert len(workers) == 1, workers
        keeper.send_signal(signal.SIGKILL)
        keeper.wait()

        wait_for("the orphaned Celery worker ended", lambda: ended(workers[0]))
    finally:
        keeper.kill()
        keeper.wait()
        for pid in workers:  # left running by a failure: kill it, not the next test's run
            if not ended(pid):
                os.kill(pid, signal.SIGKILL)
    # SIGTERM, not SIGKILL: requests in flight would have finished and been recorded.
    assert "Warm shutdown" in output.read_text("utf-8")
