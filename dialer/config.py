"""Settings, read once from `DIALER_*` environment variables, with embedded defaults.

Everything configurable lives here so that a deployment is described by its environment alone.
The defaults run on a laptop with nothing installed: a SQLite file and a file-system broker under
`DIALER_HOME` (default `./.dialer`).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path

from dialer.secrets import Secret

DEFAULT_CALLAPI_URL = "https://callapi.uiscom.ru/v4.0"
EMBEDDED_BROKER = "filesystem://"


class ConfigError(ValueError):
    """A `DIALER_*` variable holds a value that cannot be used."""


def _env(name: str, default: str = "") -> str:
    return os.environ.get(f"DIALER_{name}", default).strip()


def _float(name: str, default: float) -> float:
    raw = _env(name)
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"DIALER_{name} must be a number, got {raw!r}") from None


def _int(name: str, default: int) -> int:
    raw = _env(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"DIALER_{name} must be a whole number, got {raw!r}") from None


def _bool(name: str, default: bool) -> bool:
    raw = _env(name).lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"DIALER_{name} must be true or false, got {raw!r}")


def dataapi_url_beside(callapi_url: str) -> str:
    """The Data API beside a Call API: `callapi.X/v4.0` → `dataapi.X/v2.0` (the provider's
    hosts), or the same host with `/v2.0` (the simulator serves both on one port)."""
    scheme, sep, rest = callapi_url.partition("://")
    host = rest.partition("/")[0]
    if host.startswith("callapi."):
        host = "dataapi." + host.removeprefix("callapi.")
    return f"{scheme}{sep}{host}/v2.0"


def parse_costs(raw: str) -> dict[str, int]:
    """Parse `start.informer_call=2,list.calls=1` into a mapping of method to points."""
    costs: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        method, sep, points = item.partition("=")
        if not sep or not points.strip().isdigit():
            raise ConfigError(f"a method cost must look like METHOD=POINTS, got {item!r}")
        costs[method.strip()] = int(points)
    return costs


@dataclass(frozen=True)
class Settings:
    """The whole configuration of one process."""

    home: Path
    database_url: str
    broker_url: str
    callapi_url: str
    access_token: Secret | None
    login: str | None
    password: Secret | None
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    method_costs: dict[str, int] = field(default_factory=dict)
    minute_limit_guess: int = 60
    day_limit_guess: int = 10_000
    window_seconds_guess: float = 60.0
    dispatch_interval: float = 1.0
    max_queued: int = 5_000
    stuck_after: float = 120.0
    transient_attempts: int = 3
    transient_max_seconds: float = 60.0
    backoff_initial: float = 0.5
    backoff_max: float = 10.0
    backoff_enabled: bool = True
    # The broker queue the wake-ups travel on; deployments (and test runs) sharing one broker
    # keep apart by giving each its own.
    queue: str = "dialer"
    outcomes_enabled: bool = True
    outcomes_interval: float = 60.0
    outcome_timeout: float = 21_600.0
    dataapi_url: str = "https://dataapi.uiscom.ru/v2.0"
    dataapi_access_token: Secret | None = None
    account_timezone: str = "Europe/Moscow"

    @property
    def broker_folder(self) -> Path:
        """Where the embedded (file-system) broker keeps its messages."""
        return self.home / "broker"

    @property
    def uses_embedded_broker(self) -> bool:
        """True when no external broker is configured."""
        return self.broker_url.startswith(EMBEDDED_BROKER)

    def cost(self, method: str) -> int:
        """The points one successful call of `method` costs (default 1)."""
        return self.method_costs.get(method, 1)

    @property
    def account_key(self) -> str:
        """Names the provider account whose budget this process shares; never contains a secret."""
        who = self.login or (
            "key:" + _fingerprint(self.access_token.reveal()) if self.access_token else "anonymous"
        )
        return f"{self.callapi_url}#{who}"


def _fingerprint(secret: str) -> str:
    import hashlib

    return hashlib.sha256(secret.encode()).hexdigest()[:12]


def load_settings() -> Settings:
    """Build the settings from the environment."""
    home = Path(_env("HOME", ".dialer")).expanduser()
    token = _env("CALLAPI_ACCESS_TOKEN")
    login = _env("CALLAPI_LOGIN")
    password = _env("CALLAPI_PASSWORD")
    if bool(login) != bool(password):
        raise ConfigError("DIALER_CALLAPI_LOGIN and DIALER_CALLAPI_PASSWORD go together")
    return Settings(
        home=home,
        database_url=_env("DATABASE_URL") or f"sqlite:///{(home / 'dialer.db').as_posix()}",
        broker_url=_env("BROKER_URL") or EMBEDDED_BROKER,
        callapi_url=_env("CALLAPI_URL") or DEFAULT_CALLAPI_URL,
        access_token=Secret(token) if token else None,
        login=login or None,
        password=Secret(password) if password else None,
        connect_timeout=_float("CALLAPI_CONNECT_TIMEOUT", 5.0),
        read_timeout=_float("CALLAPI_READ_TIMEOUT", 30.0),
        method_costs=parse_costs(_env("METHOD_COSTS")),
        minute_limit_guess=_int("MINUTE_LIMIT", 60),
        day_limit_guess=_int("DAY_LIMIT", 10_000),
        window_seconds_guess=_float("WINDOW_SECONDS", 60.0),
        dispatch_interval=_float("DISPATCH_INTERVAL", 1.0),
        max_queued=_int("MAX_QUEUED", 5_000),
        stuck_after=_float("STUCK_AFTER", 120.0),
        transient_attempts=_int("TRANSIENT_ATTEMPTS", 3),
        transient_max_seconds=_float("TRANSIENT_MAX_SECONDS", 60.0),
        backoff_initial=_float("BACKOFF_INITIAL", 0.5),
        backoff_max=_float("BACKOFF_MAX", 10.0),
        backoff_enabled=_bool("BACKOFF", True),
        queue=_env("QUEUE") or "dialer",
        outcomes_enabled=_bool("OUTCOMES", True),
        outcomes_interval=_float("OUTCOMES_INTERVAL", 60.0),
        outcome_timeout=_float("OUTCOME_TIMEOUT", 21_600.0),
        dataapi_url=_env("DATAAPI_URL")
        or dataapi_url_beside(_env("CALLAPI_URL") or DEFAULT_CALLAPI_URL),
        dataapi_access_token=Secret(_env("DATAAPI_ACCESS_TOKEN"))
        if _env("DATAAPI_ACCESS_TOKEN")
        else None,
        account_timezone=_env("ACCOUNT_TIMEZONE") or "Europe/Moscow",
    )


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, read on first use."""
    return load_settings()
