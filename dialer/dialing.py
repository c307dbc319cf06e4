"""One contact's turn: the state machine around each Call API request.

    queued ──begin──▶ dialing ──request──▶ placed | failed | blacklisted | unknown
       ▲                 │  tried again at once (retry.request_retrying) when the policy says;
       │                 │  when those tries run out, redialed after the campaign's delay
       └── pending ◀─────┘  limit_exceeded, campaign-fatal error, budget or window closed

Every attempt row, with its unique `external_id`, is committed before its request is sent. What
each answer leads to is one row of `dialer.policy`; recording it is `dialer.attempts`; an answer
lost on the way is settled by `dialer.lookup`. Each step returns a typed value: a `Ticket` to
send, or the `Turn` it came to.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from dialer import attempts, campaigns, pacing, policy, templates, windows
from dialer.callapi.errors import AmbiguousError, ApiError, CallApiError, InvalidParams
from dialer.callapi.methods import validate_params
from dialer.db import autocommit, transaction
from dialer.lookup import confirm, resolve_attempt
from dialer.models import (
    AttemptOutcome,
    BlacklistEntry,
    Campaign,
    CampaignState,
    Contact,
    ContactStatus,
)
from dialer.options import CampaignOptions
from dialer.policy import Move
from dialer.retry import RetryAfter, budget_retrying, request_retrying
from dialer.turn import Dialer, Plan, Ticket, Turn, TurnResult

__all__ = ["Dialer", "Ticket", "Turn", "TurnResult", "place_call", "resolve_attempt"]

# What a turn reports once an answer's row has moved the contact.
_TURN_AFTER: dict[Move, Turn] = {
    Move.PLACED: Turn.PLACED,
    Move.UNKNOWN: Turn.UNKNOWN,
    Move.FAILED: Turn.FAILED,
    Move.BLACKLISTED: Turn.BLACKLISTED,
    Move.REDIAL: Turn.RESCHEDULED,
    Move.AFTER_RESET: Turn.RATE_LIMITED,
    Move.HOLD: Turn.CAMPAIGN_PAUSED,
}


class NoPoints(RetryAfter):
    """The budget has no points for this request until its reset at `until`."""

    def __init__(self, until: dt.datetime, now: dt.datetime, limit: str) -> None:
        self.until = until
        self.turn = Turn.WAITING_DAY if limit == "day" else Turn.WAITING_MINUTE
        super().__init__((until - now).total_seconds(), self.turn.value)


def place_call(dialer: Dialer, contact_id: int) -> TurnResult:
    """Dial one queued contact; a duplicate or stale wake-up does nothing."""
    result = TurnResult(Turn.SKIPPED)
    expected = ContactStatus.QUEUED
    try:
        for retrying in request_retrying(dialer.settings, policy.tried_again_now, dialer.sleep):
            with retrying:
                match _begin_soon(dialer, contact_id, expected):
                    case Turn() as stop:
                        result.status = stop
                        return result
                    case Ticket() as ticket:
                        # From here on the contact is ours (`dialing`): the next try expects that.
                        expected = ContactStatus.DIALING
                        result.attempt_ids.append(ticket.attempt_id)
                        result.status = _send(dialer, ticket)
    except NoPoints as wait:
        dialer.record(attempts.hand_back, dialer.engine, contact_id, expected, wait.until)
        result.status = wait.turn
    except CallApiError as exc:
        result.status = dialer.record(
            attempts.end_round, dialer.engine, contact_id, exc, dialer.now()
        )
    return result


# Windows this short have their reset waited for in place, however far into the window: see
# `inline_wait`.
SHORT_WINDOW = 10.0


def _begin_soon(dialer: Dialer, contact_id: int, expected: ContactStatus) -> Ticket | Turn:
    """Begin an attempt, waiting in place for a budget reset that is only moments away."""
    retrying = budget_retrying(inline_wait(dialer), dialer.sleep)
    return retrying(_begin, dialer, contact_id, expected)


def inline_wait(dialer: Dialer) -> float:
    """How long a worker holding a wake-up waits in place for points before handing it back.

    `max_inline_wait`, or with windows of `SHORT_WINDOW` seconds or less, the whole window (and
    the slack of a reset read late). The shared row runs dry while other processes still hold
    points in their leases (`dialer.lease`): every thread that then takes a wake-up and finds
    none would hand it back at once and take the next, so the window's last wake-ups went back
    to the dispatcher in a burst, and the points left in the other processes' leases went
    unspent for want of a wake-up (up to a third of a 5-second window in the soak). Waiting,
    a thread keeps its wake-up for the reset and leaves the rest on the broker for the processes
    that still have points; handing back spares a thread no more than a short window anyway.
    """
    window = dialer.settings.window_seconds_guess
    if window > SHORT_WINDOW:
        return dialer.max_inline_wait
    return max(dialer.max_inline_wait, window + pacing.SAME_WINDOW.total_seconds())


def _begin(dialer: Dialer, contact_id: int, expected: ContactStatus) -> Ticket | Turn:
    """Check the contact is still ours to dial, take its points, and commit the attempt row.

    With points in this process's lease, that is one transaction (on PostgreSQL, one read and
    one statement, `_claim_at_once`). Without, three, so that the shared budget row is never
    locked while anything else is: the check, the reservation, and the attempt (which checks
    the contact once more).
    """
    now = dialer.now()
    match _plan_and_open(dialer, contact_id, expected, now):
        case Turn() | Ticket() as done:
            return done
        case Plan() as plan:
            return _open(dialer, contact_id, expected, plan, now)


def _open(
    dialer: Dialer, contact_id: int, expected: ContactStatus, plan: Plan, now: dt.datetime
) -> Ticket | Turn:
    """Reserve the plan's points and commit its attempt; `NoPoints` until the reset if none."""
    reservation = dialer.lease.take(dialer.engine, plan.cost, now)
    if not reservation.granted:
        assert reservation.wait_until is not None
        raise NoPoints(reservation.wait_until, now, reservation.reason or "minute")
    attempt_id = attempts.open_attempt(dialer.engine, contact_id, expected, plan, now)
    if attempt_id is None:
        # Another worker got there between our check and now (a duplicate wake-up).
        dialer.lease.refund(dialer.engine, plan.cost, reservation, now)
        return Turn.SKIPPED
    return _ticket(attempt_id, contact_id, plan, reservation)


