"""The database: engine and session factory, the declarative base, and a UTC timestamp type.

SQLite is tuned for several processes (WAL, `BEGIN IMMEDIATE` so that a writer takes the lock up
front instead of failing half-way) and for many threads of one process (`transaction` queues
them on a lock of their own before they reach SQLite's, see `_writer_turn`); PostgreSQL is used
as it comes.

A database that cannot be used leaves as `DatabaseUnavailable`, whose one-line message names the
fix: a URL that is not one, a scheme SQLAlchemy does not know, a driver that is not installed
(`make_engine`), or a server that cannot be reached (`unavailable()`, for errors on connect).
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import select
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event, text
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    DisconnectionError,
    NoSuchModuleError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """The declarative base of every model, with a constraint naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> dt.datetime:
    """The current time, timezone-aware, in UTC."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Stores naive UTC on every backend and always gives back aware UTC datetimes."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(
        self,
        value: dt.datetime | None,
        dialect: Dialect,  # noqa: ARG002 - SQLAlchemy's signature
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where UTC is required")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(
        self,
        value: Any,
        dialect: Dialect,  # noqa: ARG002 - SQLAlchemy's signature
    ) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC)


URL_VARIABLE = "DIALER_DATABASE_URL"
SUPPORTED = ("postgresql", "sqlite")
USE = "use postgresql://user:password@host/name or sqlite:///path/to/file.db"
# The extra that installs each backend's driver.
DRIVER_EXTRAS = {"postgresql": "postgres"}


class DatabaseUnavailable(RuntimeError):
    """The configured database cannot be used; the message says why and what to do."""


def safe_url(url: str) -> str:
    """The URL with its password masked, for messages."""
    try:
        return make_url(normalize_url(url)).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparsable URL)"


def unavailable(url: str, exc: BaseException) -> DatabaseUnavailable:
    """Translate an error met while connecting to `url` into one line that names the fix."""
    if isinstance(exc, DatabaseUnavailable):
        return exc
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    reason = first_line(cause)
    return DatabaseUnavailable(
        f"cannot reach the database {safe_url(url)}: {reason} "
        f"(is it running, and is {URL_VARIABLE} right?)"
    )


def ping(engine: Engine) -> None:
    """Open a connection and run `SELECT 1`; raise `DatabaseUnavailable` if that fails."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        raise unavailable(engine.url.render_as_string(hide_password=False), exc) from exc


def first_line(exc: BaseException) -> str:
    """The first line of an error's text (SQLAlchemy's go on with the statement), or its type."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def normalize_url(url: str) -> str:
    """Let a plain `postgresql://` URL use psycopg 3, the driver we install."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def is_sqlite_url(url: str) -> bool:
    """True for a SQLite database URL (the embedded default)."""
    return url.startswith("sqlite:")


READ_ONLY = "dialer_read_only"


