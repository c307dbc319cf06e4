"""Phone normalization: the shapes people type, invalid numbers, regions and time zones."""

from __future__ import annotations

import pytest

from dialer.phones import (
    InvalidPhoneError,
    format_international,
    is_region,
    normalize_phone,
    parse_phone,
)


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


@pytest.mark.parametrize("raw", ["7,92612E+10", "7.92612E+10", "7,93e+10", " 79E+9 "])
def test_excel_scientific_notation_says_how_to_fix_it(raw: str) -> None:
    with pytest.raises(InvalidPhoneError) as info:
        normalize_phone(raw)
    message = str(info.value)
    assert raw.strip() in message
    assert "scientific notation" in message
    assert "format the phone column as Number with 0 decimal places" in message


@pytest.mark.parametrize(
    "raw", ["8 (926) 000-00-01 доб. 12", "+7 926 000 00 01 ext. 12", "89260000001 x12"]
)
def test_a_number_with_an_extension_is_rejected_saying_so(raw: str) -> None:
    with pytest.raises(InvalidPhoneError, match=r"has an extension \(12\)"):
        normalize_phone(raw)


def test_the_country_of_a_number() -> None:
    assert parse_phone("8 (926) 000-00-01").region == "RU"
    assert parse_phone("+380 44 123 4567").region == "UA"
    assert parse_phone("+7 701 234 5678").region == "KZ"  # +7 is shared with Kazakhstan
    assert format_international("380441234567") == "+380 44 123 4567"
    assert is_region("UA")
    assert not is_region("XX")


def test_a_huge_text_is_quoted_short_in_the_reason() -> None:
    with pytest.raises(InvalidPhoneError) as info:
        normalize_phone("9" * 2_000_000)
    assert len(str(info.value)) < 120
    assert "2,000,000 characters" in str(info.value)
