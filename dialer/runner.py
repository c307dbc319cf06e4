"""Working campaigns from this process: the dispatcher loop, Celery worker processes, and the
foreground `dialer run` that ties them together with a live progress line."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from sqlalchemy import Engine

from dialer import lifecycle
from dialer.campaigns import find_campaign
from dialer.config import Settings, get_settings
from dialer.db import engine_for, read_only, transaction
from dialer.migrate import ensure_schema
from dialer.models import CampaignState
from dialer.reports.status import CampaignStatus, campaign_status
from dialer.worker import celery_command, dispatch_once, worker_argv

log = logging.getLogger("dialer.runner")


class RunError(RuntimeError):
    """The foreground run could not go on (a worker died, the campaign is missing)."""


def dispatch_forever(stop: threading.Event, interval: float) -> None:
    """Run dispatcher passes every `interval` seconds until `stop` is set; errors are logged."""
    while not stop.is_set():
        try:
            dispatch_once()
        except Exception:
            # The next pass starts from the database again; one failed pass loses nothing.
            log.exception("dispatcher pass failed")
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
        )


def stop_worker_process(process: subprocess.Popen[bytes], grace: float) -> None:
    """Warm shutdown (requests in flight finish), then kill after `grace` seconds."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass(frozen=True)
class RunResult:
    """How a foreground run ended."""

    exit_code: int
    status: CampaignStatus


def run_campaign(
    name: str,
    console: Console,
    *,
    concurrency: int = 4,
    pool: str = "threads",
    settings: Settings | None = None,
) -> RunResult:
    """Start the campaign and work it to the end in the foreground, showing progress."""
    settings = settings or get_settings()
    engine = engine_for(settings.database_url)
    ensure_schema(engine)
    with transaction(engine) as session:
        lifecycle.start(session, name)
    worker = start_worker_process(concurrency, pool, settings.home / "worker.log")
    try:
        status = _follow(name, settings, worker, console)
    finally:
        stop_worker_process(worker, grace=settings.read_timeout + 5)
    return RunResult(_exit_code(status), status)


def _follow(
    name: str, settings: Settings, worker: subprocess.Popen[bytes], console: Console
) -> CampaignStatus:
    """Dispatch and redraw the progress line until the campaign stops running."""
    # The progress line only reads: on SQLite it must not take the write lock the workers need.
    engine = read_only(engine_for(settings.database_url))
    last_print = 0.0
    while True:
        dispatch_once()
        status = _status(engine, name, settings)
        if console.is_terminal:
            console.print(status.line(), end="\r", overflow="ellipsis", soft_wrap=False)
        elif time.monotonic() - last_print >= 5:
            console.print(status.line())
            last_print = time.monotonic()
        if status.state != CampaignState.RUNNING:
            console.print(" " * 10)
            return status
        if worker.poll() is not None:
            raise RunError(
                f"the worker process exited with code {worker.returncode}; "
                f"see {settings.home / 'worker.log'}"
            )
        time.sleep(settings.dispatch_interval)


def _status(engine: Engine, name: str, settings: Settings) -> CampaignStatus:
    with transaction(engine) as session:
        campaign = find_campaign(session, name)
        return campaign_status(session, campaign, account=settings.account_key)


def _exit_code(status: CampaignStatus) -> int:
    """0 when nobody is left to dial; 1 when the campaign paused itself (or was paused)."""
    return 0 if status.state in (CampaignState.COMPLETED, CampaignState.CANCELLED) else 1
