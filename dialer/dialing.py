"""One contact's turn: the state machine around each Call API request.

    queued ──begin──▶ dialing ──request──▶ placed | failed | blacklisted | unknown
       ▲                 │  transient error: tried again (the retry policy), then the contact is
       │                 │  rescheduled after the campaign's delay until its rounds run out
       └── pending ◀─────┘  limit_exceeded, campaign-fatal error, budget or window closed

Every attempt row, with its unique `external_id`, is committed before its request is sent. When
the answer is lost after the request may have reached the provider, the call is looked up by that
`external_id` in `list.calls`; if it cannot be confirmed either way the contact becomes `unknown`
and is never redialed by itself.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from dialer import blacklist, pacing, templates, windows
from dialer.callapi.client import ActiveCall, CallApiClient
from dialer.callapi.errors import (
    AmbiguousError,
    ApiError,
    BlacklistedError,
    CallApiError,
    ContactError,
    Handling,
    InvalidParams,
    NotSentError,
    RateLimitError,
)
from dialer.callapi.limits import Limits
from dialer.callapi.methods import LIST_CALLS, validate_params
from dialer.config import Settings
from dialer.db import transaction, utcnow
from dialer.models import (
    Attempt,
    AttemptOutcome,
    BlacklistSource,
    Campaign,
    CampaignState,
    Contact,
    ContactStatus,
    ReportStatus,
)
from dialer.options import CampaignOptions
from dialer.retry import transient_retrying
from dialer.secrets import redact

log = logging.getLogger("dialer.dialing")
# How many times a look-up refused with `limit_exceeded` waits for the reset and asks again.
LOOKUP_RATE_WAITS = 3
# `list.calls` lists active calls only: a look-up later than this would miss most of them.
LOOKUP_MAX_WAIT = 60.0


@dataclass
class Dialer:
    """What dialing needs: settings, the database, a Call API client, and a clock."""

    settings: Settings
    engine: Engine
    client: CallApiClient
    now: Callable[[], dt.datetime] = utcnow
    sleep: Callable[[float], None] = time.sleep
    # A worker holding a wake-up waits this long at most for the budget's reset; a longer wait
    # hands the contact back to the dispatcher instead of occupying the worker.
    max_inline_wait: float = 3.0


@dataclass(frozen=True)
class Ticket:
    """A committed attempt, ready to be sent."""

    attempt_id: int
    contact_id: int
    campaign_id: int
    method: str
    params: dict[str, Any]
    reservation: pacing.Reservation
    cost: int


@dataclass(frozen=True)
class Wait:
    """No points now; try again at `until`."""

    until: dt.datetime
    reason: str


@dataclass
class Outcome:
    """What became of one `place_call`, for logs and tests."""

    status: str
    attempts: list[int] = field(default_factory=list)


def place_call(dialer: Dialer, contact_id: int) -> Outcome:
    """Dial one queued contact; a duplicate or stale wake-up does nothing."""
    outcome = Outcome(status="skipped")
    expected = ContactStatus.QUEUED
    try:
        for retrying in transient_retrying(dialer.settings):
            with retrying:
                ticket = _begin_waiting(dialer, contact_id, expected)
                if not isinstance(ticket, Ticket):
                    outcome.status = ticket
                    return outcome
                # From here on the contact is ours (`dialing`): the next try expects that.
                expected = ContactStatus.DIALING
                outcome.attempts.append(ticket.attempt_id)
                outcome.status = _send(dialer, ticket)
    except CallApiError as exc:
        outcome.status = _end_round(dialer, contact_id, exc)
    return outcome


def _begin_waiting(dialer: Dialer, contact_id: int, expected: ContactStatus) -> Ticket | str:
    """Begin an attempt, waiting in place for a budget reset that is only moments away."""
    while True:
        ticket = _begin(dialer, contact_id, expected)
        if not isinstance(ticket, Wait):
            return ticket
        seconds = (ticket.until - dialer.now()).total_seconds()
        if seconds > dialer.max_inline_wait:
            return _defer(dialer, contact_id, expected, ticket)
        dialer.sleep(max(seconds, 0.01))


@dataclass(frozen=True)
class _Plan:
    """A contact found ready to dial, and the request it will get."""

    campaign_id: int
    method: str
    params: dict[str, Any]
    cost: int


def _begin(dialer: Dialer, contact_id: int, expected: ContactStatus) -> Ticket | Wait | str:
    """Check the contact is still ours to dial, take its points, and commit the attempt row.

    Three short transactions, so that the shared budget row is never locked while anything else
    is: the check, the reservation, and the attempt (which checks the contact once more).
    """
    now = dialer.now()
    plan = _plan(dialer, contact_id, expected, now)
    if not isinstance(plan, _Plan):
        return plan
    reservation = pacing.take(dialer.engine, dialer.settings, plan.cost, now)
    if not reservation.granted:
        assert reservation.wait_until is not None
        return Wait(reservation.wait_until, reservation.reason or "minute")
    attempt_id = _commit_attempt(dialer, contact_id, expected, plan, now)
    if attempt_id is None:
        # Another worker got there between our check and now (a duplicate wake-up).
        pacing.settle(dialer.engine, dialer.settings, now, None, (plan.cost, reservation))
        return "skipped"
    return Ticket(
        attempt_id, contact_id, plan.campaign_id, plan.method, plan.params, reservation, plan.cost
    )


def _plan(
    dialer: Dialer, contact_id: int, expected: ContactStatus, now: dt.datetime
) -> _Plan | str:
    """Whether the contact is to be dialed now, and with what; if not, put it where it belongs."""
    with transaction(dialer.engine) as session:
        contact = session.get(Contact, contact_id, with_for_update=True)
        if contact is None or contact.status != expected:
            return "skipped"
        campaign = session.get_one(Campaign, contact.campaign_id)
        stop = _not_now(session, campaign, contact, now)
        if stop is not None:
            return stop
        try:
            params = _request_params(campaign, contact)
        except (InvalidParams, templates.TemplateError) as exc:
            _fail_contact(contact, getattr(exc, "mnemonic", "invalid_parameter_value"), str(exc))
            return ContactStatus.FAILED.value
        return _Plan(campaign.id, campaign.method, params, dialer.settings.cost(campaign.method))


def _commit_attempt(
    dialer: Dialer, contact_id: int, expected: ContactStatus, plan: _Plan, now: dt.datetime
) -> int | None:
    """Commit the attempt row and mark the contact `dialing`; None if it is no longer ours."""
    with transaction(dialer.engine) as session:
        contact = session.get(Contact, contact_id, with_for_update=True)
        if contact is None or contact.status != expected:
            return None
        attempt = Attempt(
            external_id=plan.params["external_id"],
            contact_id=contact_id,
            campaign_id=plan.campaign_id,
            method=plan.method,
            params=redact(plan.params),
            requested_at=now,
        )
        session.add(attempt)
        contact.status = ContactStatus.DIALING
        contact.attempts += 1
        contact.last_attempt_at = now
        session.flush()
        return attempt.id


def _not_now(
    session: Session, campaign: Campaign, contact: Contact, now: dt.datetime
) -> str | None:
    """Why this contact must not be dialed at this moment, having put it where it belongs."""
    if campaign.state == CampaignState.CANCELLED:
        contact.status = ContactStatus.CANCELLED
        return ContactStatus.CANCELLED.value
    if campaign.state != CampaignState.RUNNING:
        contact.status = ContactStatus.PENDING
        return "campaign not running"
    # The blacklist may have changed since import: it is checked again right before each request.
    if blacklist.is_blacklisted(session, contact.phone):
        contact.status = ContactStatus.BLACKLISTED
        contact.error_mnemonic = "blacklisted"
        contact.error_message = "the number is on the local blacklist"
        return ContactStatus.BLACKLISTED.value
    window = CampaignOptions.from_json(campaign.options).window
    zone_name = windows.zone_for(window, contact.timezone)
    if not windows.is_open(window, now, zone_name):
        contact.status = ContactStatus.PENDING
        contact.next_attempt_at = windows.next_opening(window, now, zone_name)
        return "outside calling window"
    return None


def _request_params(campaign: Campaign, contact: Contact) -> dict[str, Any]:
    """The request's parameters: the campaign's, filled from the contact, plus what we add."""
    params = dict(templates.render(campaign.params, contact.variables))
    params["contact"] = contact.phone
    params["external_id"] = f"dialer-{contact.id}-{contact.attempts + 1}-{secrets.token_hex(4)}"
    params.setdefault("direction", "out")
    validate_params(campaign.method, params, require_token=False)
    return params


def _defer(dialer: Dialer, contact_id: int, expected: ContactStatus, wait: Wait) -> str:
    """Hand the contact back to the dispatcher until the budget resets."""
    with transaction(dialer.engine) as session:
        session.execute(
            update(Contact)
            .where(Contact.id == contact_id, Contact.status == expected)
            .values(status=ContactStatus.PENDING, next_attempt_at=wait.until)
        )
    return f"waiting for the {wait.reason} budget"


def _send(dialer: Dialer, ticket: Ticket) -> str:
    """Send the request and record what came of it; transient errors propagate for a retry."""
    try:
        started = dialer.client.start_call(ticket.method, ticket.params)
    except AmbiguousError as exc:
        return _resolve_ambiguous(dialer, ticket, exc)
    except CallApiError as exc:
        _record_error(dialer, ticket, exc)
        if exc.handling is Handling.TRANSIENT:
            raise
        return _error_status(exc)
    _record(dialer, ticket, AttemptOutcome.PLACED, started.limits, started.call_session_id)
    return ContactStatus.PLACED.value


def _record(
    dialer: Dialer,
    ticket: Ticket,
    outcome: AttemptOutcome,
    limits: Limits | None,
    call_session_id: int | None = None,
    error: CallApiError | None = None,
) -> bool:
    """Close the attempt (if still open) and move its contact; False if someone else closed it."""
    now = dialer.now()
    with transaction(dialer.engine) as session:
        closed = session.execute(
            update(Attempt)
            .where(Attempt.id == ticket.attempt_id, Attempt.outcome == AttemptOutcome.REQUESTING)
            .values(
                outcome=outcome,
                answered_at=now,
                call_session_id=call_session_id,
                limits=limits.as_dict() if limits else None,
                report_status=_report_status(dialer.settings, outcome),
                **_error_columns(error),
            )
        )
        if getattr(closed, "rowcount", 0) != 1:
            return False
        contact = session.get_one(Contact, ticket.contact_id, with_for_update=True)
        campaign = session.get_one(Campaign, ticket.campaign_id)
        _move_contact(session, campaign, contact, outcome, error, now)
    # The provider charges successes only, so failures give their points back; a request that
    # may have succeeded keeps them, and after limit_exceeded the provider's count stands.
    charged = outcome in (
        AttemptOutcome.PLACED,
        AttemptOutcome.UNKNOWN,
        AttemptOutcome.RATE_LIMITED,
    )
    refund_of = None if charged else (ticket.cost, ticket.reservation)
    pacing.settle(dialer.engine, dialer.settings, now, limits, refund_of)
    return True


def _report_status(settings: Settings, outcome: AttemptOutcome) -> ReportStatus | None:
    """A call that was (or may have been) made has its end awaited in the provider's reports."""
    awaited = outcome in (AttemptOutcome.PLACED, AttemptOutcome.UNKNOWN)
    return ReportStatus.AWAITED if awaited and settings.outcomes_enabled else None


