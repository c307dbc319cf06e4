"""Fixtures shared by every test: settings isolated per test, databases, and a session per test
that runs inside a transaction rolled back at the end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from dialer import config
from dialer.db import Base, make_engine
from tests.services import scratch_postgres_database


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test gets its own DIALER_HOME and no credentials from the developer's shell."""
    for name in list(__import__("os").environ):
        if name.startswith("DIALER_") and not name.startswith(("DIALER_TEST_", "DIALER_REQUIRE")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DIALER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DIALER_BACKOFF", "off")
    config.get_settings.cache_clear()
    yield
    config.get_settings.cache_clear()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """A SQLite file database with every table created."""
    engine = make_engine(f"sqlite:///{tmp_path / 'test.db'}")
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A scratch PostgreSQL database for the whole run (skips or fails without the service)."""
    with scratch_postgres_database() as url:
        yield url


@pytest.fixture
def postgres_engine(postgres_url: str) -> Iterator[Engine]:
    """An engine on the scratch PostgreSQL database with every table created."""
    engine = make_engine(postgres_url)
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(sqlite_engine: Engine) -> Iterator[Session]:
    """A session whose work is rolled back after the test, commits included."""
    with sqlite_engine.connect() as connection:
        transaction = connection.begin()
        with Session(
            bind=connection,
            join_transaction_mode="create_savepoint",
            expire_on_commit=False,
        ) as db:
            yield db
        transaction.rollback()
