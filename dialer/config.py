"""Settings, read once from `DIALER_*` environment variables, with embedded defaults.

Everything configurable lives here so that a deployment is described by its environment alone.
The defaults run on a laptop with nothing installed: a SQLite file and a file-system broker under
`DIALER_HOME` (default `./.dialer`). pydantic-settings reads and validates the variables; a bad
value leaves as one `ConfigError` that names the variable.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_CALLAPI_URL = "https://callapi.uiscom.ru/v4.0"
EMBEDDED_BROKER = "filesystem://"
PREFIX = "DIALER_"

# Schemes people reach for that kombu does not know, with the one it does.
BROKER_SCHEME_FIXES = {
    "rabbitmq": "amqp://user:password@host:5672//",
    "rabbit": "amqp://user:password@host:5672//",
    "amqps+ssl": "amqps://user:password@host:5671//",
    "rediss+ssl": "rediss://host:6380/0",
}


class ConfigError(ValueError):
    """A `DIALER_*` variable holds a value that cannot be used."""


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


def _env(name: str, default: Any) -> Any:
    """A field set by `DIALER_<name>`, for one whose attribute name says something else."""
    return Field(default, validation_alias=PREFIX + name)


class Settings(BaseSettings):
    """The whole configuration of one process (frozen: `model_copy(update=...)` makes a variant)."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX,
        env_ignore_empty=True,
        str_strip_whitespace=True,
        frozen=True,
        extra="ignore",
        validate_by_name=True,
    )

    home: Path = Path(".dialer")
    database_url: str = Field(
        default_factory=lambda data: f"sqlite:///{(data['home'] / 'dialer.db').as_posix()}"
    )
    broker_url: str = EMBEDDED_BROKER
    # The broker queue the wake-ups travel on; deployments (and test runs) sharing one broker
    # keep apart by giving each its own.
    queue: str = "dialer"

    callapi_url: str = DEFAULT_CALLAPI_URL
    access_token: SecretStr | None = _env("CALLAPI_ACCESS_TOKEN", None)
    login: str | None = _env("CALLAPI_LOGIN", None)
    password: SecretStr | None = _env("CALLAPI_PASSWORD", None)
    connect_timeout: Annotated[float, Field(gt=0)] = _env("CALLAPI_CONNECT_TIMEOUT", 5.0)
    read_timeout: Annotated[float, Field(gt=0)] = _env("CALLAPI_READ_TIMEOUT", 30.0)
    # start.* waits for at most factor × the 95th percentile of its recent answers, never less
    # than the floor nor more than the read timeout (dialer.callapi.answer_times).
    fit_start_timeout: bool = _env("CALLAPI_FIT_START_TIMEOUT", True)
    start_timeout_floor: Annotated[float, Field(gt=0)] = _env("CALLAPI_START_TIMEOUT_FLOOR", 5.0)
    start_timeout_factor: Annotated[float, Field(ge=1)] = _env("CALLAPI_START_TIMEOUT_FACTOR", 4.0)
    method_costs: Annotated[dict[str, int], NoDecode] = Field(default_factory=dict)

    # Beside the Call API by default: callapi.X/v4.0 → dataapi.X/v2.0 (or the simulator's port).
    dataapi_url: str = Field(default_factory=lambda data: dataapi_url_beside(data["callapi_url"]))
    # Defaults to the Call API's permanent key: one key usually opens both APIs.
    dataapi_access_token: SecretStr | None = Field(
        default_factory=lambda data: data["access_token"]
    )
    account_timezone: ZoneInfo = ZoneInfo("Europe/Moscow")
    outcomes_enabled: bool = _env("OUTCOMES", True)
    outcomes_interval: Annotated[float, Field(gt=0)] = 60.0
    outcome_timeout: Annotated[float, Field(gt=0)] = 21_600.0
    # The longest TTS text the account accepts; None while it is not known.
    tts_max_length: Annotated[int, Field(gt=0)] | None = None

    minute_limit_guess: Annotated[int, Field(gt=0)] = _env("MINUTE_LIMIT", 60)
    day_limit_guess: Annotated[int, Field(gt=0)] = _env("DAY_LIMIT", 10_000)
    window_seconds_guess: Annotated[float, Field(gt=0)] = _env("WINDOW_SECONDS", 60.0)
    dispatch_interval: Annotated[float, Field(gt=0)] = 1.0
    max_queued: Annotated[int, Field(gt=0)] = 5_000
    stuck_after: Annotated[float, Field(gt=0)] = 120.0
    transient_attempts: Annotated[int, Field(ge=1)] = 3
    transient_max_seconds: Annotated[float, Field(ge=0)] = 60.0
    backoff_initial: Annotated[float, Field(ge=0)] = 0.5
    backoff_max: Annotated[float, Field(ge=0)] = 10.0
    backoff_enabled: bool = _env("BACKOFF", True)

    @field_validator("home", mode="after")
    @classmethod
    def _expand_home(cls, home: Path) -> Path:
        return home.expanduser()

    @field_validator("method_costs", mode="before")
    @classmethod
    def _parse_costs(cls, raw: Any) -> Any:
        return parse_costs(raw) if isinstance(raw, str) else raw

    @field_validator("account_timezone", mode="before")
    @classmethod
    def _zone(cls, raw: Any) -> Any:
        if isinstance(raw, str):
            try:
                return ZoneInfo(raw)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError("not a time zone such as Europe/Moscow") from None
        return raw

    @field_validator("broker_url", mode="after")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        scheme = urlsplit(url).scheme.lower()
        if scheme in BROKER_SCHEME_FIXES:
            raise ValueError(f"no broker scheme {scheme}://, use {BROKER_SCHEME_FIXES[scheme]}")
        return url

    @model_validator(mode="after")
    def _login_with_password(self) -> Settings:
        if (self.login is None) != (self.password is None):
            raise ValueError("DIALER_CALLAPI_LOGIN and DIALER_CALLAPI_PASSWORD go together")
        return self

    @property
    def broker_folder(self) -> Path:
        """Where the embedded (file-system) broker keeps its messages."""
        return self.home / "broker"

    @property
    def uses_embedded_broker(self) -> bool:
        """True when no external broker is configured."""
        return self.broker_url.startswith(EMBEDDED_BROKER)

    @property
    def has_credentials(self) -> bool:
        """True when a permanent key or a login with its password is set."""
        return self.access_token is not None or self.login is not None

    def cost(self, method: str) -> int:
        """The points one successful call of `method` costs (default 1)."""
        return self.method_costs.get(method, 1)

    @property
    def account_key(self) -> str:
        """Names the provider account whose budget this process shares; never contains a secret."""
        return f"{self.callapi_url}#{self._who(self.access_token)}"

    @property
    def dataapi_account_key(self) -> str:
        """Names the Data API budget this process shares (a row of its own); never a secret."""
        return f"{self.dataapi_url}#{self._who(self.dataapi_access_token)}"

    def _who(self, token: SecretStr | None) -> str:
        if self.login:
            return self.login
        if token:
            return "key:" + _fingerprint(token.get_secret_value())
        return "anonymous"


