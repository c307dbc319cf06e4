"""The migrations build exactly the models: upgrade a fresh database to head, then `alembic check`
finds nothing, on SQLite and on PostgreSQL. A model changed without a migration fails here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from dialer import migrate
from dialer.db import Base, make_engine
from tests.services import scratch_postgres_database


@pytest.fixture
def fresh_postgres_url() -> Iterator[str]:
    """An empty PostgreSQL database (the shared scratch one may already hold create_all tables)."""
    with scratch_postgres_database() as url:
        yield url


def _assert_upgrade_then_check(url: str) -> None:
    migrate.upgrade(url)
    migrate.check(url)  # raises MigrationError listing the differences
    engine = make_engine(url)
    try:
        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
        with engine.connect() as conn:
            assert migrate.current_revision(conn) == migrate.head_revision()
    finally:
        engine.dispose()


def test_sqlite_migrations_match_the_models(tmp_path: Path) -> None:
    _assert_upgrade_then_check(f"sqlite:///{tmp_path / 'fresh.db'}")


@pytest.mark.postgres
def test_postgres_migrations_match_the_models(fresh_postgres_url: str) -> None:
    _assert_upgrade_then_check(fresh_postgres_url)


def test_check_reports_drift(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'drift.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_contacts_phone"))
    engine.dispose()
    with pytest.raises(migrate.MigrationError, match="ix_contacts_phone"):
        migrate.check(url)


def test_check_reports_a_database_behind(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'behind.db'}"
    make_engine(url).dispose()
    with pytest.raises(migrate.MigrationError, match="not up to date"):
        migrate.check(url)


def test_ensure_schema_migrates_fresh_and_adopts_create_all(tmp_path: Path) -> None:
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    migrate.ensure_schema(fresh)
    migrate.ensure_schema(fresh)  # a second time is a no-op
    migrate.check(fresh)

    made = make_engine(f"sqlite:///{tmp_path / 'made.db'}")
    Base.metadata.create_all(made)
    migrate.ensure_schema(made)
    with made.connect() as conn:
        assert migrate.current_revision(conn) == migrate.head_revision()
    migrate.check(made)
    made.dispose()
