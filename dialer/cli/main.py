"""Entry point of the `dialer` console script: imports every command module, then runs.

What the environment gets wrong (a bad variable, a driver or transport not installed, a database
or broker that does not answer, a schema never migrated) ends any command with one line that
names the fix and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import sys

from sqlalchemy.exc import OperationalError

from dialer.brokers import BrokerUnavailable
from dialer.cli import (  # noqa: F401  (imported for their commands)
    blacklist,
    campaigns,
    contacts,
    control,
    database,
    doctor,
    fake_api,
    reports,
)
from dialer.cli.app import app
from dialer.cli.database import ENVIRONMENT_ERROR, USAGE_ERROR
from dialer.config import ConfigError, get_settings
from dialer.db import DatabaseUnavailable, unavailable
from dialer.migrate import MigrationError


def main() -> None:
    """Run the command line."""
    try:
        app()
    except ConfigError as exc:
        _fail(str(exc), code=USAGE_ERROR)
    except (DatabaseUnavailable, BrokerUnavailable, MigrationError) as exc:
        _fail(str(exc))
    except OperationalError as exc:
        _fail(str(unavailable(get_settings().database_url, exc)))


def _fail(message: str, code: int = ENVIRONMENT_ERROR) -> None:
    print(f"dialer: {message}", file=sys.stderr)
    sys.exit(code)
