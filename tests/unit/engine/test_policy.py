"""The policy table: every answer has exactly one row, and the rows say what DESIGN.md's
principle 4 says of each class of error."""

from __future__ import annotations

import pytest

from dialer import policy
from dialer.callapi.errors import (
    DATA_API_MNEMONICS,
    MNEMONICS,
    AmbiguousError,
    BadReplyError,
    CallApiError,
    Handling,
    InvalidParams,
    NotSentError,
    from_error_object,
)
from dialer.dispositions import Disposition
from dialer.models import AttemptOutcome
from dialer.options import Retry
from dialer.policy import Move, Pause


def test_every_outcome_but_an_open_one_has_a_row() -> None:
    assert set(policy.POLICY) == set(AttemptOutcome) - {AttemptOutcome.REQUESTING}


@pytest.mark.parametrize("mnemonic", sorted(MNEMONICS))
def test_every_known_mnemonic_leads_to_a_row(mnemonic: str) -> None:
    error = from_error_object({"code": -32000, "message": "x", "data": {"mnemonic": mnemonic}})
    assert policy.outcome_of(error) in policy.POLICY


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (NotSentError("refused"), AttemptOutcome.UNREACHABLE),
        (BadReplyError("HTTP 503", 503), AttemptOutcome.UNREACHABLE),
        (BadReplyError("HTTP 500", 500), AttemptOutcome.UNREACHABLE),
        (BadReplyError("not JSON", 200), AttemptOutcome.TRANSIENT),
        (AmbiguousError("read timeout"), AttemptOutcome.UNKNOWN),
        (
            InvalidParams("start.informer_call", "contact", "x", "bad"),
            AttemptOutcome.CAMPAIGN_ERROR,
        ),
    ],
)
def test_errors_we_raise_ourselves_are_classified(error: CallApiError, outcome: str) -> None:
    assert policy.outcome_of(error) == outcome


def row_of(mnemonic: str) -> policy.Rule:
    error = from_error_object({"code": -32000, "message": "x", "data": {"mnemonic": mnemonic}})
    return policy.rule_for(policy.outcome_of(error))


def test_principle_four_reads_off_the_table() -> None:
    # transient: retried with backoff, its points back
    transient = row_of("internal_error")
    assert (transient.again_now, transient.refund, transient.contact) == (True, True, Move.REDIAL)
    # rate: wait for the named reset, costing the contact nothing
    rate = row_of("limit_exceeded")
    assert (rate.contact, rate.counts_request, rate.counts_round) == (
        Move.AFTER_RESET,
        False,
        False,
    )
    # auth, campaign-fatal and our own bad requests: pause, lose nothing
    for mnemonic in ("access_token_invalid", "virtual_phone_number_not_found", "parse_error"):
        fatal = row_of(mnemonic)
        assert (fatal.pause, fatal.contact, fatal.counts_round) == (Pause.AT_ONCE, Move.HOLD, False)
    # contact-permanent: that contact ends
    assert row_of("own_virtual_phone_number_not_allowed").contact is Move.FAILED
    assert row_of("contact_in_blacklist").contact is Move.BLACKLISTED


def test_only_an_answer_that_may_have_placed_a_call_keeps_its_points() -> None:
    kept = {outcome for outcome, rule in policy.POLICY.items() if not rule.refund}
    # After limit_exceeded nothing is given back either: the provider's count in its reply stands.
    assert kept == {AttemptOutcome.PLACED, AttemptOutcome.UNKNOWN, AttemptOutcome.RATE_LIMITED}


def test_only_transient_answers_are_tried_again_at_once() -> None:
    assert policy.tried_again_now(BadReplyError("HTTP 503", 503))
    assert policy.tried_again_now(NotSentError("refused"))
    assert not policy.tried_again_now(AmbiguousError("cut"))
    assert not policy.tried_again_now(ValueError("not ours"))
    again = {o for o, rule in policy.POLICY.items() if rule.again_now}
    assert again == {AttemptOutcome.TRANSIENT, AttemptOutcome.UNREACHABLE}


def test_every_handling_is_classified() -> None:
    classes = [*MNEMONICS.values(), *DATA_API_MNEMONICS.values()]
    handled = {cls.handling for cls in classes} | {Handling.AMBIGUOUS}
    assert handled == set(Handling)
    for handling in Handling:
        assert policy.outcome_of(_error_handled_as(handling)) in policy.POLICY


def _error_handled_as(handling: Handling) -> CallApiError:
    error = CallApiError("any")
    error.handling = handling
    return error


def test_the_retry_schedule_is_one_value() -> None:
    retry = Retry(rounds=3, delays=(60.0, 600.0))
    assert [retry.schedule_in(done) for done in range(4)] == [60.0, 60.0, 600.0, None]


def test_every_call_result_has_a_row_and_only_a_campaign_error_pauses() -> None:
    assert set(policy.AFTER_CALL) == set(Disposition)
    pausing = {d for d, rule in policy.AFTER_CALL.items() if rule.pause is Pause.AT_ONCE}
    assert pausing == {Disposition.CAMPAIGN_ERROR}
    # A call's result never refunds points nor counts another round: its request did both.
    assert not any(rule.refund or rule.counts_round for rule in policy.AFTER_CALL.values())


def test_a_disposition_and_an_outcome_of_the_same_name_keep_their_own_rows() -> None:
    assert policy.rule_for(AttemptOutcome.CAMPAIGN_ERROR).refund
    assert not policy.rule_for(Disposition.CAMPAIGN_ERROR).refund


def test_the_one_statement_record_of_a_placed_call_is_the_policys_row() -> None:
    # `attempts._PLACED` writes a placed call's contact without reading the row: it holds only
    # while the row says exactly this.
    rule = policy.rule_for(AttemptOutcome.PLACED)
    assert rule.contact == Move.PLACED
    assert rule.counts_request
    assert not rule.again_now
    assert rule.pause == Pause.NEVER
    assert not rule.returns_round
