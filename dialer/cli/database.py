"""`dialer db ...`, and what every command uses to reach the database and to fail politely."""

from __future__ import annotations

import functools
from typing import Annotated, NoReturn

import typer
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from dialer import db, migrate
from dialer.cli.app import db_app
from dialer.config import ConfigError, get_settings
from dialer.db import DatabaseUnavailable, engine_for, first_line, safe_url

USAGE_ERROR = 2
# The environment, not the command line, is at fault: a driver missing, a server down.
ENVIRONMENT_ERROR = 1


def fail(message: str, code: int = USAGE_ERROR) -> NoReturn:
    """Print a one-line error on stderr and exit with `code` (2: the user's input is at fault)."""
    typer.echo(f"dialer: {message}", err=True)
    raise typer.Exit(code)


def database_url() -> str:
    """The configured database URL, or a clean exit when the settings are wrong."""
    try:
        return get_settings().database_url
    except ConfigError as exc:
        fail(str(exc))


def open_database() -> Engine:
    """The engine of the configured database, its schema brought up to date first."""
    url = database_url()
    _ensure_schema(url)
    return engine_for(url)


@functools.cache
def _ensure_schema(url: str) -> None:
    # Once per process: a fresh SQLite file gets its tables without anyone running `db upgrade`.
    try:
        engine = engine_for(url)
        db.ping(engine)
        migrate.ensure_schema(engine)
    except DatabaseUnavailable as exc:
        fail(str(exc), code=ENVIRONMENT_ERROR)
    except (SQLAlchemyError, migrate.MigrationError) as exc:
        fail(f"cannot prepare the database {safe_url(url)}: {first_line(exc)}")


@db_app.command("upgrade")
def upgrade(
    revision: Annotated[str, typer.Option(help="The revision to upgrade to.")] = "head",
) -> None:
    """Apply the database migrations (creates the tables on a fresh database)."""
    url = database_url()
    try:
        engine = engine_for(url)
        db.ping(engine)
        migrate.upgrade(engine, revision)
    except DatabaseUnavailable as exc:
        fail(str(exc), code=ENVIRONMENT_ERROR)
    except (SQLAlchemyError, migrate.MigrationError) as exc:
        fail(f"upgrade of {safe_url(url)} failed: {first_line(exc)}")
    typer.echo(f"database {safe_url(url)} is at revision {revision}")


@db_app.command("check")
def check() -> None:
    """Fail unless the database is at the latest migration and matches the models."""
    url = database_url()
    try:
        migrate.check(engine_for(url))
    except (SQLAlchemyError, migrate.MigrationError, DatabaseUnavailable) as exc:
        typer.echo(f"dialer: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo("the database matches the models")
