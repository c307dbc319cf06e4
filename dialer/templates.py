"""Placeholders in campaign parameters: `{column}` is filled from the contact's CSV columns.

A placeholder is anything between single braces, so a column name may hold Cyrillic letters,
spaces or punctuation (`{Имя клиента}`); surrounding spaces are ignored. `{{` and `}}` stand for
literal braces. Only strings are templated, at any depth of dicts and lists; keys never are.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

# One alternation, scanned left to right, so that "{{name}}" is an escaped "{name}", not a field.
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


class TemplateError(ValueError):
    """A parameter string is not a valid template, or cannot be filled."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}" if path else message)


class MissingColumnError(TemplateError):
    """A placeholder names a column the contact does not have."""

    def __init__(self, path: str, column: str) -> None:
        self.column = column
        super().__init__(path, f"placeholder {{{column}}} has no column {column!r} to fill it")


def _fill(text: str, path: str, lookup: Callable[[str], str]) -> str:
    def replace(match: re.Match[str]) -> str:
        piece = match.group(0)
        if piece == "{{":
            return "{"
        if piece == "}}":
            return "}"
        if match.group(1) is None:
            raise TemplateError(path, f"unmatched {piece!r} (write {piece * 2} for a literal one)")
        name = match.group(1).strip()
        if not name:
            raise TemplateError(path, "empty placeholder {}")
        return lookup(name)

    return _TOKEN.sub(replace, text)


def _walk(value: Any, path: str, fill: Callable[[str, str], str]) -> Any:
    if isinstance(value, str):
        return fill(value, path)
    if isinstance(value, Mapping):
        return {k: _walk(v, f"{path}.{k}" if path else str(k), fill) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_walk(v, f"{path}[{i}]", fill) for i, v in enumerate(value)]
    return value


def _strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


def placeholders(params: Mapping[str, Any]) -> set[str]:
    """The column names the placeholders of `params` use; raises `TemplateError` if malformed."""
    found: set[str] = set()

    def collect(name: str) -> str:
        found.add(name)
        return ""

    for path, text in _strings(params):
        _fill(text, path, collect)
    return found


def render(params: Mapping[str, Any], variables: Mapping[str, str | None]) -> dict[str, Any]:
    """A copy of `params` with every placeholder filled from `variables` (a contact's columns)."""

    def fill(text: str, path: str) -> str:
        def lookup(name: str) -> str:
            if name not in variables:
                raise MissingColumnError(path, name)
            return variables[name] or ""

        return _fill(text, path, lookup)

    result: dict[str, Any] = _walk(params, "", fill)
    return result


def render_with(params: Mapping[str, Any], sample: str) -> dict[str, Any]:
    """A copy of `params` with every placeholder replaced by `sample` (to validate a template)."""
    return render(params, _Everything(sample))


class _Everything(Mapping[str, str | None]):
    # Answers every column name with the same text.
    def __init__(self, text: str) -> None:
        self._text = text

    def __getitem__(self, key: str) -> str:
        return self._text

    def __contains__(self, key: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0
