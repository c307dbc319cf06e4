"""Phone numbers: anything a person types or Excel exports, to E.164 digits without `+`.

`8 (926) 000-00-01`, `+7 926 000 00 01` and `9260000001` all become `79260000001`. A number that
`phonenumbers` does not consider valid is rejected, never guessed at; so are the two shapes Excel
and people produce that look like numbers but cannot be dialed as written (scientific notation,
an extension), each with a reason that says what to change.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import phonenumbers
from phonenumbers import timezone as phone_timezone

DEFAULT_REGION = "RU"
UNKNOWN_REGION = "ZZ"  # phonenumbers' own code for "no country"
# Characters people put between digits; removing them first makes parsing cheaper and lets
# `phonenumbers` see the same string for every typing of one number.
_FORMATTING = re.compile(r"[\s()\-./\u00a0\u2010-\u2015]")
# Excel shows a long number in a cell formatted "General" as `7,92612E+10` and saves it so in a CSV.
_SCIENTIFIC = re.compile(r"^\s*\d+(?:[.,]\d+)?[eE][+]?\d+\s*$")
# Reasons quote what was given; a field of megabytes must not become a reason of megabytes.
_SHOWN_CHARS = 40
_UNKNOWN_ZONE = phone_timezone.UNKNOWN_TIMEZONE
# Numbers that are not geographic (Russian mobiles) get the zones of their whole country.
_COUNTRY_ZONES: dict[int, tuple[str, ...]] = {}


class InvalidPhoneError(ValueError):
    """The text is not a valid phone number."""


@dataclass(frozen=True, slots=True)
class Phone:
    """A normalized number, the time zone of its area (when there is exactly one), its country."""

    digits: str
    timezone: str | None
    region: str  # ISO 3166 code of the number's country ("001" for non-geographic numbers)


def parse_phone(raw: str, region: str = DEFAULT_REGION) -> Phone:
    """Normalize `raw` (read in `region` when it has no country code) or raise InvalidPhoneError."""
    text = _FORMATTING.sub("", raw)
    if region == "RU" and (fast := _russian_mobile(text)) is not None:
        return fast
    return _parse_fully(raw, text, region)


def parse_with_phonenumbers(raw: str, region: str = DEFAULT_REGION) -> Phone:
    """`parse_phone` without the fast path: the reference the fast path is checked against."""
    return _parse_fully(raw, _FORMATTING.sub("", raw), region)


def _parse_fully(raw: str, text: str, region: str) -> Phone:
    if not text:
        raise InvalidPhoneError("empty phone number")
    if ("E" in text or "e" in text) and _SCIENTIFIC.match(raw):
        raise InvalidPhoneError(
            f"{_shown(raw)} is a number Excel wrote in scientific notation, and its last digits "
            "are lost: in Excel, format the phone column as Number with 0 decimal places "
            "(or as Text), then save the file again"
        )
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneError(f"not a phone number: {_shown(raw)}") from exc
    # number_type is UNKNOWN exactly when is_valid_number is false; computing it once serves
    # both the check and the time zone, and that lookup is most of the cost of a large import.
    kind = phonenumbers.number_type(number)
    if kind == phonenumbers.PhoneNumberType.UNKNOWN:
        raise InvalidPhoneError(f"not a valid phone number: {_shown(raw)}")
    if number.extension:
        # Rejected, not dialed without it: the Call API dials the number alone, so the call
        # would reach a switchboard or a colleague, who would hear a message meant for someone
        # else (a debt reminder, an order). Whether the main line will do is the user's call.
        raise InvalidPhoneError(
            f"{_shown(raw)} has an extension ({number.extension}), which an automatic call "
            "cannot dial; write the number without it if the main line will do"
        )
    digits = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]
    country = phonenumbers.region_code_for_number(number) or UNKNOWN_REGION
    return Phone(digits, _single_zone(_zones(number, kind)), country)


class _RussianMobiles:
    """What `phonenumbers` answers for a Russian mobile in one of its usual shapes, in a regex.

    `+79261234567`, `89261234567`, `79261234567` and `9261234567` (once the formatting is gone)
    are most of the numbers of a Russian file, and `phonenumbers` spends ~20 µs on each. Their
    answer is always the same: the ten national digits behind 7, no single time zone, RU, when
    the digits match the metadata's own mobile pattern and no pattern that `number_type` tries
    first. Anything else (another shape, an invalid number) takes the full parse, so reasons are
    unchanged; tests/unit/test_phones.py compares both on random and exhaustive corpora.
    """

    # ASCII digits only: `\d` would accept other scripts' digits, which phonenumbers treats
    # in its own ways.
    SHAPE = re.compile(r"(?:\+7|7|8)?(9[0-9]{9})")

    def __init__(self) -> None:
        metadata = phonenumbers.PhoneMetadata.metadata_for_region("RU")
        assert metadata is not None
        assert metadata.mobile is not None
        assert metadata.mobile.national_number_pattern is not None
        self.mobile = re.compile(metadata.mobile.national_number_pattern)
        # The types number_type tries before the mobile one; a national number matching any of
        # them is not a plain mobile, and takes the full parse.
        earlier = (
            metadata.premium_rate,
            metadata.toll_free,
            metadata.shared_cost,
            metadata.voip,
            metadata.personal_number,
            metadata.pager,
            metadata.uan,
            metadata.voicemail,
            metadata.fixed_line,
        )
        self.others = [
            re.compile(desc.national_number_pattern)
            for desc in earlier
            if desc is not None and desc.national_number_pattern is not None
        ]
        # Russia first among the regions of +7, and claiming numbers that start with 9.
        leading = metadata.leading_digits
        self.enabled = phonenumbers.COUNTRY_CODE_TO_REGION_CODE[7][0] == "RU" and (
            leading is None or re.match(leading, "9") is not None
        )
        sample = phonenumbers.parse("+79000000000")
        self.zone = _single_zone(tuple(phone_timezone.time_zones_for_number(sample)))

    def __call__(self, text: str) -> Phone | None:
        """The answer for `text` when it is a usual shape of a valid mobile, else None."""
        shape = self.SHAPE.fullmatch(text)
        if shape is None or not self.enabled:
            return None
        national = shape.group(1)
        if self.mobile.fullmatch(national) is None:
            return None
        for pattern in self.others:
            if pattern.fullmatch(national) is not None:
                return None
        return Phone("7" + national, self.zone, "RU")


def _shown(raw: str) -> str:
    text = raw.strip()
    if len(text) > _SHOWN_CHARS:
        return repr(text[:_SHOWN_CHARS] + "…") + f" ({len(text):,} characters)"
    return repr(text)


ParsedPhone = tuple[str, str | None, str] | str  # (digits, time zone, country), or why not a number


def parse_many(raws: Sequence[str], region: str = DEFAULT_REGION) -> list[ParsedPhone]:
    """`parse_phone` over many texts, in order; a worker process of a big import runs this."""
    parsed: list[ParsedPhone] = []
    for raw in raws:
        try:
            phone = parse_phone(raw, region)
        except InvalidPhoneError as exc:
            parsed.append(str(exc))
        else:
            parsed.append((phone.digits, phone.timezone, phone.region))
    return parsed


def normalize_phone(raw: str, region: str = DEFAULT_REGION) -> str:
    """E.164 digits without `+` for `raw`; raises InvalidPhoneError."""
    return parse_phone(raw, region).digits


def is_region(code: str) -> bool:
    """True when `code` is a country (ISO 3166 alpha-2) that has phone numbers."""
    return code in phonenumbers.SUPPORTED_REGIONS


def format_international(digits: str) -> str:
    """A normalized number as people read it: `+380 44 123 4567`."""
    number = phonenumbers.parse("+" + digits)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


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


_russian_mobile = _RussianMobiles()
