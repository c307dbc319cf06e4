"""Phone normalization: the shapes people type, invalid numbers, regions and time zones."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.phones import (
    InvalidPhoneError,
    Phone,
    format_international,
    is_region,
    normalize_phone,
    parse_phone,
    parse_with_phonenumbers,
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


# --- the fast path for Russian mobiles gives the answer phonenumbers gives ----------------------


def _outcome(parse: Callable[[str, str], Phone], raw: str, region: str) -> Phone | str:
    try:
        return parse(raw, region)
    except InvalidPhoneError as exc:
        return f"error: {exc}"


def _same_as_phonenumbers(raw: str, region: str = "RU") -> None:
    assert _outcome(parse_phone, raw, region) == _outcome(parse_with_phonenumbers, raw, region)


_SHAPES = ("+7 {a} {b} {c} {d}", "8 ({a}) {b}-{c}-{d}", "{a}{b}{c}{d}", "7{a}{b}{c}{d}")


def test_every_five_digit_prefix_of_the_nines_in_the_usual_shapes() -> None:
    # Covers each branch of the mobile pattern (the 93x ranges are partly unassigned).
    rng = random.Random(12)
    for prefix in range(90_000, 100_000):
        national = f"{prefix}{rng.randrange(100_000):05d}"
        a, b, c, d = national[:3], national[3:6], national[6:8], national[8:]
        _same_as_phonenumbers(_SHAPES[prefix % 4].format(a=a, b=b, c=c, d=d))


_near_shapes = st.builds(
    lambda prefix, first, rest, sep: prefix + sep.join([first + rest[:2], rest[2:5], rest[5:]]),
    st.sampled_from(["", "+7", "7", "8", "+8", "+", "87", "78", "+77", "9", "0", "+9", "+79"]),
    st.sampled_from(list("0123456789")),
    st.text(alphabet="0123456789", min_size=6, max_size=11),
    st.sampled_from(["", " ", "-", "(", ")", ".", "\u00a0", "x", "e", "+"]),
)


@settings(max_examples=2_000, deadline=None)
@given(raw=_near_shapes)
def test_numbers_near_the_usual_shapes(raw: str) -> None:
    _same_as_phonenumbers(raw)


@settings(max_examples=2_000, deadline=None)
@given(raw=st.text(alphabet="0123456789+()- .\u00a0\u0669\uff19eEx#*;,", max_size=20))
def test_any_text_of_phone_characters(raw: str) -> None:
    _same_as_phonenumbers(raw)


@settings(max_examples=500, deadline=None)
@given(raw=_near_shapes, region=st.sampled_from(["KZ", "UA", "US", "BY"]))
def test_other_regions_take_the_full_parse(raw: str, region: str) -> None:
    _same_as_phonenumbers(raw, region)
