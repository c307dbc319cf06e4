"""A string wrapper that never shows its value in logs, reprs or errors."""

from __future__ import annotations

from typing import Any

REDACTED = "***"
SECRET_KEYS = frozenset({"access_token", "password"})


class Secret:
    """Holds a credential; `str()` and `repr()` show `***`, `.reveal()` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the real value, for the one place that must send it."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({REDACTED!r})"

    def __str__(self) -> str:
        return REDACTED

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


def redact(value: Any) -> Any:
    """Return a copy of a JSON-like value with every secret key's value replaced by `***`."""
    if isinstance(value, dict):
        return {
            k: (REDACTED if k in SECRET_KEYS and v is not None else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v) for v in value]
    if isinstance(value, Secret):
        return REDACTED
    return value
