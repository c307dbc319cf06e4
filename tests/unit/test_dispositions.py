"""The finish_reason table: both spellings, unknown values, the contact leg's word."""

from __future__ import annotations

import pytest

from dialer.dispositions import FINISH_REASONS, Disposition, canonical_reason, disposition_of


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("success_finish", Disposition.ANSWERED),
        ("subscriber_disconnects", Disposition.ANSWERED),
        ("caller_disconnects", Disposition.ANSWERED),
        ("subscriber_busy", Disposition.BUSY),
        ("caller_busy", Disposition.BUSY),
        ("subscriber_not_responsible", Disposition.NO_ANSWER),
        ("caller_not_responsive", Disposition.NO_ANSWER),
        ("no_success_caller_call", Disposition.NO_ANSWER),
        ("timeout", Disposition.NO_ANSWER),
        ("subscriber_number_problems", Disposition.BAD_NUMBER),
        ("caller_number_problems", Disposition.BAD_NUMBER),
        ("numa_in_black_list", Disposition.BLOCKED),
        ("not_enough_money", Disposition.CAMPAIGN_ERROR),
        ("limit_exceeded", Disposition.CAMPAIGN_ERROR),
        ("internal_error", Disposition.PROVIDER_ERROR),
        ("  Subscriber_Busy ", Disposition.BUSY),
    ],
)
def test_known_reasons_map_to_their_group(reason: str, expected: Disposition) -> None:
    assert disposition_of(reason) is expected


def test_an_unknown_reason_is_other_and_never_an_error() -> None:
    assert disposition_of("brand_new_reason_2027") is Disposition.OTHER
    assert disposition_of(None) is Disposition.OTHER
    assert disposition_of("") is Disposition.OTHER


def test_the_contact_leg_settles_an_unknown_reason() -> None:
    assert disposition_of("brand_new_reason_2027", picked_up=True) is Disposition.ANSWERED
    assert disposition_of("brand_new_reason_2027", picked_up=False) is Disposition.OTHER
    # A known reason wins over the leg: a busy signal is busy whatever the leg says.
    assert disposition_of("subscriber_busy", picked_up=True) is Disposition.BUSY


def test_english_spellings_map_to_uis_ones() -> None:
    assert canonical_reason("caller_not_responsive") == "subscriber_not_responsible"
    assert canonical_reason("operator_answer") == "operator_answer"


def test_every_reason_is_in_one_group_only() -> None:
    assert len(FINISH_REASONS) == len(set(FINISH_REASONS))
    assert {d for d in FINISH_REASONS.values()} == set(Disposition) - {Disposition.OTHER}