def _error_columns(error: CallApiError | None) -> dict[str, Any]:
    if error is None:
        return {}
    if isinstance(error, ApiError):
        return {
            "error_code": error.code,
            "error_mnemonic": error.mnemonic,
            "error_message": error.message,
        }
    return {"error_mnemonic": _local_mnemonic(error), "error_message": str(error)}


def _local_mnemonic(error: CallApiError) -> str:
    """A mnemonic for an error the provider did not name (network, bad reply, our checks)."""
    if isinstance(error, InvalidParams):
        return error.mnemonic
    name = type(error).__name__.removesuffix("Error")
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def _move_contact(
    session: Session,
    campaign: Campaign,
    contact: Contact,
    outcome: AttemptOutcome,
    error: CallApiError | None,
    now: dt.datetime,
) -> None:
    """Set the contact's status (and the campaign's, for a fatal error) after an attempt."""
    if error is not None:
        columns = _error_columns(error)
        contact.error_mnemonic = columns.get("error_mnemonic")
        contact.error_message = columns.get("error_message")
    if outcome == AttemptOutcome.PLACED:
        contact.status = ContactStatus.PLACED
        contact.tries += 1
        contact.error_mnemonic = contact.error_message = None
    elif outcome == AttemptOutcome.UNKNOWN:
        contact.status = ContactStatus.UNKNOWN
        contact.tries += 1
    elif outcome == AttemptOutcome.BLACKLISTED:
        contact.status = ContactStatus.BLACKLISTED
        blacklist.add_numbers(
            session, [contact.phone], BlacklistSource.PROVIDER, "contact_in_blacklist"
        )
    elif outcome == AttemptOutcome.CONTACT_ERROR:
        contact.status = ContactStatus.FAILED
        contact.tries += 1
    elif outcome == AttemptOutcome.RATE_LIMITED:
        # limit_exceeded costs the contact nothing: it waits for the reset and goes again.
        assert isinstance(error, RateLimitError)
        contact.status = ContactStatus.PENDING
        contact.attempts -= 1
        contact.next_attempt_at = now + dt.timedelta(seconds=error.retry_after or 1.0)
    elif outcome == AttemptOutcome.CAMPAIGN_ERROR:
        # Nothing is lost: the contact waits, untouched, for `resume`.
        contact.status = ContactStatus.PENDING
        contact.attempts -= 1
        _pause(campaign, error, now)
    # TRANSIENT leaves the contact `dialing`: the retry policy decides what comes next.


