"""Running the `dialer` command line as a user would, for the end-to-end tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from dialer.db import make_engine, transaction
from dialer.models import Contact

ROOT = Path(__file__).resolve().parents[2]


def without_dialer_settings(home: Path) -> dict[str, str]:
    """This environment less the developer's `DIALER_*`, with its own home; call outcomes are
    off (these runs check dialing; the demo turns them on for itself)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DIALER_")}
    environment.update({"DIALER_HOME": str(home), "DIALER_OUTCOMES": "off"})
    return environment


def dialer(
    home: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the `dialer` command line with its own DIALER_HOME, as a user would."""
    environment = without_dialer_settings(home)
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "dialer", *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=ROOT,
        timeout=240,
        check=False,
    )


def counts_by_status(home: Path) -> dict[str, int]:
    engine = make_engine(f"sqlite:///{home / 'dialer.db'}")
    with transaction(engine) as session:
        rows = session.execute(select(Contact.status, func.count()).group_by(Contact.status))
        counts = {str(status): n for status, n in rows}
    engine.dispose()
    return counts
