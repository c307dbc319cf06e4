"""Working campaigns from this process: the dispatcher loop, Celery worker processes, and the
foreground `dialer run` that ties them together with a live progress line."""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from sqlalchemy import Engine

from dialer import lifecycle
from dialer.campaigns import find_campaign, stored_window_warning
from dialer.config import Settings, get_settings
from dialer.db import engine_for, read_only, transaction
from dialer.migrate import ensure_schema
from dialer.models import CampaignState
from dialer.outcome_collection import collect_once
from dialer.reports.messages import Texts
from dialer.reports.status import CampaignStatus, campaign_status
from dialer.worker import celery_command, dispatch_once, worker_argv

log = logging.getLogger("dialer.runner")


class RunError(RuntimeError):
    """The foreground run could not go on (a worker died, the campaign is missing)."""


class OutcomePasses:
    """Outcome collector passes every `outcomes_interval` seconds, for a loop that turns faster.

    A failed pass is logged and tried again next time: call reports never stop calls.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._due = 0.0

    def maybe_run(self) -> None:
        """Run a pass if one is due."""
        if not self.settings.outcomes_enabled or time.monotonic() < self._due:
            return
        self._due = time.monotonic() + self.settings.outcomes_interval
        try:
            collect_once(self.settings)
        except Exception:
            log.exception("outcome collector pass failed")


def dispatch_forever(stop: threading.Event, interval: float) -> None:
    """Run dispatcher passes every `interval` seconds, and outcome collector passes when due,
    until `stop` is set; errors are logged."""
    outcomes = OutcomePasses(get_settings())
    while not stop.is_set():
        try:
            dispatch_once()
        except Exception:
            # The next pass starts from the database again; one failed pass loses nothing.
            log.exception("dispatcher pass failed")
        outcomes.maybe_run()
        stop.wait(interval)


def start_dispatcher_thread(settings: Settings) -> tuple[threading.Thread, threading.Event]:
    """Start the dispatcher loop in a daemon thread; set the event to stop it."""
    stop = threading.Event()
    thread = threading.Thread(
        target=dispatch_forever, args=(stop, settings.dispatch_interval), daemon=True
    )
    thread.start()
    return thread, stop


def worker_command(concurrency: int, pool: str, name: str, loglevel: str = "INFO") -> list[str]:
    """The command line of a Celery worker process for this package's app."""
    return celery_command(worker_argv(concurrency, pool, name, loglevel))


def start_worker_process(concurrency: int, pool: str, log_file: Path) -> subprocess.Popen[bytes]:
    """Start one Celery worker process, its output going to `log_file`."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as out:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and fixed arguments
            worker_command(concurrency, pool, f"run-{os.getpid()}"),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=os.environ.copy(),
            # Its own process group: a terminal's Ctrl-C reaches only `dialer run`, which then
            # stops the worker itself, letting the requests in flight finish and be recorded.
            process_group=0,
        )


def stop_worker_process(process: subprocess.Popen[bytes], grace: float) -> None:
    """Warm shutdown (requests in flight finish), then kill after `grace` seconds or at a
    second Ctrl-C."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except (subprocess.TimeoutExpired, KeyboardInterrupt):
        # A request cut short here is settled by the dispatcher's look-up, never redialed blind.
        process.kill()
        process.wait()


# Restarts of a dying worker within one run; past this, a restart will not fix what is wrong.
MAX_WORKER_RESTARTS = 5


