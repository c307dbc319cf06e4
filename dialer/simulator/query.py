"""Filters and sorting of the simulator's reports, as the Data API overview describes them.

A filter is a simple one (`field`, `operator`, `value`) or a tree (`filters`, `condition`);
operators `=`, `!=`, `<`, `>`, `<=`, `>=`, `like` (`%` any run, `_` one character), `in` and
`regexp`. A field the report does not have is `unexpected_parameters`; one it has but does not
filter or sort by is `filter_prohibited` / `sort_prohibited`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dialer.simulator.refusals import Refusal

OPERATORS = frozenset({"=", "!=", "<", ">", "<=", ">=", "like", "regexp", "in"})


Match = Callable[[Mapping[str, Any]], bool]


@dataclass(frozen=True)
class Columns:
    """A report's fields, and those it refuses to filter and sort by."""

    fields: tuple[str, ...]
    not_filterable: frozenset[str]


def compile_filter(spec: Any, table: Columns) -> Match:
    """A predicate for the `filter` param (a simple filter or a tree), checked as the provider
    checks it."""
    if spec is None:
        return lambda _row: True
    if not isinstance(spec, Mapping):
        raise Refusal.of("data_type_error", field="filter", value=spec)
    if "filters" in spec:
        return _tree(spec, table)
    return _simple(spec, table)


def _tree(spec: Mapping[str, Any], table: Columns) -> Match:
    children, condition = spec.get("filters"), spec.get("condition", "and")
    if not isinstance(children, list) or not children or condition not in ("and", "or"):
        raise Refusal.of("invalid_parameter_value", field="filter", value=dict(spec))
    parts = [compile_filter(child, table) for child in children]
    if condition == "and":
        return lambda row: all(part(row) for part in parts)
    return lambda row: any(part(row) for part in parts)


def _simple(spec: Mapping[str, Any], table: Columns) -> Match:
    name, operator, target = spec.get("field"), spec.get("operator"), spec.get("value")
    if not isinstance(name, str) or name not in table.fields:
        raise Refusal.of("unexpected_parameters", field="filter.field", value=name)
    if name in table.not_filterable:
        raise Refusal.of("filter_prohibited", field="filter.field", value=name)
    if operator not in OPERATORS:
        raise Refusal.of("invalid_parameter_value", field="filter.operator", value=operator)
    test = _operator(str(operator), target)
    return lambda row: test(row.get(name))


def _operator(operator: str, target: Any) -> Callable[[Any], bool]:
    if operator == "in":
        if not isinstance(target, list):
            raise Refusal.of("invalid_parameter_value", field="filter.value", value=target)
        members = set(target)
        return lambda value: value in members
    if operator in ("like", "regexp"):
        if not isinstance(target, str):
            raise Refusal.of("invalid_parameter_value", field="filter.value", value=target)
        try:
            pattern = re.compile(_like(target) if operator == "like" else target, re.DOTALL)
        except re.error:
            raise Refusal.of(
                "invalid_parameter_value", field="filter.value", value=target
            ) from None
        search = pattern.fullmatch if operator == "like" else pattern.search
        return lambda value: isinstance(value, str) and search(value) is not None
    if operator == "=":
        return lambda value: bool(value == target)
    if operator == "!=":
        return lambda value: bool(value != target)
    return lambda value: _compare(operator, value, target)


def _like(pattern: str) -> str:
    """A LIKE pattern as a regular expression: `%` any run, `_` any one character."""
    return "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)


def _compare(operator: str, value: Any, target: Any) -> bool:
    numbers = (int, float)
    comparable = (isinstance(value, numbers) and isinstance(target, numbers)) or (
        isinstance(value, str) and isinstance(target, str)
    )
    if not comparable:
        return False
    if operator == "<":
        return bool(value < target)
    if operator == ">":
        return bool(value > target)
    if operator == "<=":
        return bool(value <= target)
    return bool(value >= target)


def sort_key(spec: Any, table: Columns) -> Callable[[Mapping[str, Any]], Any]:
    """Rows in the `sort` param's order (by id when none is given); nulls last."""
    if spec is None:
        spec = [{"field": "id", "order": "asc"}]
    if not isinstance(spec, list) or not all(isinstance(s, Mapping) for s in spec):
        raise Refusal.of("data_type_error", field="sort", value=spec)
    keys: list[tuple[str, bool]] = []
    for item in spec:
        name, order = item.get("field"), item.get("order", "asc")
        if not isinstance(name, str) or name not in table.fields:
            raise Refusal.of("unexpected_parameters", field="sort.field", value=name)
        if name in table.not_filterable:
            raise Refusal.of("sort_prohibited", field="sort.field", value=name)
        if order not in ("asc", "desc"):
            raise Refusal.of("invalid_parameter_value", field="sort.order", value=order)
        keys.append((name, order == "desc"))

    def key(row: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(_Sortable(row.get(name), descending) for name, descending in keys)

    return key


@dataclass(frozen=True)
class _Sortable:
    """One sort key: nulls last, either direction."""

    value: Any
    descending: bool

    def __lt__(self, other: _Sortable) -> bool:
        if self.value is None or other.value is None:
            return self.value is not None and other.value is None
        if self.value == other.value:
            return False
        return bool((self.value > other.value) if self.descending else (self.value < other.value))