def read_only(engine: Engine) -> Engine:
    """The same engine for transactions that only read (on SQLite they take no write lock)."""
    return engine.execution_options(**{READ_ONLY: True})


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout and immediate write transactions."""
    url = normalize_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseUnavailable(f"{URL_VARIABLE} is not a database URL; {USE}") from None
    if parsed.get_backend_name() not in SUPPORTED:
        raise DatabaseUnavailable(
            f"{URL_VARIABLE}: no database {parsed.get_backend_name()}:// is supported; {USE}"
        )
    if parsed.get_backend_name() != "sqlite":
        server = _create(url, parsed.get_backend_name(), **kwargs)
        event.listen(server, "checkout", _drop_if_closed_by_server)
        return server
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_SECONDS}, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, open transactions, so that BEGIN IMMEDIATE below applies.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_SECONDS * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A deferred transaction that reads and then writes can fail with "database is locked"
        # without waiting; taking the write lock at BEGIN makes concurrent writers queue instead.
        # Readers (reports) must not take it: in WAL mode they never block the writers.
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")
        else:
            begin_immediate(conn.connection.driver_connection)

    return engine


def _drop_if_closed_by_server(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """On checkout from the pool: a connection the server has closed is replaced by a new one.

    Instead of `pool_pre_ping`, a round trip before every transaction (9% of a call's time):
    an idle connection has nothing to read, so a readable socket means the server has spoken
    on its own, which here is only to close it (its restart, `pg_terminate_backend`, an idle
    timeout) and costs no round trip to see. `DisconnectionError` makes the pool discard it
    and connect again. A connection cut without a word from the server (a network gone) is not
    seen here, as a ping would wait on it too; its first statement fails.
    """
    if getattr(dbapi_connection, "closed", False) or _has_input(dbapi_connection):
        raise DisconnectionError("the database server closed this connection")


def _has_input(dbapi_connection: Any) -> bool:
    """Whether the server sent anything to this idle psycopg connection (or it has no socket)."""
    try:
        fd = dbapi_connection.pgconn.socket
    except Exception:  # psycopg's own error: the connection has no socket any more
        return True
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([fd], [], [], 0)[0])


def autocommit(engine: Engine) -> Engine:
    """The same engine and pool with every statement its own transaction: no `BEGIN` and no
    `COMMIT` round trips, for work that is one statement (or reads that need no snapshot)."""
    # Kept on the engine itself: making one costs about what a short statement does, and a
    # cache beside the engine would keep it alive.
    found: Engine | None = engine.__dict__.get(_AUTOCOMMIT)
    if found is None:
        found = engine.__dict__[_AUTOCOMMIT] = engine.execution_options(
            isolation_level="AUTOCOMMIT"
        )
    return found


_AUTOCOMMIT = "_dialer_autocommit"


# How long a writer waits for another process's write lock before "database is locked".
SQLITE_BUSY_SECONDS = 60.0
# The longest pause between two tries for that lock: SQLite's own busy handler sleeps up to
# 100 ms between tries and so hands the lock over late; the lock is held for milliseconds.
_BUSY_POLL_MAX = 0.002


def begin_immediate(connection: sqlite3.Connection) -> None:
    """`BEGIN IMMEDIATE` on a SQLite connection, trying again every millisecond or two while
    another process holds the write lock, for up to `SQLITE_BUSY_SECONDS`."""
    deadline = time.monotonic() + SQLITE_BUSY_SECONDS
    pause = 0.0002
    connection.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                connection.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, _BUSY_POLL_MAX)
    finally:
        # Every other statement keeps the long timeout (a checkpoint, a reader during recovery).
        connection.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_SECONDS * 1000)}")


def _create(url: str, backend: str, **kwargs: Any) -> Engine:
    """`create_engine`, whose import of the driver fails here with the extra that installs it."""
    try:
        return create_engine(url, **kwargs)
    except NoSuchModuleError:
        raise DatabaseUnavailable(
            f"{URL_VARIABLE}: no database {backend}:// is supported; {USE}"
        ) from None
    except ImportError as exc:
        extra = DRIVER_EXTRAS.get(backend, "production")
        raise DatabaseUnavailable(
            f"the {backend} driver is not installed (no module {exc.name!r}): "
            f"pip install 'dialer[{extra}]'"
        ) from None


@functools.cache
def engine_for(url: str) -> Engine:
    """One shared engine per database URL in this process."""
    return make_engine(url)


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """A session in one transaction: committed on success, rolled back on error."""
    # A plain Session, not a sessionmaker: making one builds a class, a cost paid per transaction.
    with (
        _writer_turn(engine),
        Session(bind=engine, expire_on_commit=False) as session,
        session.begin(),
    ):
        yield session


# One lock per SQLite file for the write transactions of this process's threads.
_writer_locks: dict[str, threading.RLock] = {}


@contextmanager
def _writer_turn(engine: Engine) -> Iterator[None]:
    """Held by a write transaction on a SQLite `engine` for its whole length in this process.

    SQLite lets one writer in at a time. Threads that met its lock busy used to sleep in its
    busy handler (1, 2, 5, ... up to 100 ms a try) and missed most releases: a worker's threads
    spent more time waiting than the lock was held. Queued on a Python lock instead, the next
    thread starts the moment the last one commits. Reentrant, so that a transaction opened
    inside another by the same thread behaves as before (it waits on SQLite's lock); given up,
    as SQLite's busy timeout gives up, after `SQLITE_BUSY_SECONDS`.
    """
    if engine.dialect.name != "sqlite" or engine.get_execution_options().get(READ_ONLY):
        yield
        return
    key = str(engine.url.database)
    # `setdefault` is atomic: two threads asking at once get the same lock.
    lock = _writer_locks.get(key) or _writer_locks.setdefault(key, threading.RLock())
    if not lock.acquire(timeout=SQLITE_BUSY_SECONDS):
        locked = sqlite3.OperationalError("database is locked")
        raise OperationalError("BEGIN IMMEDIATE", None, locked)
    try:
        yield
    finally:
        lock.release()


def _forget_writer_locks() -> None:
    # A forked child starts with one thread: a lock some other thread of the parent held is not
    # its to wait for.
    _writer_locks.clear()


os.register_at_fork(after_in_child=_forget_writer_locks)