class WorkerKeeper:
    """The run's worker process, started again (a bounded number of times) when it dies."""

    def __init__(self, settings: Settings, concurrency: int, pool: str, console: Console) -> None:
        self.log_file = settings.home / "worker.log"
        self.grace = settings.read_timeout + 5
        self.concurrency = concurrency
        self.pool = pool
        self.console = console
        self.restarts = 0
        self.process = start_worker_process(concurrency, pool, self.log_file)

    def check(self) -> None:
        """Start the worker again if it died; raise when it was stopped or died too often.

        A worker stopped from outside by a clean shutdown (exit 0, e.g. SIGTERM) ends the run as
        an interruption; any other death (a crash, `kill -9`) costs only a restart: the
        dispatcher settles what it left mid-request and re-sends its lost wake-ups.
        """
        code = self.process.poll()
        if code is None:
            return
        if code == 0:
            raise KeyboardInterrupt
        if self.restarts >= MAX_WORKER_RESTARTS:
            raise RunError(
                f"the worker process exited with code {code} "
                f"{self.restarts + 1} times; see {self.log_file}"
            )
        self.restarts += 1
        message = (
            f"the worker process exited with code {code}; started it again "
            f"({self.restarts} of {MAX_WORKER_RESTARTS} restarts; see {self.log_file})"
        )
        log.info(message)
        self.console.print(message, markup=False, highlight=False)
        # Beside the dead worker's last words, where someone looking into it will read.
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("a", encoding="utf-8") as out:
            out.write(
                f"[{dt.datetime.now().astimezone():%Y-%m-%d %H:%M:%S%z}] dialer run: {message}\n"
            )
        self.process = start_worker_process(self.concurrency, self.pool, self.log_file)

    def stop(self) -> None:
        """Stop the worker: requests in flight finish first."""
        stop_worker_process(self.process, grace=self.grace)

    def note(self) -> str:
        """What the progress line says about restarts (nothing when there were none)."""
        return f" · worker restarted {self.restarts}x" if self.restarts else ""


@dataclass(frozen=True)
class RunResult:
    """How a foreground run ended."""

    exit_code: int
    status: CampaignStatus


class RunInterrupted(Exception):
    """The run was stopped from outside (Ctrl-C, SIGTERM, or its worker was stopped); the
    campaign is intact and still running, so `dialer run` continues it."""


def run_campaign(
    name: str,
    console: Console,
    *,
    concurrency: int = 4,
    pool: str = "threads",
    settings: Settings | None = None,
    warn_without_window: bool = True,
    texts: Texts | None = None,
) -> RunResult:
    """Start the campaign and work it to the end in the foreground, showing progress.

    Raises `RunInterrupted` when stopped from outside; the worker is stopped cleanly first.
    """
    settings = settings or get_settings()
    engine = engine_for(settings.database_url)
    ensure_schema(engine)
    with transaction(engine) as session:
        warning = stored_window_warning(lifecycle.start(session, name), texts)
    if warning and warn_without_window:
        console.print(warning, markup=False, highlight=False)
    try:
        with _signals_interrupt():
            workers = WorkerKeeper(settings, concurrency, pool, console)
            try:
                status = _follow(name, settings, workers, console, texts)
            finally:
                workers.stop()
    except KeyboardInterrupt:
        console.print()
        raise RunInterrupted(name) from None
    return RunResult(_exit_code(status), status)


@contextmanager
def _signals_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP (a closed terminal) interrupt the run as Ctrl-C does, so that the
    worker is stopped cleanly instead of being left behind."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGHUP)}

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    for sig in previous:
        signal.signal(sig, interrupt)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _follow(
    name: str, settings: Settings, workers: WorkerKeeper, console: Console, texts: Texts | None
) -> CampaignStatus:
    """Dispatch and redraw the progress line until the campaign stops running."""
    # The progress line only reads: on SQLite it must not take the write lock the workers need.
    engine = read_only(engine_for(settings.database_url))
    last_print = 0.0
    outcomes = OutcomePasses(settings)
    while True:
        dispatch_once()
        outcomes.maybe_run()
        status = _status(engine, name, settings)
        line = status.line(texts) + workers.note()
        if console.is_terminal:
            console.print(line, end="\r", overflow="ellipsis", soft_wrap=False)
        elif time.monotonic() - last_print >= 5:
            console.print(line)
            last_print = time.monotonic()
        if status.state != CampaignState.RUNNING:
            console.print(" " * 10)
            return status
        workers.check()
        time.sleep(settings.dispatch_interval)


def _status(engine: Engine, name: str, settings: Settings) -> CampaignStatus:
    with transaction(engine) as session:
        campaign = find_campaign(session, name)
        cost = settings.cost(campaign.method)
        return campaign_status(session, campaign, account=settings.account_key, cost=cost)


def _exit_code(status: CampaignStatus) -> int:
    """0 when nobody is left to dial; 1 when the campaign paused itself (or was paused)."""
    return 0 if status.state in (CampaignState.COMPLETED, CampaignState.CANCELLED) else 1
