"""The database layer: UTC timestamps, URLs, and SQLite's locking for writers and readers."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, func, select, text

from dialer.db import normalize_url, read_only, transaction
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
