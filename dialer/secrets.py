"""Keeping credentials out of logs, reprs, stored payloads and errors.

A credential is held as `pydantic.SecretStr` (its `str()` and `repr()` show stars; the value
comes out only through `.get_secret_value()`, in the one place that must send it). `redact()`
masks the secret keys of a JSON-like value before it is logged or stored.
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

REDACTED = "***"
SECRET_KEYS = frozenset({"access_token", "password"})


def redact(value: Any) -> Any:
    """Return a copy of a JSON-like value with every secret key's value replaced by `***`."""
    if isinstance(value, dict):
        return {
            k: (REDACTED if k in SECRET_KEYS and v is not None else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v) for v in value]
    if isinstance(value, SecretStr):
        return REDACTED
    return value
