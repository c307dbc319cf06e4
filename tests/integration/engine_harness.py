"""A harness for running the dialing engine for real: a scratch PostgreSQL database, a queue of
its own on a real broker, the Call API simulator on a loopback port, and worker and dispatcher
processes started as subprocesses with the environment a deployment would give them.

    with engine_run(tmp_path, broker, FakeCallApi(minute_limit=20, window_seconds=2)) as run:
        campaign_id = run.create_campaign(phones(60))
        run.start_dispatchers(2)
        run.start_workers(3, concurrency=2)
        run.wait_until_final(campaign_id)
        check_nobody_dialed_twice(run)

Everything is bounded: waits poll the database and give up with the processes' logs attached,
and every process started is stopped (or killed) when the block ends.
"""

from __future__ import annotations

import collections
import contextlib
import math
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from dialer import blacklist, lifecycle
from dialer.callapi.methods import START_METHODS
from dialer.campaigns import create_campaign, parse_campaign
from dialer.contacts import import_contacts
from dialer.db import make_engine, ping, transaction
from dialer.migrate import ensure_schema
from dialer.models import (
    FINAL_STATUSES,
    Attempt,
    BlacklistEntry,
    BlacklistSource,
    Campaign,
    Contact,
    ContactStatus,
)
from dialer.runner import worker_command
from dialer.simulator import DEFAULT_ACCESS_TOKEN, FakeCallApi, LogEntry, SimulatorServer
from tests.services import (
    POSTGRES_URL,
    RABBITMQ_URL,
    REDIS_URL,
    free_port,
    require,
    require_tool,
    scratch_postgres_database,
    services_required,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
CAMPAIGN_NAME = "engine-it"
CAMPAIGN_TOML = """\
name = "engine-it"
method = "start.informer_call"

[params]
virtual_phone_number = "74993720692"
direction = "out"
contact_message = { type = "tts", value = "Здравствуйте, {name}! Ваш заказ готов." }

[retry]
attempts = 2
delays = ["1s"]
"""
POLL_SECONDS = 0.2


# --- brokers --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Broker:
    """A real broker the workers share, reached at `url`."""

    name: str
    url: str
    host: str
    port: int

    def require(self) -> None:
        """Skip (or, in CI, fail) unless the broker is reachable."""
        require(self.name, self.host, self.port)

    def purge(self, queue: str) -> int:
        """Drop every message waiting on `queue` (a broker restart that lost them); how many."""
        with _channel(self.url) as channel:
            return int(channel.queue_purge(queue) or 0)

    def delete(self, queue: str) -> None:
        """Remove `queue` from the broker, so that test runs leave nothing behind."""
        try:
            with _channel(self.url) as channel:
                channel.queue_delete(queue)
        except Exception as exc:  # cleanup must not hide the test's own outcome
            print(f"could not delete queue {queue} on {self.name}: {exc}")


@contextmanager
def _channel(url: str) -> Iterator[Any]:
    """A kombu channel on the broker at `url` (kombu is untyped)."""
    import kombu.connection

    connection_class: Any = kombu.connection.Connection
    with connection_class(url) as connection:
        yield connection.default_channel


REDIS = Broker("Redis", REDIS_URL, "127.0.0.1", 6379)
RABBITMQ = Broker("RabbitMQ", RABBITMQ_URL, "127.0.0.1", 5672)


# --- services stopped and started again -----------------------------------------------------------


@dataclass(frozen=True)
class Service:
    """A service the tests may stop and start again: the commands, and how to tell it answers."""

    name: str
    stop_command: tuple[str, ...]
    start_command: tuple[str, ...]
    answers: Callable[[], bool]

    def require(self) -> None:
        """Skip (or, in CI, fail) unless this machine has the tools to stop and start it."""
        tools = {self.stop_command[0], self.start_command[0]}
        missing = sorted(tool for tool in tools if not shutil.which(tool))
        if missing:
            reason = f"cannot restart {self.name} here: no {', '.join(missing)}"
            if services_required():
                pytest.fail(f"{reason}; DIALER_REQUIRE_SERVICES is set", pytrace=False)
            pytest.skip(reason)

    @contextmanager
    def down(self) -> Iterator[None]:
        """The service stopped for the block, and started again and answering after it,
        whatever happened inside (others share it: the outage must stay short)."""
        subprocess.run(self.stop_command, check=True, capture_output=True, timeout=60)
        try:
            yield
        finally:
            self._start()

    def _start(self) -> None:
        """Start it and wait until it answers (bounded); start it again only if starting
        failed (a second start of a service still booting can disturb it)."""
        deadline = time.monotonic() + SERVICE_START_SECONDS
        started = False
        while not (started and self.answers()):
            if time.monotonic() > deadline:
                pytest.fail(f"{self.name} did not answer {SERVICE_START_SECONDS} s after start")
            if not started:
                command = subprocess.run(
                    self.start_command, check=False, capture_output=True, timeout=60
                )
                started = command.returncode == 0
            time.sleep(POLL_SECONDS)


SERVICE_START_SECONDS = 60


def _answers(check: Callable[[], object]) -> Callable[[], bool]:
    """`check()` made into a yes/no: any error means the service does not answer yet."""

    def answers() -> bool:
        try:
            check()
        except Exception:  # each client fails in its own way; all mean "not yet"
            return False
        return True

    return answers


def _redis_answers(port: int) -> None:
    reply = subprocess.run(
        ["redis-cli", "-p", str(port), "ping"],
        check=True,
        capture_output=True,
        text=True,
        timeout=5,
    )
    assert reply.stdout.strip() == "PONG"


def _rabbitmq_answers() -> None:
    with _channel(RABBITMQ_URL) as channel:
        channel.queue_declare("dialer-it-ping", auto_delete=True)


def _postgres_answers() -> None:
    engine = make_engine(POSTGRES_URL)
    try:
        ping(engine)
    finally:
        engine.dispose()


def _postgres_cluster(action: str, *options: str) -> tuple[str, ...]:
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    version = versions[-1] if versions else "?"
    return ("pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action, *options)


@contextmanager
def private_redis(tmp_path: Path, *, keeps_data: bool = False) -> Iterator[tuple[Broker, Service]]:
    """A redis-server of this test's own on a free loopback port: the broker on it, and the
    service to restart it by. The test may stop and start it at will without disturbing anyone;
    it is shut down (or killed) when the block ends.

    Like the shared one it runs without persistence (a restart loses every message), unless
    `keeps_data`: then a restart keeps them, as a Redis that saves on shutdown does.
    """
    require_tool("redis-server", "a private Redis cannot be started")
    require_tool("redis-cli", "a private Redis cannot be stopped")
    port = free_port()
    pidfile = tmp_path / f"redis-{port}.pid"
    shutdown = ("redis-cli", "-p", str(port), "shutdown")
    service = Service(
        f"private Redis :{port}",
        (*shutdown, "save" if keeps_data else "nosave"),
        (
            *_redis_server_command(port),
            "--pidfile",
            str(pidfile),
            "--logfile",
            str(tmp_path / f"redis-{port}.log"),
            "--dir",
            str(tmp_path),
            "--dbfilename",
            f"redis-{port}.rdb",
        ),
        _answers(lambda: _redis_answers(port)),
    )
    service._start()
    try:
        yield Broker("Redis", f"redis://127.0.0.1:{port}/0", "127.0.0.1", port), service
    finally:
        subprocess.run((*shutdown, "nosave"), check=False, capture_output=True, timeout=30)
        _kill_if_left(pidfile)


def _kill_if_left(pidfile: Path) -> None:
    """Kill the redis-server whose pid `pidfile` holds if `shutdown` left it running."""
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return  # it removes its pid file when it shuts down
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _redis_server_command(port: int) -> tuple[str, ...]:
    """redis-server on loopback, daemonized, without persistence (as the service runs here: a
    restart loses every message it held)."""
    return (
        "redis-server",
        "--daemonize",
        "yes",
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--save",
        "",
        "--appendonly",
        "no",
    )


# The application only (the Erlang node stays up): durable queues and their messages survive.
RABBITMQ_SERVICE = Service(
    "RabbitMQ",
    ("rabbitmqctl", "stop_app"),
    ("rabbitmqctl", "start_app"),
    _answers(_rabbitmq_answers),
)
# A fast shutdown: every session is cut, transactions in progress are rolled back.
POSTGRES_SERVICE = Service(
    "PostgreSQL",
    _postgres_cluster("stop", "-m", "fast"),
    _postgres_cluster("start"),
    _answers(_postgres_answers),
)


# --- processes ------------------------------------------------------------------------------------


@dataclass
class Process:
    """A subprocess we started, with the file its output goes to."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    def output(self) -> str:
        """What the process has written so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")


DISPATCHER_CODE = (
    "import threading\n"
    "from dialer.config import get_settings\n"
    "from dialer.runner import dispatch_forever\n"
    "dispatch_forever(threading.Event(), get_settings().dispatch_interval)\n"
)


@dataclass
class EngineRun:
    """One engine under test: the database, the simulator, the env, and the processes."""

    tmp_path: Path
    broker: Broker
    queue: str
    database_url: str
    engine: Engine
    server: SimulatorServer
    env: dict[str, str]
    processes: list[Process] = field(default_factory=list)

    # --- the campaign ---

    def create_campaign(
        self,
        phones: Sequence[str],
        *,
        import_blacklisted: Sequence[str] = (),
        toml: str = CAMPAIGN_TOML,
    ) -> int:
        """Create the campaign from its TOML, import `phones` from a CSV, and start it.

        `import_blacklisted` numbers are on the local blacklist before the import; `toml` is
        another campaign file of the same name (say, with other `[retry]` settings).
        """
        csv_path = self.tmp_path / "contacts.csv"
        rows = ["phone;name", *(f"{phone};Клиент {i}" for i, phone in enumerate(phones))]
        csv_path.write_text("\n".join(rows) + "\n", encoding="utf-8")
        with transaction(self.engine) as session:
            blacklist.add_numbers(session, import_blacklisted, BlacklistSource.IMPORT)
            campaign = create_campaign(session, parse_campaign(toml))
            summary = import_contacts(session, campaign, csv_path)
            assert summary.imported == len(phones), summary
            lifecycle.start(session, campaign.name)
            return campaign.id

    def blacklist_now(self, phones: Sequence[str]) -> None:
        """Put numbers on the local blacklist the way an operator does, while the run goes on."""
        with transaction(self.engine) as session:
            blacklist.add_numbers(session, phones, BlacklistSource.MANUAL, "operator")

    def pause(self) -> float:
        """Pause the campaign; returns the time the pause committed."""
        with transaction(self.engine) as session:
            lifecycle.pause(session, CAMPAIGN_NAME)
        return time.time()

    def resume(self) -> None:
        """Resume the paused campaign."""
        with transaction(self.engine) as session:
            lifecycle.resume(session, CAMPAIGN_NAME)

    # --- processes ---

    def start_workers(self, count: int, *, concurrency: int = 2, pool: str = "prefork") -> None:
        """Start `count` Celery worker processes on this run's queue."""
        for _ in range(count):
            name = f"it-{uuid.uuid4().hex[:8]}"
            self._spawn(name, worker_command(concurrency, pool, name))

    def start_kept_workers(
        self, count: int, *, concurrency: int = 2, pool: str = "threads"
    ) -> None:
        """Start `count` `dialer worker` processes (each keeps a Celery worker, started again if
        it dies), without their dispatcher threads: the test starts its own dispatchers."""
        for _ in range(count):
            name = f"it-kept-{uuid.uuid4().hex[:8]}"
            command = [sys.executable, "-m", "dialer", "worker", "--no-dispatch"]
            self._spawn(name, [*command, f"--concurrency={concurrency}", f"--pool={pool}"])

    def start_dispatchers(self, count: int) -> None:
        """Start `count` dispatcher processes (each runs `dispatch_once` in a loop)."""
        for i in range(count):
            self._spawn(f"dispatcher-{i}", [sys.executable, "-c", DISPATCHER_CODE])

    def workers(self) -> list[Process]:
        """The worker processes started so far."""
        return [p for p in self.processes if p.name.startswith("it-")]

    def dispatchers(self) -> list[Process]:
        """The dispatcher processes started so far."""
        return [p for p in self.processes if p.name.startswith("dispatcher-")]

    def _spawn(self, name: str, command: list[str]) -> Process:
        log_path = self.tmp_path / f"{name}.log"
        with log_path.open("wb") as out:
            popen = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, env=self.env, cwd=REPO_ROOT
            )
        process = Process(name, popen, log_path)
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        """Stop every process: SIGTERM, then SIGKILL for any that lingers."""
        for process in self.processes:
            if process.popen.poll() is None:
                process.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in self.processes:
            try:
                process.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.popen.kill()
                process.popen.wait()

    def logs(self) -> str:
        """Every process's output, for a failure message."""
        return "\n".join(
            f"----- {p.name} (exit {p.popen.poll()}) -----\n{p.output()[-4000:]}"
            for p in self.processes
        )

    # --- waiting ---

    def statuses(self, campaign_id: int) -> dict[str, int]:
        """How many contacts of the campaign are in each status."""
        with transaction(self.engine) as session:
            rows = session.execute(
                select(Contact.status, func.count())
                .where(Contact.campaign_id == campaign_id)
                .group_by(Contact.status)
            )
            return {status.value: int(count) for status, count in rows}

    def wait_for(self, what: str, ready: Callable[[], bool], timeout: float) -> None:
        """Poll `ready` until it holds; fail with the processes' logs after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not ready():
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{self.logs()}")
            dead = [p.name for p in self.processes if p.popen.poll() not in (None, -9)]
            if dead:
                pytest.fail(f"processes exited while waiting for {what}: {dead}\n{self.logs()}")
            time.sleep(POLL_SECONDS)

    def wait_until_final(self, campaign_id: int, timeout: float = 60.0) -> dict[str, int]:
        """Wait until every contact of the campaign is final; returns the status counts."""
        final = {s.value for s in FINAL_STATUSES}
        self.wait_for(
            "every contact to be final",
            lambda: set(self.statuses(campaign_id)) <= final,
            timeout,
        )
        return self.statuses(campaign_id)

    def count(self, campaign_id: int, status: ContactStatus) -> int:
        """How many contacts of the campaign are in `status`."""
        return self.statuses(campaign_id).get(status.value, 0)

    # --- what happened ---

    def attempts(self) -> list[Attempt]:
        """Every attempt row."""
        with transaction(self.engine) as session:
            return list(session.scalars(select(Attempt).order_by(Attempt.id)))

    def contacts(self, campaign_id: int) -> list[Contact]:
        """Every contact of the campaign."""
        with transaction(self.engine) as session:
            return list(
                session.scalars(
                    select(Contact).where(Contact.campaign_id == campaign_id).order_by(Contact.id)
                )
            )

    def blacklist_sources(self) -> dict[str, BlacklistSource]:
        """The local blacklist: phone to source."""
        with transaction(self.engine) as session:
            return {e.phone: e.source for e in session.scalars(select(BlacklistEntry))}

    def campaign_state(self, campaign_id: int) -> str:
        """The campaign's state now."""
        with transaction(self.engine) as session:
            return session.get_one(Campaign, campaign_id).state.value


def worker_env(
    run_home: Path,
    *,
    database_url: str,
    broker_url: str,
    queue: str,
    callapi_url: str,
    minute_limit: int,
    window_seconds: float,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment of every engine process: ours, never the developer's `DIALER_*`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIALER_")}
    env.update(
        {
            "DIALER_HOME": str(run_home),
            "DIALER_DATABASE_URL": database_url,
            "DIALER_BROKER_URL": broker_url,
            "DIALER_QUEUE": queue,
            "DIALER_CALLAPI_URL": callapi_url,
            "DIALER_CALLAPI_ACCESS_TOKEN": DEFAULT_ACCESS_TOKEN,
            "DIALER_MINUTE_LIMIT": str(minute_limit),
            "DIALER_WINDOW_SECONDS": str(window_seconds),
            "DIALER_BACKOFF": "off",
            "DIALER_DISPATCH_INTERVAL": "0.3",
            "DIALER_STUCK_AFTER": "4",
            "DIALER_CALLAPI_CONNECT_TIMEOUT": "1",
            "DIALER_CALLAPI_READ_TIMEOUT": "3",
            # These runs check dialing; the outcome tests turn collection on through `extra`.
            "DIALER_OUTCOMES": "off",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra or {})
    return env


@contextmanager
def engine_run(
    tmp_path: Path, broker: Broker, api: FakeCallApi, extra_env: dict[str, str] | None = None
) -> Iterator[EngineRun]:
    """Fresh state for one test: database, queue, simulator; every process stopped at the end."""
    broker.require()
    queue = f"dialer-it-{uuid.uuid4().hex[:10]}"
    with scratch_postgres_database() as database_url, SimulatorServer(api) as server:
        ensure_schema(database_url)
        engine = make_engine(database_url)
        env = worker_env(
            tmp_path / "home",
            database_url=database_url,
            broker_url=broker.url,
            queue=queue,
            callapi_url=server.url,
            minute_limit=api.minute_limit,
            window_seconds=api.window_seconds,
            extra=extra_env,
        )
        run = EngineRun(tmp_path, broker, queue, database_url, engine, server, env)
        try:
            yield run
        finally:
            run.stop_all()
            broker.delete(queue)
            engine.dispose()


# --- checks on the simulator's request log -------------------------------------------------


def starts(log: Sequence[LogEntry]) -> list[LogEntry]:
    """The start.* requests of a request log."""
    return [e for e in log if e.method in START_METHODS]


def phone_of(entry: LogEntry) -> str:
    """The number a start.* request dialed."""
    assert isinstance(entry.params, dict)
    return str(entry.params["contact"])


def external_id_of(entry: LogEntry) -> str:
    """The external_id a start.* request carried."""
    assert isinstance(entry.params, dict)
    return str(entry.params["external_id"])


def created_calls(log: Sequence[LogEntry]) -> list[LogEntry]:
    """The start.* requests that created a call (the simulator issued a call_session_id)."""
    return [
        e
        for e in log
        if e.method in START_METHODS and e.outcome == "ok" and e.call_session_id is not None
    ]


def check_nobody_dialed_twice(run: EngineRun) -> None:
    """No contact has two created calls in the simulator's log, and no two attempts share an
    external_id.

    A request that created nothing may go out again, with the same external_id (a session
    token refused, then sent again after a new login): that dials nobody twice.
    """
    attempts = run.attempts()
    contact_of = {a.external_id: a.contact_id for a in attempts}
    assert len(contact_of) == len(attempts), "two attempts share an external_id"
    calls = created_calls(run.server.request_log())
    strangers = [external_id_of(e) for e in calls if external_id_of(e) not in contact_of]
    assert not strangers, f"calls created for attempts not in the database: {strangers[:10]}"
    per_contact = collections.Counter(contact_of[external_id_of(e)] for e in calls)
    twice = {contact_id: n for contact_id, n in per_contact.items() if n > 1}
    assert not twice, f"contacts dialed more than once (contact id: calls): {twice}"


def points_per_window(log: Sequence[LogEntry], window_seconds: float) -> list[int]:
    """Points spent in each of the simulator's fixed windows (they start at the first request)."""
    if not log:
        return []
    first = log[0].time
    spent: collections.Counter[int] = collections.Counter()
    for entry in log:
        if entry.outcome == "ok":
            spent[math.floor((entry.time - first) / window_seconds)] += 1
    return [spent[i] for i in range(max(spent, default=-1) + 1)]


def phones(count: int, start: int = 0) -> list[str]:
    """Distinct valid Russian mobile numbers."""
    return [f"7926{start + i:07d}" for i in range(count)]
