"""Outcome collection as the workers run it: one Data API client per process, one pass at a time.

Any number of processes may call `collect_once` (see `dialer.collector`); the periodic callers
are the dispatcher loop of `dialer worker` / `dialer run` and the `dialer.collect_outcomes` task
of `celery beat`.
"""

from __future__ import annotations

import threading

from dialer import db
from dialer.callapi.dataapi import DataApiClient
from dialer.callreports import DataApiBudget, DataApiReports
from dialer.collector import CollectResult, collect
from dialer.config import Settings
from dialer.db import utcnow
from dialer.retry import report_retrying

_lock = threading.Lock()
_process: dict[str, DataApiReports] = {}  # this process's reports, dropped after a fork


def reports_for(settings: Settings) -> DataApiReports:
    """This process's Data API reports, built on first use."""
    if "reports" not in _process:
        client = DataApiClient.from_settings(settings, retrying=report_retrying(settings))
        budget = DataApiBudget(settings.dataapi_account_key)
        _process["reports"] = DataApiReports(client, db.engine_for(settings.database_url), budget)
    return _process["reports"]


def forget_reports() -> None:
    """Drop this process's client (after a fork: connections are not shared across processes)."""
    _process.clear()


def collect_once(settings: Settings) -> CollectResult:
    """One collector pass against the configured database and Data API (nothing when off)."""
    if not settings.outcomes_enabled:
        return CollectResult()
    with _lock:  # one pass at a time in a process; other processes are kept apart by the rows
        return collect(
            db.engine_for(settings.database_url),
            reports_for(settings),
            utcnow(),
            interval=settings.outcomes_interval,
            timeout=settings.outcome_timeout,
        )
