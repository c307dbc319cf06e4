"""Phone numbers: anything a person types or Excel exports, to E.164 digits without `+`.

`8 (926) 000-00-01`, `+7 926 000 00 01` and `9260000001` all become `79260000001`. A number that
`phonenumbers` does not consider valid is rejected, never guessed at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import timezone as phone_timezone

DEFAULT_REGION = "RU"
# Characters people put between digits; removing them first makes parsing cheaper and lets
# `phonenumbers` see the same string for every typing of one number.
_FORMATTING = re.compile(r"[\s()\-./\u00a0\u2010-\u2015]")
_UNKNOWN_ZONE = phone_timezone.UNKNOWN_TIMEZONE


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
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneError(f"not a valid phone number: {raw.strip()!r}")
    digits = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]
    return Phone(digits, _single_zone(phone_timezone.time_zones_for_number(number)))


def normalize_phone(raw: str, region: str = DEFAULT_REGION) -> str:
    """E.164 digits without `+` for `raw`; raises InvalidPhoneError."""
    return parse_phone(raw, region).digits


def timezone_of(digits: str) -> str | None:
    """The IANA time zone of a normalized number, or None when unknown or ambiguous."""
    return _single_zone(phone_timezone.time_zones_for_number(phonenumbers.parse("+" + digits)))


def _single_zone(zones: tuple[str, ...]) -> str | None:
    # Russian mobile ranges span eleven zones: a guess would call people at night, so say nothing.
    if len(zones) != 1 or zones[0] == _UNKNOWN_ZONE:
        return None
    return zones[0]
