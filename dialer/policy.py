"""What follows each answer to a start.* request, and each call's result: the one policy table.

Read it against DESIGN.md principle 4. An answer is first classified (`outcome_of`: by the
error's class, which the mnemonic chose); its row in `POLICY` then says everything that follows:

    outcome         contact goes to                 points    campaign          request round
    placed          placed                          kept      -                 counted counted
    unknown         unknown (never redialed)        kept      -                 counted counted
    transient       tried again now; then redialed  refunded  -                 counted counted
                    after [retry]'s delay, or failed when no round is left
    unreachable     tried again now; then pending   refunded  paused after      -       -
    (not sent, or   after [retry]'s delay                     UNREACHABLE_STREAK in a row
    an HTTP 500/503 page)
    rate_limited    pending until the named reset   provider's count stands     -       -
    contact_error   failed                          refunded  -                 counted counted
    blacklisted     blacklisted, number kept local  refunded  -                 counted -
    campaign_error  pending, untouched              refunded  paused at once    -       -

"points": the provider charges successes only, so a failure's points go back to the shared
budget; a request that may have succeeded keeps them; after `limit_exceeded` the provider's own
count (from the reply) stands. "request": whether `Contact.requests` keeps the request (a refusal
for the account's or the campaign's sake was never about the contact). "round": whether it uses
one of the contact's `[retry] attempts` rounds.

A placed call's result, read later from the provider's reports (`dialer.collector`), has a row
of its own, by its disposition (`dialer.dispositions`); the call's round and request are already
counted when it was placed, and its points spent:

    disposition     contact goes to                           campaign          round
    answered        answered                                  -                 -
    busy            pending after [retry] busy; not_answered  -                 -
                    when that is unset or no round is left
    no_answer       likewise, after [retry] no_answer         -                 -
    bad_number      failed                                    -                 -
    blocked         failed                                    -                 -
    campaign_error  pending, untouched                        paused at once    given back
    provider_error  pending after [retry]'s delay, or failed  -                 -
                    when no round is left
    other           placed (the call was made; its result     -                 -
                    is not one we know)

Adding a row: a new `AttemptOutcome` or `Disposition`, a `Rule` for it here, and, if it is an
error, its case in `outcome_of`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import ColumnElement

from dialer.callapi.errors import (
    REFUSED_UPSTREAM,
    BadReplyError,
    BlacklistedError,
    CallApiError,
    Handling,
    NotSentError,
)
from dialer.dispositions import Disposition
from dialer.models import Attempt, AttemptOutcome

# Requests in a row that never reached the provider before the campaign is paused as unreachable.
UNREACHABLE_STREAK = 5


class Move(enum.Enum):
    """Where a contact goes after an answer."""

    PLACED = "placed"  # the call exists
    UNKNOWN = "unknown"  # the call may exist: final until an operator requeues it
    FAILED = "failed"  # this contact can never be called
    BLACKLISTED = "blacklisted"  # ... and its number joins the local blacklist
    REDIAL = "redial"  # pending after the campaign's retry schedule, failed when none is left
    AFTER_RESET = "after_reset"  # pending until the budget's reset that the provider named
    HOLD = "hold"  # pending, untouched, until the paused campaign is resumed
    ANSWERED = "answered"  # the call reached the contact
    REDIAL_ON_RESULT = "redial_on_result"  # pending after [retry] busy / no_answer, if set and a
    # round is left; else not_answered


class Pause(enum.Enum):
    """Whether an answer pauses the campaign."""

    NEVER = "never"
    AT_ONCE = "at_once"
    AFTER_STREAK = "after_streak"  # after UNREACHABLE_STREAK such answers in a row


@dataclass(frozen=True)
class Rule:
    """Everything that follows one kind of answer."""

    contact: Move
    refund: bool  # the reserved points go back to the budget
    pause: Pause
    counts_request: bool  # Contact.requests keeps it
    counts_round: bool  # uses one of the contact's rounds
    again_now: bool = False  # the turn tries the request again first; `contact` applies after
    returns_round: bool = False  # a call's result that gives back the round its request used


# What one answer, or one call's result, is as the policy sees it.
Verdict = AttemptOutcome | Disposition

POLICY: Mapping[AttemptOutcome, Rule] = {
    AttemptOutcome.PLACED: Rule(Move.PLACED, False, Pause.NEVER, True, True),
    AttemptOutcome.UNKNOWN: Rule(Move.UNKNOWN, False, Pause.NEVER, True, True),
    AttemptOutcome.TRANSIENT: Rule(Move.REDIAL, True, Pause.NEVER, True, True, again_now=True),
    AttemptOutcome.UNREACHABLE: Rule(
        Move.REDIAL, True, Pause.AFTER_STREAK, False, False, again_now=True
    ),
    AttemptOutcome.RATE_LIMITED: Rule(Move.AFTER_RESET, False, Pause.NEVER, False, False),
    AttemptOutcome.CONTACT_ERROR: Rule(Move.FAILED, True, Pause.NEVER, True, True),
    AttemptOutcome.BLACKLISTED: Rule(Move.BLACKLISTED, True, Pause.NEVER, True, False),
    AttemptOutcome.CAMPAIGN_ERROR: Rule(Move.HOLD, True, Pause.AT_ONCE, False, False),
}

# A call's result: its request stands and its points are spent, whatever it was. (A table of
# its own: dispositions and attempt outcomes share some names, and a StrEnum is its string.)
AFTER_CALL: Mapping[Disposition, Rule] = {
    Disposition.ANSWERED: Rule(Move.ANSWERED, False, Pause.NEVER, True, False),
    Disposition.BUSY: Rule(Move.REDIAL_ON_RESULT, False, Pause.NEVER, True, False),
    Disposition.NO_ANSWER: Rule(Move.REDIAL_ON_RESULT, False, Pause.NEVER, True, False),
    Disposition.BAD_NUMBER: Rule(Move.FAILED, False, Pause.NEVER, True, False),
    Disposition.BLOCKED: Rule(Move.FAILED, False, Pause.NEVER, True, False),
    Disposition.CAMPAIGN_ERROR: Rule(
        Move.HOLD, False, Pause.AT_ONCE, True, False, returns_round=True
    ),
    Disposition.PROVIDER_ERROR: Rule(Move.REDIAL, False, Pause.NEVER, True, False),
    Disposition.OTHER: Rule(Move.PLACED, False, Pause.NEVER, True, False),
}

# Principle 4's classes, as attempt outcomes. Auth errors reach the engine only after the client
# has logged in again once; a malformed request is our bug: neither is any contact's fault.
_BY_HANDLING: Mapping[Handling, AttemptOutcome] = {
    Handling.TRANSIENT: AttemptOutcome.TRANSIENT,
    Handling.AMBIGUOUS: AttemptOutcome.UNKNOWN,
    Handling.RATE: AttemptOutcome.RATE_LIMITED,
    Handling.AUTH: AttemptOutcome.CAMPAIGN_ERROR,
    Handling.CONTACT: AttemptOutcome.CONTACT_ERROR,
    Handling.CAMPAIGN: AttemptOutcome.CAMPAIGN_ERROR,
    Handling.REQUEST: AttemptOutcome.CAMPAIGN_ERROR,
    # Only the Data API refuses this way; were a start.* refused so, nothing could be dialed.
    Handling.NO_ACCESS: AttemptOutcome.CAMPAIGN_ERROR,
}


def outcome_of(error: CallApiError) -> AttemptOutcome:
    """What an attempt that got `error` came to (an ambiguous one before its look-up)."""
    match error:
        case BlacklistedError():
            return AttemptOutcome.BLACKLISTED
        case NotSentError():
            return AttemptOutcome.UNREACHABLE
        # The page of a proxy whose API is down: the request never got through, so a provider
        # that is down costs the contacts no round and pauses the campaign after a streak.
        case BadReplyError(status_code=status) if status in REFUSED_UPSTREAM:
            return AttemptOutcome.UNREACHABLE
        case _:
            return _BY_HANDLING[error.handling]


def rule_for(verdict: Verdict) -> Rule:
    """The row of `verdict`."""
    match verdict:
        case Disposition():
            return AFTER_CALL[verdict]
        case AttemptOutcome():
            return POLICY[verdict]


def tried_again_now(exc: BaseException) -> bool:
    """True for an error whose request the same turn tries again at once."""
    return isinstance(exc, CallApiError) and rule_for(outcome_of(exc)).again_now


# Attempts that never became a request the provider took up: refused for the rate, or lost
# before reaching it. They are no call, spend no pace and count in no rate.
_NOT_TAKEN_UP = (AttemptOutcome.RATE_LIMITED, AttemptOutcome.UNREACHABLE)


def taken_up() -> ColumnElement[bool]:
    """SQL: the attempt was a request the provider took up (what paces and call rates count)."""
    return Attempt.outcome.not_in(_NOT_TAKEN_UP)
