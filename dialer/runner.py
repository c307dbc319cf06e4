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
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from sqlalchemy import Engine

from dialer import lifecycle, parent_death
from dialer.campaigns import find_campaign, stored_window_warning
from dialer.config import Settings, get_settings
from dialer.db import engine_for, read_only, transaction
from dialer.migrate import ensure_schema
from dialer.models import CampaignState
from dialer.outcome_collection import collect_once
from dialer.reports.messages import Texts
from dialer.reports.status import CampaignStatus, campaign_status
from dialer.worker import PREFLIGHT_DONE_VARIABLE, celery_command, dispatch_once, worker_argv

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


def start_worker_process(
    concurrency: int,
    pool: str,
    log_file: Path | None,
    *,
    name: str | None = None,
    loglevel: str = "INFO",
    restarted: bool = False,
    checked: bool = False,
) -> subprocess.Popen[bytes]:
    """Start one Celery worker process, its output going to `log_file` (or to ours if None);
    `checked`: the caller has just run `doctor.preflight`, which the worker then skips. It gets
    SIGTERM when this process dies (see `dialer.parent_death`)."""
    env = os.environ.copy()
    env.pop(PREFLIGHT_DONE_VARIABLE, None)
    if restarted or checked:
        # Checked once is enough. And the services were checked when the first worker started:
        # a restart during an outage waits for them (Celery retries the broker) instead of
        # refusing to start and so using up the restarts in seconds.
        env[PREFLIGHT_DONE_VARIABLE] = "1"
    parent_death.mark_child(env)
    command = worker_command(concurrency, pool, name or f"run-{os.getpid()}", loglevel)
    if log_file is None:
        return subprocess.Popen(command, env=env, process_group=0)  # noqa: S603 - see below
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as out:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and fixed arguments
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            # Its own process group: a terminal's Ctrl-C reaches only the keeper's process,
            # which then stops the worker itself (once), letting the requests in flight finish
            # and be recorded. If the keeper dies instead, the worker stops by itself (above).
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


# Restarts of a dying worker within RESTART_WINDOW seconds; past this, a restart will not fix
# what is wrong. A worker that ran well for longer than the window starts with a clean slate.
MAX_WORKER_RESTARTS = 5
RESTART_WINDOW = 600.0
# Pause before a restart, so that a worker dying at once again does not spin.
RESTART_DELAY = 1.0


def killed_by(code: int) -> str | None:
    """The name of the signal that ended a process with exit code `code`, if one did."""
    try:
        return signal.Signals(-code).name if code < 0 else None
    except ValueError:
        return None


def exit_reason(code: int) -> str:
    """How a process ended, in words: its exit code, and the signal that killed it if one did."""
    signal_name = killed_by(code)
    return f"exited with code {code}" + (f" (killed by {signal_name})" if signal_name else "")


def shell_exit_code(code: int) -> int:
    """A child's exit code as a shell reports it: 128 + N when signal N killed it."""
    return 128 - code if code < 0 else code


class WorkerStopped(Exception):
    """The worker was stopped cleanly (exit 0) or the keeper was told to stop: no restart."""