def _pause(campaign: Campaign, error: CallApiError | None, now: dt.datetime) -> None:
    """Pause a running campaign with the reason, once."""
    if campaign.state != CampaignState.RUNNING:
        return
    campaign.state = CampaignState.PAUSED
    campaign.pause_reason = f"{_reason(error)} (paused by the dialer at {now:%Y-%m-%d %H:%M} UTC)"
    log.error("campaign %s paused: %s", campaign.name, campaign.pause_reason)


def _reason(error: CallApiError | None) -> str:
    if isinstance(error, ApiError):
        field_note = f", field {error.field}" if error.field else ""
        return f"{error.mnemonic or error.code}: {error.message}{field_note}"
    return str(error)


def _outcome_for(error: CallApiError) -> AttemptOutcome:
    """The attempt outcome that an error of this class stands for."""
    if isinstance(error, BlacklistedError):
        return AttemptOutcome.BLACKLISTED
    if isinstance(error, ContactError):
        return AttemptOutcome.CONTACT_ERROR
    return {
        Handling.TRANSIENT: AttemptOutcome.TRANSIENT,
        Handling.RATE: AttemptOutcome.RATE_LIMITED,
        Handling.AMBIGUOUS: AttemptOutcome.UNKNOWN,
    }.get(error.handling, AttemptOutcome.CAMPAIGN_ERROR)


