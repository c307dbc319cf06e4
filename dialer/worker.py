"""The Celery application and its thin tasks: `celery -A dialer.worker worker` runs them.

Tasks carry only ids; each one opens its own transactions through `dialer.dialing` or
`dialer.dispatch`, so a lost, duplicated or late message can never do harm (see DESIGN.md).

Importing this module has no side effects: the app reads the settings and prepares the embedded
broker's folders the first time its configuration is used (Celery's `on_configure`), and never
becomes Celery's process-wide current app. `worker_argv()` is the one worker command line, for
`dialer worker`, `dialer run` and anyone starting `celery ... worker` themselves.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from celery import Celery, Task
from celery.signals import (
    celeryd_init,
    worker_process_init,
    worker_process_shutdown,
    worker_shutdown,
)
from kombu.connection import Connection
from sqlalchemy.exc import SQLAlchemyError

from dialer import (
    db,
    dialing,
    dispatch,
    doctor,
    embedded_broker,
    migrate,
    outcome_collection,
    parent_death,
    retry,
)
from dialer.callapi.client import CallApiClient
from dialer.config import ConfigError, Settings, get_settings
from dialer.dialing import Dialer

log = logging.getLogger("dialer.worker")

# The Celery `broker_transport` for redis:// URLs: `dialer.redis_broker.Transport`, by name.
REDIS_TRANSPORT = "dialer.redis_broker:Transport"
# Set by the worker keeper (`dialer.runner`) in the environment of a worker whose start need not
# check the services: the keeper checked them itself just before (`dialer worker`), or this is a
# worker it started again. A worker started any other way checks them.
PREFLIGHT_DONE_VARIABLE = "DIALER_WORKER_PREFLIGHT_DONE"


def celery_config(settings: Settings) -> dict[str, Any]:
    """Celery settings: acks after the work, one message at a time, no result backend."""
    config: dict[str, Any] = {
        "broker_url": settings.broker_url,
        "task_default_queue": settings.queue,
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        # After a broker reconnect Celery would lower the prefetch count and raise it again from
        # each finished task's callback, which runs in a pool thread: with py-amqp that thread's
        # basic.qos races the event loop for the reply and the worker hangs, silent, for good.
        "worker_enable_prefetch_count_reduction": False,
        "broker_connection_retry_on_startup": True,
        "worker_hijack_root_logger": False,
        "beat_schedule": {
            "dispatch": {"task": "dialer.dispatch", "schedule": settings.dispatch_interval},
            "collect-outcomes": {
                "task": "dialer.collect_outcomes",
                "schedule": settings.outcomes_interval,
            },
        },
        # `celery beat` keeps its schedule here, not in whatever folder it was started from.
        "beat_schedule_filename": str(_home(settings) / "celerybeat-schedule"),
    }
    if settings.uses_embedded_broker:
        config["broker_transport"] = embedded_broker.TRANSPORT
        config["broker_transport_options"] = _embedded_broker_options(settings)
    elif urlsplit(settings.broker_url).scheme == "redis":
        # kombu's Redis transport, but a worker survives Redis restarts (see redis_broker);
        # named, not imported: kombu loads it, and with it redis-py, only for a Redis broker.
        config["broker_transport"] = REDIS_TRANSPORT
    return config


def _home(settings: Settings) -> Path:
    settings.home.mkdir(parents=True, exist_ok=True)
    return settings.home


def _embedded_broker_options(settings: Settings) -> dict[str, Any]:
    """Folders of the embedded broker under DIALER_HOME, created on first use."""
    return {**embedded_broker.folders(settings.broker_folder), "polling_interval": 0.05}


class DialerCelery(Celery):  # type: ignore[misc]  # Celery is untyped
    """The dialer's Celery app, configured from the settings on first use, not at import."""

    def on_configure(self) -> None:
        """Celery calls this once, just before the configuration is first read."""
        self.config_from_object(celery_config(get_settings()))


app = DialerCelery("dialer", set_as_current=False)


def worker_argv(concurrency: int, pool: str, name: str, loglevel: str = "INFO") -> list[str]:
    """The arguments of `celery worker` for this app; `name` keeps workers on one host apart."""
    return [
        "worker",
        f"--concurrency={concurrency}",
        f"--pool={pool}",
        f"--loglevel={loglevel}",
        f"--hostname={name}@%h",
        # Broadcast chatter between workers buys nothing here and the embedded broker lacks it.
        "--without-mingle",
        "--without-gossip",
        "--without-heartbeat",
    ]


def celery_command(argv: Sequence[str]) -> list[str]:
    """The command line that runs `celery -A dialer.worker ARGV` with this interpreter."""
    return [sys.executable, "-m", "celery", "-A", __name__, *argv]


def broker_connection(settings: Settings, timeout: float = 5.0) -> Connection:
    """A kombu connection to the broker of `settings`, as this app's workers make it."""
    config = celery_config(settings)
    return Connection(  # type: ignore[no-untyped-call]
        config["broker_url"],
        transport=config.get("broker_transport"),
        transport_options=config.get("broker_transport_options", {}),
        connect_timeout=timeout,
    )


