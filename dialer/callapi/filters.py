"""Filters of the Data API's `get.*` methods, built typed and serialised as the docs show them.

A simple filter is `{"field": F, "operator": OP, "value": V}`; a tree is
`{"filters": [...], "condition": "and" | "or"}` holding simple filters and further trees.

    any_of(is_in("call_api_external_id", ids), like("call_api_external_id", "c7-%"))
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

OPERATORS = frozenset({"=", "!=", "<", ">", "<=", ">=", "like", "regexp", "jsquery", "in"})
Condition = Literal["and", "or"]


@dataclass(frozen=True)
class Where:
    """A simple filter: `field` `operator` `value`."""

    field: str
    operator: str
    value: Any

    def __post_init__(self) -> None:
        if self.operator not in OPERATORS:
            raise ValueError(f"unknown filter operator {self.operator!r}")
        if self.operator == "in" and not isinstance(self.value, list | tuple):
            raise ValueError("the `in` operator takes a list of values")
        if self.operator == "like" and not isinstance(self.value, str):
            raise ValueError("the `like` operator takes a string with % wildcards")

    def as_json(self) -> dict[str, Any]:
        """The docs' JSON shape."""
        value = list(self.value) if isinstance(self.value, tuple) else self.value
        return {"field": self.field, "operator": self.operator, "value": value}


@dataclass(frozen=True)
class Tree:
    """A filter tree: simple filters and trees joined by one condition."""

    filters: tuple[Filter, ...]
    condition: Condition = "and"

    def __post_init__(self) -> None:
        if not self.filters:
            raise ValueError("a filter tree needs at least one filter")
        if self.condition not in ("and", "or"):
            raise ValueError(f"a filter tree's condition is and / or, not {self.condition!r}")

    def as_json(self) -> dict[str, Any]:
        """The docs' JSON shape."""
        return {"filters": [f.as_json() for f in self.filters], "condition": self.condition}


Filter = Where | Tree


def equals(field: str, value: Any) -> Where:
    """`field = value`."""
    return Where(field, "=", value)


def is_in(field: str, values: Iterable[Any]) -> Where:
    """`field` is any of `values`."""
    return Where(field, "in", list(values))


def like(field: str, pattern: str) -> Where:
    """`field like pattern` (`%` for any run of characters, case-sensitive)."""
    return Where(field, "like", pattern)


def at_least(field: str, value: Any) -> Where:
    """`field >= value`."""
    return Where(field, ">=", value)


def at_most(field: str, value: Any) -> Where:
    """`field <= value`."""
    return Where(field, "<=", value)


def all_of(*filters: Filter) -> Tree:
    """Every one of `filters`."""
    return Tree(filters, "and")


def any_of(*filters: Filter) -> Tree:
    """At least one of `filters`."""
    return Tree(filters, "or")