def _record_error(dialer: Dialer, ticket: Ticket, error: CallApiError) -> None:
    limits = error.limits if isinstance(error, ApiError) else None
    _record(dialer, ticket, _outcome_for(error), limits, error=error)


def _error_status(error: CallApiError) -> str:
    outcome = _outcome_for(error)
    return {
        AttemptOutcome.BLACKLISTED: ContactStatus.BLACKLISTED.value,
        AttemptOutcome.CONTACT_ERROR: ContactStatus.FAILED.value,
        AttemptOutcome.RATE_LIMITED: "rate limited",
    }.get(outcome, "campaign paused")


def _end_round(dialer: Dialer, contact_id: int, error: CallApiError) -> str:
    """Transient errors outlasted the retry policy: reschedule the contact, or fail it."""
    now = dialer.now()
    with transaction(dialer.engine) as session:
        contact = session.get_one(Contact, contact_id, with_for_update=True)
        if contact.status != ContactStatus.DIALING:
            return contact.status.value
        campaign = session.get_one(Campaign, contact.campaign_id)
        retry = CampaignOptions.from_json(campaign.options).retry
        contact.tries += 1
        if contact.tries >= retry.attempts:
            contact.status = ContactStatus.FAILED
        else:
            contact.status = ContactStatus.PENDING
            contact.next_attempt_at = now + dt.timedelta(seconds=retry.delay_after(contact.tries))
        return contact.status.value


