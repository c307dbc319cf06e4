"""A worker stops when the keeper that started it dies, even by SIGKILL: real processes stand
in for the keeper and the worker, through the kernel's parent-death signal and through the
watchdog used where there is none."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dialer import parent_death

# Bound on each wait below (a shared machine starts Python slowly); never a measure of speed.
BOUND = 60.0

# A stand-in for a keeper: starts the worker stand-in as `start_worker_process` does (its own
# process group, named in its environment), writes the worker's pid, then waits to be killed.
KEEPER = """
import os, subprocess, sys
from dialer import parent_death
note, how = sys.argv[1], sys.argv[2]
env = os.environ.copy()
parent_death.mark_child(env)
worker = subprocess.Popen([sys.executable, "-c", sys.argv[3], note, how], env=env, process_group=0)
open(note + ".pid", "w").write(str(worker.pid))
worker.wait()
"""

# A stand-in for a Celery worker: asks to follow its keeper as the worker does at start, then
# runs until SIGTERM, which it notes in a file before it exits 0 (a warm shutdown).
WORKER = """
import pathlib, signal, sys, time
from dialer import parent_death
note = pathlib.Path(sys.argv[1])
if sys.argv[2] == "watchdog":  # as on a system without prctl
    parent_death._ask_the_kernel = lambda: False
    parent_death.WATCH_INTERVAL = 0.05
def stop(signum, frame):
    note.write_text(signal.Signals(signum).name)
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
parent_death.stop_with_parent()
note.with_suffix(".started").write_text("yes")
while True:
    time.sleep(0.05)
"""


def wait_for(what: str, condition: object) -> None:
    """Poll `condition` (a callable) until it holds; fail after `BOUND` seconds."""
    assert callable(condition)
    deadline = time.monotonic() + BOUND
    while not condition():
        assert time.monotonic() < deadline, f"not within {BOUND:g} s: {what}"
        time.sleep(0.05)


def gone(pid: int) -> bool:
    """The process has ended (a zombie nobody has reaped yet has ended too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"


@pytest.fixture
def workers_left() -> Iterator[list[int]]:
    """Pids of worker stand-ins; any still running after the test is killed."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if not gone(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("how", ["kernel", "watchdog"])
def test_a_worker_gets_sigterm_when_its_keeper_is_killed(
    tmp_path: Path, how: str, workers_left: list[int]
) -> None:
    note = tmp_path / "got"
    keeper = subprocess.Popen([sys.executable, "-c", KEEPER, str(note), how, WORKER])
    try:
        wait_for("the worker started", note.with_suffix(".started").exists)
        worker = int(Path(f"{note}.pid").read_text())
        workers_left.append(worker)
    finally:
        keeper.kill()
        keeper.wait()

    wait_for("the orphaned worker ended", lambda: gone(worker))
    assert note.read_text() == "SIGTERM"  # a warm shutdown, as for a normal stop


def test_a_worker_whose_keeper_died_before_it_asked_does_not_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[bool] = []

    def kernel_armed() -> bool:
        asked.append(True)
        return True

    monkeypatch.setattr(parent_death, "_ask_the_kernel", kernel_armed)
    # Its parent now is whoever adopted it, not the keeper that named itself.
    monkeypatch.setenv(parent_death.PARENT_VARIABLE, str(os.getppid() + 1))

    with pytest.raises(parent_death.ParentGone, match="is gone"):
        parent_death.stop_with_parent()
    assert asked == [True]  # armed first: a keeper dying after the check is caught too


def test_a_worker_not_started_by_a_keeper_follows_nobody(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(parent_death.PARENT_VARIABLE, raising=False)
    monkeypatch.setattr(parent_death, "_ask_the_kernel", lambda: pytest.fail("armed"))
    parent_death.stop_with_parent()  # a plain `celery worker`: nothing to follow


def test_only_a_worker_started_from_the_main_thread_follows_its_keeper() -> None:
    # The kernel's parent is the forking thread: from another one, the worker would be stopped
    # when that thread ends, not when the keeper does.
    from_main = {parent_death.PARENT_VARIABLE: "left over"}
    parent_death.mark_child(from_main)
    from_other = {parent_death.PARENT_VARIABLE: "left over"}
    thread = threading.Thread(target=parent_death.mark_child, args=(from_other,))
    thread.start()
    thread.join()

    assert from_main == {parent_death.PARENT_VARIABLE: str(os.getpid())}
    assert from_other == {}
