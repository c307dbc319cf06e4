"""The message catalogue: every text in both languages, with the same fields."""

from __future__ import annotations

import string

import pytest

from dialer.reports.messages import MESSAGES, Lang, Texts
from dialer.reports.status import format_duration


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_every_message_has_every_language_with_the_same_fields(key: str) -> None:
    entry = MESSAGES[key]
    assert set(entry) == {lang.value for lang in Lang}
    assert _fields(entry["ru"]) == _fields(entry["en"])


def test_texts_fill_fields_and_name_statuses() -> None:
    ru = Texts(Lang.RU)
    assert ru("report.attention", n=3) == "Контакты, требующие внимания (3)"
    assert ru.status("not_answered") == "не ответил"
    assert ru.state("paused") == "на паузе"
    assert Texts().status("something_new") == "something_new"


def test_durations_in_russian() -> None:
    assert format_duration(4 * 3600 + 300, Texts(Lang.RU)) == "4ч 05м"
    assert format_duration(40, Texts(Lang.RU)) == "40с"
