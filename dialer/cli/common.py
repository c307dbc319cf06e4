"""What every command shares: the database session, and failing with one clear line."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from sqlalchemy.orm import Session

from dialer.config import ConfigError, get_settings
from dialer.db import engine_for, transaction
from dialer.migrate import ensure_schema

USAGE_ERROR = 2


def fail(message: str, code: int = USAGE_ERROR) -> NoReturn:
    """Print `message` on stderr and exit with `code` (no traceback)."""
    print(f"dialer: {message}", file=sys.stderr)
    raise typer.Exit(code)


@contextmanager
def database() -> Iterator[Session]:
    """One transaction on the configured database, its schema brought up to date first."""
    try:
        settings = get_settings()
    except ConfigError as exc:
        fail(str(exc))
    engine = engine_for(settings.database_url)
    ensure_schema(engine)
    with transaction(engine) as session:
        yield session