class WorkerFailed(RunError):
    """The worker died more often than the keeper restarts it; `exit_code` is its last."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class WorkerKeeper:
    """A Celery worker process, started again when it dies: at most `MAX_WORKER_RESTARTS` times
    within `RESTART_WINDOW` seconds, each restart said (with the exit reason) and logged.

    The one implementation behind `dialer run` (which polls `check()` between progress lines)
    and `dialer worker` (which blocks in `wait()` and forwards its stop signals with `signal()`).
    A worker that exits 0 was stopped cleanly (SIGTERM, a deploy) and is not restarted; one
    whose keeper dies, even by `kill -9`, gets SIGTERM. `checked`: the caller has just run
    `doctor.preflight`, so the first worker does not run it again.
    """

    def __init__(
        self,
        concurrency: int,
        pool: str,
        *,
        name: str,
        say: Callable[[str], None],
        log_file: Path | None = None,
        loglevel: str = "INFO",
        grace: float = 30.0,
        who: str = "dialer",
        checked: bool = False,
    ) -> None:
        self.concurrency = concurrency
        self.pool = pool
        self.name = name
        self.say = say
        self.log_file = log_file
        self.loglevel = loglevel
        self.grace = grace
        self.who = who
        self.checked = checked
        self.restart_delay = RESTART_DELAY
        self.restarts = 0
        self._recent: deque[float] = deque()
        self._stopping: int | None = None
        self.process = self._start(restarted=False)

    def _start(self, *, restarted: bool) -> subprocess.Popen[bytes]:
        return start_worker_process(
            self.concurrency,
            self.pool,
            self.log_file,
            name=self.name,
            loglevel=self.loglevel,
            restarted=restarted,
            checked=self.checked,
        )

    def check(self) -> None:
        """Start the worker again if it died; raise `WorkerStopped` when it was stopped cleanly,
        `WorkerFailed` when it died too often.

        Any death but a clean exit (a crash, `kill -9`) costs only a restart: the dispatcher
        settles what it left mid-request and re-sends its lost wake-ups.
        """
        code = self.process.poll()
        if code is not None:
            self.restart_after(code)

    def wait(self) -> int:
        """Block until the worker process exits; its exit code."""
        return self.process.wait()

    def restart_after(self, code: int) -> None:
        """The worker exited with `code`: start it again, or raise as `check()` says."""
        if code == 0 or self._stopping is not None:
            raise WorkerStopped(exit_reason(code))
        now = time.monotonic()
        while self._recent and now - self._recent[0] > RESTART_WINDOW:
            self._recent.popleft()
        where = f"; see {self.log_file}" if self.log_file else ""
        window = f"within {RESTART_WINDOW / 60:g} min"
        if len(self._recent) >= MAX_WORKER_RESTARTS:
            message = (
                f"the worker process {exit_reason(code)}: {len(self._recent) + 1} deaths "
                f"{window}; not starting it again{where}"
            )
            self._tell(message)
            raise WorkerFailed(message, shell_exit_code(code))
        self._recent.append(now)
        self.restarts += 1
        signal_name = killed_by(code)
        signal_note = f"; killed by {signal_name}" if signal_name else ""
        self._tell(
            f"the worker process exited with code {code}; started it again "
            f"({len(self._recent)} of {MAX_WORKER_RESTARTS} restarts {window}{signal_note}{where})"
        )
        time.sleep(self.restart_delay)
        if self._stopping is not None:  # told to stop while it was down
            raise WorkerStopped(exit_reason(code))
        self.process = self._start(restarted=True)

    def signal(self, signum: int) -> None:
        """Forward a stop signal to the worker (SIGTERM: warm shutdown, requests in flight
        finish); once told, the keeper restarts nothing."""
        self._stopping = signum
        if self.process.poll() is None:
            self.process.send_signal(signum)

    def stop(self) -> None:
        """Stop the worker: requests in flight finish first."""
        self._stopping = signal.SIGTERM
        stop_worker_process(self.process, grace=self.grace)

    def note(self) -> str:
        """What the progress line says about restarts (nothing when there were none)."""
        return f" · worker restarted {self.restarts}x" if self.restarts else ""

    def _tell(self, message: str) -> None:
        log.info(message)
        self.say(message)
        if self.log_file is None:
            return
        # Beside the dead worker's last words, where someone looking into it will read.
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("a", encoding="utf-8") as out:
            stamp = f"{dt.datetime.now().astimezone():%Y-%m-%d %H:%M:%S%z}"
            out.write(f"[{stamp}] {self.who}: {message}\n")


def run_keeper(keeper_factory: Callable[[], WorkerKeeper], on_stop: Callable[[], None]) -> int:
    """Keep a worker until it is stopped or gives up, forwarding SIGTERM and SIGINT to it (and
    SIGHUP as SIGTERM); returns the exit code: the worker's own after a stop (0 for a clean
    one), or after its last death when the restarts ran out (128 + N if signal N killed it)."""
    signals = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    previous = {sig: signal.getsignal(sig) for sig in signals}
    told: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        # A closed terminal (SIGHUP) stops the worker too; to Celery, SIGHUP means re-exec.
        signum = signal.SIGTERM if signum == signal.SIGHUP else signum
        if keeper is None:
            told.append(signum)  # forwarded as soon as the worker is there
        else:
            keeper.signal(signum)

    keeper: WorkerKeeper | None = None
    for sig in signals:
        signal.signal(sig, forward)
    try:
        keeper = keeper_factory()
        for signum in told:  # arrived while it was being started
            keeper.signal(signum)
        while True:
            code = keeper.wait()
            try:
                keeper.restart_after(code)
            except WorkerStopped:
                return shell_exit_code(code)
            except WorkerFailed as exc:
                return exc.exit_code
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        on_stop()


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
            workers = WorkerKeeper(
                concurrency,
                pool,
                name=f"run-{os.getpid()}",
                say=lambda message: console.print(message, markup=False, highlight=False),
                log_file=settings.home / "worker.log",
                grace=settings.read_timeout + 5,
                who="dialer run",
            )
            try:
                status = _follow(name, settings, workers, console, texts)
            finally:
                workers.stop()
    except (KeyboardInterrupt, WorkerStopped):
        # A worker stopped cleanly from outside (exit 0, e.g. SIGTERM) interrupts the run too.
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