def _fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:12]


def variable(field: str) -> str:
    """The environment variable that sets a Settings field."""
    alias = Settings.model_fields[field].validation_alias
    return alias if isinstance(alias, str) else PREFIX + field.upper()


def _describe(error: ValidationError) -> str:
    """One line per bad variable: `DIALER_X: what is wrong (got 'value')`."""
    lines = []
    for item in error.errors(include_url=False):
        if item["type"] == "default_factory_not_called":
            continue  # a default built from a field that is itself wrong: that field is named
        location = item["loc"][0] if item["loc"] else None
        field = _field_of(str(location)) if location is not None else None
        message = item["msg"].removeprefix("Value error, ")
        if field is None:
            lines.append(message)
            continue
        shown = "***" if field in {"access_token", "password", "dataapi_access_token"} else None
        got = shown or repr(item.get("input"))
        if got in message:
            lines.append(f"{variable(field)}: {message}")
        else:
            lines.append(f"{variable(field)}: {message} (got {got})")
    return "; ".join(lines)


def _field_of(location: str) -> str | None:
    for name in Settings.model_fields:
        if location == name or location == variable(name):
            return name
    return None


def load_settings(**overrides: Any) -> Settings:
    """Build the settings from the environment (keyword arguments win over it)."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, read on first use."""
    return load_settings()