def _ticket(
    attempt_id: int, contact_id: int, plan: Plan, reservation: pacing.Reservation
) -> Ticket:
    return Ticket(
        attempt_id, contact_id, plan.campaign_id, plan.method, plan.params, reservation, plan.cost
    )


def _plan_and_open(
    dialer: Dialer, contact_id: int, expected: ContactStatus, now: dt.datetime
) -> Plan | Ticket | Turn:
    """Plan the request; when the lease has its points, commit the attempt in the same
    transaction (a Ticket), else return the Plan for the reservation to be taken first."""
    if dialer.engine.dialect.name == "postgresql":
        done = _claim_at_once(dialer, contact_id, expected, now)
        if done is not None:
            return done
    with transaction(dialer.engine) as session:
        found = session.execute(_contact_campaign_blacklisted(contact_id)).one_or_none()
        if found is None or found.Contact.status != expected:
            return Turn.SKIPPED
        contact = found.Contact
        plan = _plan(dialer, found.Campaign, contact, found.blacklisted, now)
        if isinstance(plan, Turn):
            return plan
        reservation = dialer.lease.take_held(plan.cost, now)
        if reservation is None:
            return plan
        try:
            attempt_id = attempts.add_attempt(session, contact, plan, now)
        except BaseException:
            dialer.lease.refund(dialer.engine, plan.cost, reservation, now)
            raise
    return _ticket(attempt_id, contact_id, plan, reservation)


def _claim_at_once(
    dialer: Dialer, contact_id: int, expected: ContactStatus, now: dt.datetime
) -> Plan | Ticket | None:
    """The common case in two statements and no transaction of their own (PostgreSQL): the
    contact read without a lock, and, when it is ready to dial and the lease has its points,
    claimed with its attempt row in one statement that holds only while the contact is as read
    (`attempts.claim_attempt`). A Plan when the lease is short (the points are taken first, and
    the attempt committed under the contact's lock, as on the locked path); None for anything
    else, which the locked transaction then handles as before (moving the contact if need be).
    """
    with Session(bind=autocommit(dialer.engine)) as session:
        query = _contact_campaign_blacklisted(contact_id, locked=False)
        found = session.execute(query).one_or_none()
        if found is None or found.Contact.status != expected:
            return None
        contact = found.Contact
        # The objects are never flushed: what `_plan` sets on a contact not to be dialed is
        # dropped here, and applied by the locked transaction that follows.
        plan = _plan(dialer, found.Campaign, contact, found.blacklisted, now)
        if isinstance(plan, Turn):
            return None
        reservation = dialer.lease.take_held(plan.cost, now)
        if reservation is None:
            return plan
        try:
            attempt_id = attempts.claim_attempt(session.connection(), contact, expected, plan, now)
        except BaseException:
            dialer.lease.refund(dialer.engine, plan.cost, reservation, now)
            raise
        if attempt_id is None:
            # Moved on since it was read (a duplicate wake-up): the locked path says what to do.
            dialer.lease.refund(dialer.engine, plan.cost, reservation, now)
            return None
    return _ticket(attempt_id, contact_id, plan, reservation)