def _resolve_ambiguous(dialer: Dialer, ticket: Ticket, error: AmbiguousError) -> str:
    """The request may have reached the provider: confirm the call by its external_id."""
    call_session_id = find_call(dialer, ticket.params["external_id"], ticket.params)
    if call_session_id is not None:
        _record(dialer, ticket, AttemptOutcome.PLACED, None, call_session_id, error=None)
        return ContactStatus.PLACED.value
    _record(dialer, ticket, AttemptOutcome.UNKNOWN, None, error=error)
    return ContactStatus.UNKNOWN.value


def find_call(dialer: Dialer, external_id: str, params: dict[str, Any]) -> int | None:
    """Look an active call up by external_id; None if absent or the look-up keeps failing."""
    filters = {"virtual_phone_number": params["virtual_phone_number"]}
    if "direction" in params:
        filters["direction"] = params["direction"]
    try:
        calls = _list_calls(dialer, filters)
    except CallApiError as exc:
        log.warning("could not look up call %s: %s", external_id, exc)
        return None
    return next((c.call_session_id for c in calls if c.external_id == external_id), None)


def _list_calls(dialer: Dialer, filters: dict[str, str]) -> list[ActiveCall]:
    """The active calls, paid for from the shared budget like any request.

    A `limit_exceeded` is waited out a few times, since giving up would leave a call that may
    well exist `unknown` for good.
    """
    cost = dialer.settings.cost(LIST_CALLS)
    for waits in range(LOOKUP_RATE_WAITS + 1):
        reservation = _take_soon(dialer, cost)
        try:
            for retrying in transient_retrying(dialer.settings):
                with retrying:
                    reply = dialer.client.list_calls(**filters)
        except RateLimitError as exc:
            pacing.settle(dialer.engine, dialer.settings, dialer.now(), exc.limits)
            if waits == LOOKUP_RATE_WAITS:
                raise
            dialer.sleep(exc.retry_after or 1.0)
            continue
        except CallApiError as exc:
            limits = exc.limits if isinstance(exc, ApiError) else None
            refund_of = (cost, reservation)
            pacing.settle(dialer.engine, dialer.settings, dialer.now(), limits, refund_of)
            raise
        pacing.settle(dialer.engine, dialer.settings, dialer.now(), reply.limits)
        return reply.calls
    raise AssertionError("unreachable")


def _take_soon(dialer: Dialer, cost: int) -> pacing.Reservation:
    """Points for a look-up, waiting for them only as long as the call can still be listed."""
    while True:
        reservation = pacing.take(dialer.engine, dialer.settings, cost, dialer.now())
        if reservation.granted:
            return reservation
        assert reservation.wait_until is not None
        seconds = (reservation.wait_until - dialer.now()).total_seconds()
        if seconds > LOOKUP_MAX_WAIT:
            raise NotSentError(f"no points for a look-up for {seconds:.0f} s")
        dialer.sleep(max(seconds, 0.01))


def resolve_attempt(dialer: Dialer, attempt_id: int) -> str:
    """Settle an attempt left mid-request by a worker that died (the reconciler's request)."""
    with transaction(dialer.engine) as session:
        attempt = session.get(Attempt, attempt_id)
        if attempt is None or attempt.outcome != AttemptOutcome.REQUESTING:
            return "already settled"
        contact = session.get_one(Contact, attempt.contact_id)
        campaign = session.get_one(Campaign, attempt.campaign_id)
        params = dict(attempt.params)
    ticket = Ticket(
        attempt_id,
        contact.id,
        campaign.id,
        attempt.method,
        params,
        pacing.Reservation(True, attempt.requested_at),
        dialer.settings.cost(attempt.method),
    )
    return _resolve_ambiguous(
        dialer, ticket, AmbiguousError("the worker stopped before the answer was recorded")
    )


def _fail_contact(contact: Contact, mnemonic: str, message: str) -> None:
    contact.status = ContactStatus.FAILED
    contact.error_mnemonic = mnemonic
    contact.error_message = message
