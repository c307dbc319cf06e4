"""A worker started by a keeper (`dialer worker`, `dialer run`) stops when the keeper dies.

The keeper starts its Celery worker in a process group of its own, so that a terminal's Ctrl-C
reaches only the keeper, which stops the worker once. The price: a keeper killed outright
(`kill -9`, the out-of-memory killer) would leave its worker running, orphaned, and a supervisor
would then start a second `dialer worker` beside it that nobody ever stops. So the keeper names
itself in the worker's environment (`mark_child`), and the worker, as it starts, asks to get
SIGTERM when the keeper dies (`stop_with_parent`): a warm shutdown, as for a normal stop, so its
requests in flight finish and are recorded.

On Linux the kernel sends that SIGTERM (`prctl(PR_SET_PDEATHSIG)`), at once and for any death.
It is armed in the worker after it is running Python, not between fork and exec (that would
take `preexec_fn`, unsafe in a process with threads, as the keeper's dispatcher is): a keeper
that died before that is seen because the worker's parent is no longer the keeper, and the
worker then exits before it takes any message. Elsewhere (macOS) a daemon thread looks at the
worker's parent once every `WATCH_INTERVAL` seconds and sends the same SIGTERM when it changed:
one system call a second, in a dozen lines, rather than a worker that outlives its keeper.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import MutableMapping

# The pid of the keeper that started this worker, in the worker's environment.
PARENT_VARIABLE = "DIALER_WORKER_PARENT"
# prctl(2)'s option for "send me this signal when my parent dies", from <linux/prctl.h>.
PR_SET_PDEATHSIG = 1
# How often the watchdog looks at the parent where the kernel cannot be asked.
WATCH_INTERVAL = 1.0


class ParentGone(SystemExit):
    """The keeper died before its worker asked to follow it: the worker must not start."""


def mark_child(env: MutableMapping[str, str]) -> None:
    """Ask the worker about to be started with `env` to stop when this process dies."""
    env.pop(PARENT_VARIABLE, None)
    # The kernel's "parent" is the thread that forked, not the process: a worker started from
    # another thread would be stopped when that thread ends. The main thread lives as long as
    # the process (Python waits for the other threads in it), and the keepers start their
    # workers from it; a worker started elsewhere is left to its own devices.
    if threading.current_thread() is threading.main_thread():
        env[PARENT_VARIABLE] = str(os.getpid())


def stop_with_parent() -> None:
    """In a worker a keeper started: get SIGTERM when the keeper dies; raise `ParentGone` if it
    already has. Does nothing in a worker started any other way."""
    expected = os.environ.get(PARENT_VARIABLE)
    if not expected:
        return
    keeper = int(expected)
    armed = _ask_the_kernel()
    # Checked after arming, so that a keeper dying in between is caught by one or the other.
    if os.getppid() != keeper:
        raise ParentGone(f"dialer worker: the process that started this worker ({keeper}) is gone")
    if not armed:
        _watch(keeper)


def _ask_the_kernel() -> bool:
    """Arm PR_SET_PDEATHSIG with SIGTERM; False where there is no prctl (or it refused)."""
    if not sys.platform.startswith("linux"):
        return False
    prctl = getattr(ctypes.CDLL(None, use_errno=True), "prctl", None)
    return prctl is not None and prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) == 0


def _watch(keeper: int) -> None:
    """Send this process SIGTERM once its parent is no longer `keeper` (it died: orphans are
    handed to another process)."""

    def watch() -> None:
        while os.getppid() == keeper:
            time.sleep(WATCH_INTERVAL)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="dialer-parent-watch", daemon=True).start()