def _contact_campaign_blacklisted(
    contact_id: int, *, locked: bool = True
) -> Select[Contact, Campaign, bool]:
    """The contact (locked unless told), its campaign, and whether its number is on the local
    blacklist: one round trip. The blacklist may have changed since import: it is read again
    here, right before each request."""
    listed = BlacklistEntry.phone.is_not(None).label("blacklisted")
    query = (
        select(Contact, Campaign, listed)
        .join(Campaign, Campaign.id == Contact.campaign_id)
        .outerjoin(BlacklistEntry, BlacklistEntry.phone == Contact.phone)
        .where(Contact.id == contact_id)
    )
    return query.with_for_update(of=Contact) if locked else query


def _plan(
    dialer: Dialer, campaign: Campaign, contact: Contact, blacklisted: bool, now: dt.datetime
) -> Plan | Turn:
    """Whether the locked contact is to be dialed now, and with what; if not, put it where it
    belongs."""
    stop = _not_now(campaign, contact, blacklisted, now)
    if stop is not None:
        return stop
    try:
        params = _request_params(campaign, contact)
        campaigns.tts_refusal(campaign, params)
    except (InvalidParams, templates.TemplateError) as exc:
        contact.status = ContactStatus.FAILED
        contact.error_mnemonic = getattr(exc, "mnemonic", "invalid_parameter_value")
        contact.error_message = str(exc)
        return Turn.FAILED
    return Plan(campaign.id, campaign.method, params, dialer.settings.cost(campaign.method))


def _not_now(
    campaign: Campaign, contact: Contact, blacklisted: bool, now: dt.datetime
) -> Turn | None:
    """Why this contact must not be dialed at this moment, having put it where it belongs."""
    if campaign.state == CampaignState.CANCELLED:
        contact.status = ContactStatus.CANCELLED
        return Turn.CANCELLED
    if campaign.state != CampaignState.RUNNING:
        contact.status = ContactStatus.PENDING
        return Turn.CAMPAIGN_NOT_RUNNING
    if blacklisted:
        contact.status = ContactStatus.BLACKLISTED
        contact.error_mnemonic = "blacklisted"
        contact.error_message = "the number is on the local blacklist"
        return Turn.BLACKLISTED
    window = CampaignOptions.from_json(campaign.options).window
    zone_name = windows.zone_for(window, contact.timezone)
    if not windows.is_open(window, now, zone_name):
        contact.status = ContactStatus.PENDING
        contact.next_attempt_at = windows.next_opening(window, now, zone_name)
        return Turn.OUTSIDE_WINDOW
    return None


def _request_params(campaign: Campaign, contact: Contact) -> dict[str, Any]:
    """The request's parameters: the campaign's, filled from the contact, plus what we add."""
    params = dict(templates.render(campaign.params, contact.variables))
    params["contact"] = contact.phone
    params["external_id"] = f"dialer-{contact.id}-{contact.requests + 1}-{secrets.token_hex(4)}"
    params.setdefault("direction", "out")
    validate_params(campaign.method, params, require_token=False)
    return params


def _send(dialer: Dialer, ticket: Ticket) -> Turn:
    """Send the request and record what came of it; an error tried again now propagates."""
    try:
        started = dialer.client.start_call(ticket.method, ticket.params)
    except AmbiguousError as exc:
        return confirm(dialer, ticket, exc)
    except CallApiError as exc:
        verdict = policy.outcome_of(exc)
        limits = exc.limits if isinstance(exc, ApiError) else None
        dialer.record(
            attempts.close_attempt,
            dialer.engine,
            dialer.settings,
            ticket,
            verdict,
            dialer.now(),
            limits=limits,
            error=exc,
            lease=dialer.lease,
        )
        rule = policy.rule_for(verdict)
        if rule.again_now:
            raise
        return _TURN_AFTER[rule.contact]
    dialer.record(
        attempts.close_attempt,
        dialer.engine,
        dialer.settings,
        ticket,
        AttemptOutcome.PLACED,
        dialer.now(),
        limits=started.limits,
        call_session_id=started.call_session_id,
        lease=dialer.lease,
    )
    return Turn.PLACED
