"""Reaching the real services for integration tests: skip cleanly on a developer's machine,
fail loudly in CI (`DIALER_REQUIRE_SERVICES=1`, set by `.ci/run`)."""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

POSTGRES_URL = os.environ.get(
    "DIALER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("DIALER_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
RABBITMQ_URL = os.environ.get("DIALER_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")


def services_required() -> bool:
    """True when a missing service must fail the run instead of skipping."""
    return os.environ.get("DIALER_REQUIRE_SERVICES", "") in {"1", "true", "yes"}


def require(name: str, host: str, port: int) -> None:
    """Skip (or, in CI, fail) unless something listens on host:port."""
    try:
        with socket.create_connection((host, port), timeout=2):
            return
    except OSError as exc:
        reason = f"{name} is not reachable on {host}:{port} ({exc})"
        if services_required():
            pytest.fail(f"{reason}; DIALER_REQUIRE_SERVICES is set", pytrace=False)
        pytest.skip(reason)


def require_tool(name: str, why: str) -> None:
    """Skip (or, in CI, fail) unless the program `name` is installed."""
    if shutil.which(name):
        return
    reason = f"{why}: {name} is not installed"
    if services_required():
        pytest.fail(f"{reason}; DIALER_REQUIRE_SERVICES is set", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def scratch_postgres_database() -> Iterator[str]:
    """Create an empty PostgreSQL database for one test module and drop it afterwards."""
    require("PostgreSQL", "127.0.0.1", 5432)
    from sqlalchemy import create_engine, text

    from dialer.db import normalize_url

    # Pinged before use: PostgreSQL may have been restarted since the database was created.
    admin = create_engine(
        normalize_url(POSTGRES_URL), isolation_level="AUTOCOMMIT", pool_pre_ping=True
    )
    name = f"dialer_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base, _, _ = POSTGRES_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
