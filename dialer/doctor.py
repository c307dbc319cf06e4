"""Checks of the configuration a worker would use, each with how to fix what fails.

`run_checks()` answers, one `Check` each: are the settings valid, is the database reachable and
migrated, is the broker's transport installed and the broker reachable, is the Call API
reachable and are the credentials accepted. The Call API check reads `list.calls`, which places
no call. `dialer doctor` prints them as a table; a starting worker runs `preflight()` and refuses
to start, with the first failure's one line, instead of leaving campaigns `queued` in silence.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from kombu.utils.url import maybe_sanitize_url

from dialer import brokers, db, migrate
from dialer.callapi import errors
from dialer.callapi.client import CallApiClient
from dialer.config import ConfigError, Settings, load_settings, variable

NO_CREDENTIALS = (
    "no Call API credentials: set DIALER_CALLAPI_ACCESS_TOKEN, "
    "or DIALER_CALLAPI_LOGIN and DIALER_CALLAPI_PASSWORD"
)
BrokerConnection = Callable[[Settings], Any]


@dataclass(frozen=True)
class Check:
    """One line of the doctor's table: what was checked, whether it passed, and what to do."""

    name: str
    ok: bool
    detail: str


class CheckFailed(RuntimeError):
    """A check failed; the message is the one line that names the fix."""


def check_settings() -> tuple[Check, Settings | None]:
    """The `DIALER_*` variables parse."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        return Check("settings", False, str(exc)), None
    return Check("settings", True, "every DIALER_* variable is valid"), settings


def check_database(settings: Settings) -> Check:
    """The database's driver is installed, it answers, and its schema is current."""
    engine = None
    try:
        engine = db.make_engine(settings.database_url)
        db.ping(engine)
        migrate.require_current(engine)
    except (db.DatabaseUnavailable, migrate.MigrationError) as exc:
        return Check("database", False, str(exc))
    finally:
        if engine is not None:
            engine.dispose()
    return Check("database", True, f"{db.safe_url(settings.database_url)} is migrated")


def check_broker(settings: Settings, connect: BrokerConnection, timeout: float = 5.0) -> Check:
    """The broker's transport is installed and the broker accepts a connection."""
    try:
        brokers.check_broker(settings.broker_url, lambda: connect(settings), timeout)
    except brokers.BrokerUnavailable as exc:
        return Check("broker", False, str(exc))
    where = "embedded broker" if settings.uses_embedded_broker else settings.broker_url
    return Check("broker", True, f"{_sanitized(where)} accepts connections")


def check_callapi(settings: Settings, transport: httpx.BaseTransport | None = None) -> Check:
    """The Call API answers `list.calls` with these credentials (no call is placed)."""
    if not settings.has_credentials:
        return Check("Call API", False, NO_CREDENTIALS)
    client = CallApiClient.from_settings(settings, transport=transport)
    try:
        with client:
            client.list_calls()
    except errors.AuthError as exc:
        detail = (
            f"the Call API refused the credentials ({exc.mnemonic}): {_credential_fix(settings)}"
        )
        return Check("Call API", False, detail)
    except errors.TransportError as exc:
        detail = f"cannot reach {settings.callapi_url}: {exc} (check DIALER_CALLAPI_URL)"
        return Check("Call API", False, detail)
    except errors.CallApiError as exc:
        return Check("Call API", False, f"{settings.callapi_url} answered list.calls with: {exc}")
    return Check("Call API", True, f"{settings.callapi_url} accepts the credentials")


def _credential_fix(settings: Settings) -> str:
    if settings.access_token is not None:
        return "check DIALER_CALLAPI_ACCESS_TOKEN"
    return "check DIALER_CALLAPI_LOGIN and DIALER_CALLAPI_PASSWORD"


def _sanitized(url: str) -> str:
    return str(maybe_sanitize_url(url))


def run_checks(
    connect: BrokerConnection, transport: httpx.BaseTransport | None = None
) -> Iterator[Check]:
    """Every check in order; after invalid settings nothing else can be checked."""
    first, settings = check_settings()
    yield first
    if settings is None:
        return
    yield check_database(settings)
    yield check_broker(settings, connect)
    yield check_callapi(settings, transport)


def settings_in_effect(settings: Settings) -> list[tuple[str, str]]:
    """(variable, value) for every setting, secrets masked and URLs without passwords."""
    shown = []
    for field in type(settings).model_fields:
        value = getattr(settings, field)
        if field == "database_url":
            text = db.safe_url(value)
        elif field == "broker_url":
            text = _sanitized(value)
        elif value is None:
            text = ""
        else:
            text = str(value)  # SecretStr prints as stars
        shown.append((variable(field), text))
    return shown


def preflight(settings: Settings, connect: BrokerConnection) -> None:
    """Raise `CheckFailed` with the first failure among what a worker needs to start."""
    for check in (
        check_database(settings),
        check_broker(settings, connect),
        Check("Call API", settings.has_credentials, NO_CREDENTIALS),
    ):
        if not check.ok:
            raise CheckFailed(check.detail)