@celeryd_init.connect
def _stop_with_the_keeper(**_: Any) -> None:
    # Connected first, so that it runs first: a worker whose keeper is already gone exits before
    # it checks anything, and one whose keeper dies later gets SIGTERM (see parent_death).
    parent_death.stop_with_parent()


@celeryd_init.connect
def _refuse_to_start_broken(**_: Any) -> None:
    # A worker that cannot reach its database or broker, or has no credentials, would leave
    # campaigns `queued` in silence or fail every request: say why and exit instead.
    try:
        settings = get_settings()
        if os.environ.get(PREFLIGHT_DONE_VARIABLE):
            # Started by `dialer worker`'s keeper, which has just run these checks itself, or
            # started again by a keeper after a death: the services were checked at the first
            # start, and one that is away now (the outage that may have killed the last worker)
            # is waited for, not a reason to refuse.
            return
        if db.is_sqlite_url(settings.database_url):
            # The embedded database is brought up to date by whoever opens it first, as every
            # dialer command does; a shared server database waits for `dialer db upgrade`.
            migrate.ensure_schema(settings.database_url)
        doctor.preflight(settings, broker_connection)
    except (doctor.CheckFailed, ConfigError, migrate.MigrationError) as exc:
        print(f"dialer worker: cannot start: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None


_process: dict[str, Dialer] = {}  # this process's Dialer, dropped after a fork
_dialer_lock = threading.Lock()


def current_dialer() -> Dialer:
    """This process's Dialer, built on first use and shared by its threads (all thread-safe)."""
    with _dialer_lock:
        if "dialer" not in _process:
            settings = get_settings()
            _process["dialer"] = Dialer(
                settings=settings,
                # Its own pool, larger than the threads that share it: a pool smaller than
                # them opens and closes a connection for every transaction beyond its size.
                engine=db.make_engine(settings.database_url, **_DIALER_POOL),
                client=CallApiClient.from_settings(settings),
            )
        return _process["dialer"]


_DIALER_POOL = {"pool_size": 16, "max_overflow": 16}


@worker_shutdown.connect
@worker_process_shutdown.connect
def _give_back_points(**_: Any) -> None:
    # Points this process took ahead go back to the shared budget for the other processes; if
    # the database is gone, they come back to the minute at its reset, and at most a lease of
    # them is missing from the day.
    dialer = _process.get("dialer")
    if dialer is None:
        return
    try:
        dialer.lease.release(dialer.engine, dialer.now())
    except SQLAlchemyError as exc:
        log.warning("could not give back the points held by this process: %s", exc)
    dialer.engine.dispose()


@worker_process_init.connect
def _after_fork(**_: Any) -> None:
    # A forked pool process must not share the parent's database or HTTP connections.
    db.engine_for.cache_clear()
    _process.clear()
    outcome_collection.forget_reports()


@app.task(name="dialer.place_call", bind=True, max_retries=retry.WAKEUP_RETRIES)
def place_call(self: Task, contact_id: int) -> str:
    """Dial one queued contact (does nothing if it has moved on)."""
    try:
        return dialing.place_call(current_dialer(), contact_id).status
    except SQLAlchemyError as exc:
        if not retry.is_database_outage(exc):
            raise
        # Met before the request left (after it, the turn rides a short outage out itself), the
        # contact is still `queued`: the same wake-up, delivered again, dials it once the
        # database is back, rather than the reconciler's re-send `stuck_after` later. A wake-up
        # whose contact has moved on does nothing.
        log.warning("contact %s waits for the database: %s", contact_id, db.first_line(exc))
        raise self.retry(countdown=retry.wakeup_again_in(self.request.retries), exc=exc) from None


@app.task(name="dialer.resolve_attempt")
def resolve_attempt(attempt_id: int) -> str:
    """Settle an attempt whose worker died mid-request."""
    return dialing.resolve_attempt(current_dialer(), attempt_id)


def send_wakeups(contact_ids: Sequence[int]) -> None:
    """Queue one `place_call` message per contact, over one broker connection."""
    with app.producer_or_acquire() as producer:
        for contact_id in contact_ids:
            place_call.apply_async((contact_id,), producer=producer)


def send_resolutions(attempt_ids: Sequence[int]) -> None:
    """Queue one `resolve_attempt` message per stuck attempt."""
    with app.producer_or_acquire() as producer:
        for attempt_id in attempt_ids:
            resolve_attempt.apply_async((attempt_id,), producer=producer)


def dispatch_once() -> dispatch.TickResult:
    """One dispatcher pass against the configured database and broker."""
    settings = get_settings()
    return dispatch.tick(
        db.engine_for(settings.database_url), settings, send_wakeups, send_resolutions
    )


@app.task(name="dialer.dispatch")
def dispatch_task() -> int:
    """The periodic dispatcher pass (for `celery beat`); returns how many contacts it queued."""
    return len(dispatch_once().queued)


@app.task(name="dialer.collect_outcomes")
def collect_outcomes_task() -> int:
    """The periodic outcome collector pass (for `celery beat`); returns how many it recorded."""
    return outcome_collection.collect_once(get_settings()).found
