"""Phone numbers: anything a person types or Excel exports, to E.164 digits without `+`.

`8 (926) 000-00-01`, `+7 926 000 00 01` and `9260000001` all become `79260000001`. A number that
`phonenumbers` does not consider valid is rejected, never guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import phonenumbers
from phonenumbers import timezone as phone_timezone

DEFAULT_REGION = "RU"
# Characters people put between digits; removing them first makes parsing cheaper and lets
# `phonenumbers` see the same string for every typing of one number.
_FORMATTING = re.compile(r"[\s()\-./\u00a0\u2010-\u2015]")
_UNKNOWN_ZONE = phone_timezone.UNKNOWN_TIMEZONE
# Numbers that are not geographic (Russian mobiles) get the zones of their whole country.
_COUNTRY_ZONES: dict[int, tuple[str, ...]] = {}


class InvalidPhoneError(ValueError):
    """The text is not a valid phone number."""


@dataclass(frozen=True, slots=True)
class Phone:
    """A normalized number and the time zone of its area, when there is exactly one."""

    digits: str
    timezone: str | None


def parse_phone(raw: str, region: str = DEFAULT_REGION) -> Phone:
    """Normalize `raw` (read in `region` when it has no country code) or raise InvalidPhoneError."""
    text = _FORMATTING.sub("", raw)
    if not text:
        raise InvalidPhoneError("empty phone number")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneError(f"not a phone number: {raw.strip()!r}") from exc
    # number_type is UNKNOWN exactly when is_valid_number is false; computing it once serves
    # both the check and the time zone, and that lookup is most of the cost of a large import.
    kind = phonenumbers.number_type(number)
    if kind == phonenumbers.PhoneNumberType.UNKNOWN:
        raise InvalidPhoneError(f"not a valid phone number: {raw.strip()!r}")
    digits = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]
    return Phone(digits, _single_zone(_zones(number, kind)))


ParsedPhone = tuple[str, str | None] | str  # (digits, time zone), or why it is not a number


def parse_many(raws: Sequence[str], region: str = DEFAULT_REGION) -> list[ParsedPhone]:
    """`parse_phone` over many texts, in order; a worker process of a big import runs this."""
    parsed: list[ParsedPhone] = []
    for raw in raws:
        try:
            phone = parse_phone(raw, region)
        except InvalidPhoneError as exc:
            parsed.append(str(exc))
        else:
            parsed.append((phone.digits, phone.timezone))
    return parsed


def normalize_phone(raw: str, region: str = DEFAULT_REGION) -> str:
    """E.164 digits without `+` for `raw`; raises InvalidPhoneError."""
    return parse_phone(raw, region).digits


def _zones(number: phonenumbers.PhoneNumber, kind: int) -> tuple[str, ...]:
    # What time_zones_for_number does, without computing the number type a second time.
    code = number.country_code or 0  # always set once parsed
    if phonenumbers.is_number_type_geographical(kind, code):
        return tuple(phone_timezone.time_zones_for_geographical_number(number))
    if code not in _COUNTRY_ZONES:
        _COUNTRY_ZONES[code] = tuple(phone_timezone.time_zones_for_number(number))
    return _COUNTRY_ZONES[code]


def _single_zone(zones: tuple[str, ...]) -> str | None:
    # Russian mobile ranges span eleven zones: a guess would call people at night, so say nothing.
    if len(zones) != 1 or zones[0] == _UNKNOWN_ZONE:
        return None
    return zones[0]
