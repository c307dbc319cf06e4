"""The database layer: UTC timestamps, URLs, and SQLite's locking for writers and readers."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, func, select, text

from dialer.db import SQLITE_BUSY_SECONDS, normalize_url, read_only, transaction
from dialer.models import BlacklistEntry, BlacklistSource


def test_a_plain_postgresql_url_uses_psycopg() -> None:
    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("sqlite:///x.db") == "sqlite:///x.db"


def test_timestamps_come_back_as_aware_utc(sqlite_engine: Engine) -> None:
    moscow = dt.timezone(dt.timedelta(hours=3))
    with transaction(sqlite_engine) as session:
        session.add(
            BlacklistEntry(
                phone="79260000001",
                source=BlacklistSource.MANUAL,
                created_at=dt.datetime(2026, 3, 2, 12, 0, tzinfo=moscow),
            )
        )
    with transaction(sqlite_engine) as session:
        stored = session.scalars(select(BlacklistEntry.created_at)).one()
    assert stored == dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    assert stored.tzinfo is dt.UTC


def test_a_naive_timestamp_is_refused(sqlite_engine: Engine) -> None:
    with pytest.raises(Exception, match="naive datetime"), transaction(sqlite_engine) as session:
        session.add(
            BlacklistEntry(
                phone="79260000001",
                source=BlacklistSource.MANUAL,
                created_at=dt.datetime(2026, 3, 2, 12, 0),
            )
        )


def test_readers_do_not_wait_for_a_writer_on_sqlite(sqlite_engine: Engine) -> None:
    writer = sqlite_engine.connect()
    writer.begin()  # BEGIN IMMEDIATE: the write lock is taken and held
    writer.execute(
        text(
            "INSERT INTO blacklist (phone, source, created_at) VALUES ('7', 'manual', '2026-01-01')"
        )
    )
    try:
        # A write transaction would wait for the lock (up to the busy timeout); a reader does not.
        with transaction(read_only(sqlite_engine)) as session:
            assert session.scalar(select(func.count()).select_from(BlacklistEntry)) == 0
    finally:
        writer.rollback()
        writer.close()


def test_threads_of_one_process_write_one_at_a_time_and_lose_no_update(
    sqlite_engine: Engine,
) -> None:
    with transaction(sqlite_engine) as session:
        session.execute(text("CREATE TABLE counter (n INTEGER)"))
        session.execute(text("INSERT INTO counter VALUES (0)"))
    inside, most_inside = [0], [0]
    count_lock = threading.Lock()

    def increment() -> None:
        with transaction(sqlite_engine) as session:
            with count_lock:
                inside[0] += 1
                most_inside[0] = max(most_inside[0], inside[0])
            n = session.scalar(text("SELECT n FROM counter"))
            session.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})
            with count_lock:
                inside[0] -= 1

    with ThreadPoolExecutor(max_workers=8) as pool:
        for future in [pool.submit(increment) for _ in range(200)]:
            future.result()

    with transaction(read_only(sqlite_engine)) as session:
        assert session.scalar(text("SELECT n FROM counter")) == 200
    # Queued in this process before reaching SQLite, not each waiting inside its own BEGIN.
    assert most_inside[0] == 1


def in_thread(work: Callable[[], None]) -> tuple[threading.Thread, list[BaseException]]:
    """Run `work` in a daemon thread; its exception, if any, lands in the list."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, errors


def add_entry(engine: Engine, phone: str) -> None:
    with transaction(engine) as session:
        session.add(
            BlacklistEntry(
                phone=phone, source=BlacklistSource.MANUAL, created_at=dt.datetime.now(dt.UTC)
            )
        )


def test_a_writer_waits_for_another_process_write_lock_then_writes(
    sqlite_engine: Engine,
) -> None:
    other_process = sqlite3.connect(sqlite_engine.url.database or "", isolation_level=None)
    other_process.execute("BEGIN IMMEDIATE")
    writer, errors = in_thread(lambda: add_entry(sqlite_engine, "79260000001"))

    writer.join(timeout=0.5)
    still_waiting = writer.is_alive()
    other_process.execute("COMMIT")
    other_process.close()
    writer.join(timeout=SQLITE_BUSY_SECONDS)

    assert still_waiting  # it neither failed nor went ahead while the lock was held
    assert not writer.is_alive()
    assert errors == []
    with transaction(sqlite_engine) as session:
        assert session.scalar(select(func.count()).select_from(BlacklistEntry)) == 1
        # Every statement but the BEGIN keeps the long busy timeout.
        timeout = session.scalar(text("PRAGMA busy_timeout"))
    assert timeout == SQLITE_BUSY_SECONDS * 1000


def test_a_reader_does_not_queue_behind_a_writer_of_its_own_process(
    sqlite_engine: Engine,
) -> None:
    release = threading.Event()

    def hold_a_write_transaction() -> None:
        with transaction(sqlite_engine) as session:
            session.execute(text("SELECT 1"))
            release.wait(timeout=60)

    holder, _ = in_thread(hold_a_write_transaction)
    counted: list[int | None] = []

    def read() -> None:
        with transaction(read_only(sqlite_engine)) as session:
            counted.append(session.scalar(select(func.count()).select_from(BlacklistEntry)))

    reader, errors = in_thread(read)
    reader.join(timeout=30)
    release.set()
    holder.join(timeout=30)

    assert counted == [0]
    assert errors == []
