"""Placeholders in campaign parameters."""

from __future__ import annotations

from typing import Any

import pytest

from dialer.templates import MissingColumnError, TemplateError, placeholders, render, render_with

PARAMS: dict[str, Any] = {
    "virtual_phone_number": "74993720692",
    "dialing_timeout": 30,
    "contact_message": {
        "type": "tts",
        "value": "Здравствуйте, {Имя}! Заказ {Номер заказа} готов. {{не поле}}",
    },
    "list": ["{ x }", 5],
}


def test_placeholders_finds_cyrillic_names_with_spaces_in_nested_strings() -> None:
    assert placeholders(PARAMS) == {"Имя", "Номер заказа", "x"}


def test_render_fills_from_variables_and_unescapes_braces() -> None:
    result = render(PARAMS, {"Имя": "Анна", "Номер заказа": "A-1", "x": "X"})
    assert result["contact_message"]["value"] == "Здравствуйте, Анна! Заказ A-1 готов. {не поле}"
    assert result["list"] == ["X", 5]
    assert result["dialing_timeout"] == 30
    assert PARAMS["contact_message"]["value"].startswith("Здравствуйте, {Имя}")  # not mutated


def test_a_missing_column_names_the_column_and_the_parameter() -> None:
    with pytest.raises(MissingColumnError) as info:
        render(PARAMS, {"Имя": "Анна", "x": "X"})
    assert info.value.column == "Номер заказа"
    assert info.value.path == "contact_message.value"
    assert "Номер заказа" in str(info.value)


def test_empty_value_renders_as_empty_text() -> None:
    assert render({"a": "[{b}]"}, {"b": None}) == {"a": "[]"}


@pytest.mark.parametrize("text", ["oops {", "oops }", "{}", "{ }"])
def test_malformed_templates_are_errors(text: str) -> None:
    with pytest.raises(TemplateError) as info:
        placeholders({"value": text})
    assert info.value.path == "value"


def test_escaped_braces_are_not_placeholders() -> None:
    assert placeholders({"v": "{{literal}} and }}{{"}) == set()
    assert render({"v": "{{literal}}"}, {}) == {"v": "{literal}"}


def test_render_with_fills_every_placeholder_with_the_sample() -> None:
    assert render_with({"v": "{a} {б в}"}, "S") == {"v": "S S"}
