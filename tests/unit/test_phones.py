"""Phone normalization: the shapes people type, invalid numbers, regions and time zones."""

from __future__ import annotations

import pytest

from dialer.phones import InvalidPhoneError, normalize_phone, parse_phone


@pytest.mark.parametrize(
    "raw",
    [
        "8 (926) 000-00-01",
        "+7 926 000 00 01",
        "9260000001",
        "79260000001",
        "+7(926)000-00-01",
        "8-926-000-00-01",
        " 8 926 000 0001 ",
        "8\u00a0926\u00a0000\u00a000\u00a001",
    ],
)
def test_russian_shapes_become_e164_digits(raw: str) -> None:
    assert normalize_phone(raw) == "79260000001"


@pytest.mark.parametrize(
    "raw", ["", "   ", "12345", "нет", "8 (926) 000-00", "+7 926 000 00 01 23"]
)
def test_invalid_numbers_are_rejected_not_guessed(raw: str) -> None:
    with pytest.raises(InvalidPhoneError):
        normalize_phone(raw)


def test_region_applies_to_numbers_without_country_code() -> None:
    assert normalize_phone("020 7946 0018", "GB") == "442079460018"
    assert normalize_phone("06 1234 5678", "IT") == "390612345678"  # Italian leading zero kept
    with pytest.raises(InvalidPhoneError):
        normalize_phone("9260000001", "US")


def test_a_country_code_wins_over_the_region() -> None:
    assert normalize_phone("+7 926 000 00 01", "US") == "79260000001"


def test_time_zone_only_when_unambiguous() -> None:
    assert parse_phone("8 (495) 123-45-67").timezone == "Europe/Moscow"
    # Russian mobile ranges span many zones: no guess.
    assert parse_phone("8 (926) 000-00-01").timezone is None
    assert parse_phone("+44 20 7946 0018").timezone == "Europe/London"
