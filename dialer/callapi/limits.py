"""The points budget as the provider reports it in `metadata.limits`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_FIELDS = (
    "day_limit",
    "day_remaining",
    "day_reset",
    "minute_limit",
    "minute_remaining",
    "minute_reset",
)


@dataclass(frozen=True)
class Limits:
    """`metadata.limits` of one reply: limits, what remains, and seconds until each resets."""

    day_limit: int
    day_remaining: int
    day_reset: float
    minute_limit: int
    minute_remaining: int
    minute_reset: float
    # Seconds the reply took to come back: the provider read these numbers somewhere within them.
    # Ours, not the provider's: not in `as_dict`, and no part of what the limits are.
    read_in: float = field(default=0.0, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape the provider uses."""
        return {name: getattr(self, name) for name in _FIELDS}

    @classmethod
    def from_mapping(cls, raw: Any) -> Limits | None:
        """Parse a `limits` object; None when it is absent or not all six numbers are there."""
        if not isinstance(raw, Mapping):
            return None
        values: dict[str, Any] = {}
        for name in _FIELDS:
            value = raw.get(name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                return None
            if not _fits_a_float(value):
                return None  # NaN, Infinity (Python's JSON parser accepts them) or 1e400
            values[name] = value
        return cls(
            day_limit=int(values["day_limit"]),
            day_remaining=int(values["day_remaining"]),
            day_reset=float(values["day_reset"]),
            minute_limit=int(values["minute_limit"]),
            minute_remaining=int(values["minute_remaining"]),
            minute_reset=float(values["minute_reset"]),
        )


def _fits_a_float(value: int | float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int no float holds
        return False


def find_limits(body: Any) -> Limits | None:
    """Find `metadata.limits` wherever the reply puts it (the docs do not pin it down for errors).

    Looked for in `result.metadata`, top-level `metadata`, `error.metadata` and
    `error.data.metadata`, in that order.
    """
    if not isinstance(body, Mapping):
        return None
    holders: list[Any] = [body.get("result"), body, body.get("error")]
    error = body.get("error")
    if isinstance(error, Mapping):
        holders.append(error.get("data"))
    for holder in holders:
        if isinstance(holder, Mapping):
            metadata = holder.get("metadata")
            if isinstance(metadata, Mapping):
                limits = Limits.from_mapping(metadata.get("limits"))
                if limits is not None:
                    return limits
    return None
