"""Entry point of the `dialer` console script: imports every command module, then runs."""

from __future__ import annotations

from dialer.cli import (  # noqa: F401  (imported for their commands)
    blacklist,
    campaigns,
    contacts,
    control,
    database,
    fake_api,
    reports,
)
from dialer.cli.app import app


def main() -> None:
    """Run the command line."""
    app()
