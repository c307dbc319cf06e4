"""The named database operations of a turn: each state change of an attempt and its contact is
one short transaction, applying its row of the policy table (`dialer.policy`).

    open_attempt    commit the attempt row (with its external_id) and mark the contact `dialing`
    claim_attempt   the same as one statement that holds only while the contact is as it was read
                    (PostgreSQL; a placed call's answer is recorded as one statement too)
    close_attempt   record what the request came to; move the contact, pause the campaign, and
                    give back the points, as the row says
    end_round       the turn's tries of a request ran out: the row's move, applied now
    hand_back       no points for a while: the contact goes back to the dispatcher
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import JSON, Connection, Engine, bindparam, insert, literal, select, update
from sqlalchemy.orm import Session

from dialer import blacklist, pacing, policy
from dialer.callapi.errors import ApiError, CallApiError, InvalidParams
from dialer.callapi.limits import Limits
from dialer.campaigns import learn_tts_limit
from dialer.config import Settings
from dialer.db import Base, UTCDateTime, autocommit, transaction, utcnow
from dialer.dispositions import Disposition
from dialer.lease import Lease
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
from dialer.policy import Move, Pause, Rule, Verdict
from dialer.retry import named_delay
from dialer.secrets import redact
from dialer.turn import Plan, Ticket, Turn

log = logging.getLogger("dialer.attempts")


def open_attempt(
    engine: Engine, contact_id: int, expected: ContactStatus, plan: Plan, now: dt.datetime
) -> int | None:
    """Commit the attempt row and mark the contact `dialing`; None if it is no longer ours."""
    with transaction(engine) as session:
        contact = session.get(Contact, contact_id, with_for_update=True)
        if contact is None or contact.status != expected:
            return None
        return add_attempt(session, contact, plan, now)


def add_attempt(session: Session, contact: Contact, plan: Plan, now: dt.datetime) -> int:
    """Add the attempt row of `plan` and mark the (locked) contact `dialing`; the attempt's id.

    Two plain statements rather than the unit of work: this runs once per request.
    """
    attempt_id = session.execute(
        insert(Attempt)
        .values(
            external_id=plan.params["external_id"],
            contact_id=contact.id,
            campaign_id=plan.campaign_id,
            method=plan.method,
            params=redact(plan.params),
            requested_at=now,
        )
        .returning(Attempt.id)
    ).scalar_one()
    session.execute(
        update(Contact)
        .where(Contact.id == contact.id)
        .values(status=ContactStatus.DIALING, requests=Contact.requests + 1, last_attempt_at=now),
        execution_options={"synchronize_session": False},
    )
    return attempt_id


# The one-statement paths (PostgreSQL) as prepared Core statements, built once: building a
# statement, and the ORM's handling of an entity's UPDATE, cost more CPU than sending it.
_CONTACTS = Base.metadata.tables[Contact.__tablename__]
_ATTEMPTS = Base.metadata.tables[Attempt.__tablename__]
_contacts = _CONTACTS.c
_attempts = _ATTEMPTS.c
_JSON_OR_NULL = JSON(none_as_null=True)

_CLAIMED = (
    update(_CONTACTS)
    .where(
        _contacts.id == bindparam("p_contact_id"),
        _contacts.status == bindparam("p_expected", type_=_contacts.status.type),
        _contacts.requests == bindparam("p_seen_requests"),
    )
    .values(
        status=ContactStatus.DIALING,
        requests=_contacts.requests + 1,
        last_attempt_at=bindparam("p_now", type_=UTCDateTime),
        updated_at=bindparam("p_updated_at", type_=UTCDateTime),
    )
    .returning(_contacts.id)
    .cte("claimed")
)
_CLAIM = (
    insert(_ATTEMPTS)
    .from_select(
        ["external_id", "contact_id", "campaign_id", "method", "params", "requested_at", "outcome"],
        select(
            bindparam("p_external_id", type_=_attempts.external_id.type),
            _CLAIMED.c.id,
            bindparam("p_campaign_id", type_=_attempts.campaign_id.type),
            bindparam("p_method", type_=_attempts.method.type),
            bindparam("p_params", type_=_attempts.params.type),
            bindparam("p_now", type_=UTCDateTime),
            literal(AttemptOutcome.REQUESTING, _attempts.outcome.type),
        ),
    )
    .returning(_attempts.id)
)


def claim_attempt(
    conn: Connection,
    contact: Contact,
    expected: ContactStatus,
    plan: Plan,
    now: dt.datetime,
) -> int | None:
    """Mark the contact `dialing` and insert the attempt row of `plan`, as one statement that
    holds only while the contact is still as it was read (`expected`, the same request count,
    from which `plan`'s external_id was made); the attempt's id, None if it has moved on.

    PostgreSQL only (a data-modifying CTE). Being one statement, it needs no transaction of its
    own: the contact's row lock is taken and released by it, and a rival's wake-up blocked on
    that lock finds the contact moved on when it gets the row.
    """
    row = conn.execute(
        _CLAIM,
        {
            "p_contact_id": contact.id,
            "p_expected": expected,
            "p_seen_requests": contact.requests,
            "p_now": now,
            "p_updated_at": utcnow(),
            "p_external_id": plan.params["external_id"],
            "p_campaign_id": plan.campaign_id,
            "p_method": plan.method,
            "p_params": redact(plan.params),
        },
    ).first()
    return None if row is None else int(row[0])


def close_attempt(
    engine: Engine,
    settings: Settings,
    ticket: Ticket,
    verdict: AttemptOutcome,
    now: dt.datetime,
    *,
    limits: Limits | None = None,
    call_session_id: int | None = None,
    error: CallApiError | None = None,
    lease: Lease | None = None,
) -> None:
    """Record what the attempt came to (if it is still open) and apply the policy's row; the
    points are settled through the process's `lease` when given, else on the row itself."""
    rule = policy.rule_for(verdict)
    if verdict == AttemptOutcome.PLACED and error is None and engine.dialect.name == "postgresql":
        if not _close_placed(engine, settings, ticket, now, limits, call_session_id):
            return  # someone else recorded it first, and settled its points
    elif not _close_by_rule(
        engine, settings, ticket, verdict, rule, now, limits, call_session_id, error
    ):
        return
    refund_of = (ticket.cost, ticket.reservation) if rule.refund else None
    if lease is not None:
        lease.settle(engine, now, limits, refund_of)
    else:
        pacing.settle(engine, settings, now, limits, refund_of)


_ANSWERED = (
    update(_ATTEMPTS)
    .where(
        _attempts.id == bindparam("p_attempt_id"),
        _attempts.outcome == literal(AttemptOutcome.REQUESTING, _attempts.outcome.type),
    )
    .values(
        outcome=AttemptOutcome.PLACED,
        answered_at=bindparam("p_now", type_=UTCDateTime),
        call_session_id=bindparam("p_call_session_id", type_=_attempts.call_session_id.type),
        # None is SQL NULL here, as it is when the ORM writes it.
        limits=bindparam("p_limits", type_=_JSON_OR_NULL),
        report_status=bindparam("p_report_status", type_=_attempts.report_status.type),
    )
    .returning(_attempts.contact_id)
    .cte("answered")
)
# The policy's row for a placed call, written without reading the contact (a test checks the
# row still says only this).
_PLACED_RULE = policy.rule_for(AttemptOutcome.PLACED)
_PLACED = (
    update(_CONTACTS)
    .where(_contacts.id == _ANSWERED.c.contact_id)
    .values(
        status=ContactStatus.PLACED,
        rounds=_contacts.rounds + int(_PLACED_RULE.counts_round),
        error_mnemonic=None,
        error_message=None,
        # Given here: SQLAlchemy leaves a column's `onupdate` out of an UPDATE ... FROM.
        updated_at=bindparam("p_updated_at", type_=UTCDateTime),
    )
    .returning(_contacts.id)
)


def _close_placed(
    engine: Engine,
    settings: Settings,
    ticket: Ticket,
    now: dt.datetime,
    limits: Limits | None,
    call_session_id: int | None,
) -> bool:
    """The common answer, a call placed, recorded as one statement (PostgreSQL): the attempt
    closed if it is still open and its contact moved as the row says (`placed`, a round used,
    no error); whether the attempt was still open. A contact row has nothing else to weigh
    here, so it needs neither a read nor a transaction of its own."""
    with autocommit(engine).connect() as conn:
        moved = conn.execute(
            _PLACED,
            {
                "p_attempt_id": ticket.attempt_id,
                "p_now": now,
                "p_call_session_id": call_session_id,
                "p_limits": limits.as_dict() if limits else None,
                "p_report_status": _report_status(settings, AttemptOutcome.PLACED),
                "p_updated_at": utcnow(),
            },
        ).first()
    return moved is not None


def _close_by_rule(
    engine: Engine,
    settings: Settings,
    ticket: Ticket,
    verdict: AttemptOutcome,
    rule: Rule,
    now: dt.datetime,
    limits: Limits | None,
    call_session_id: int | None,
    error: CallApiError | None,
) -> bool:
    """Record the answer and apply its row in one transaction; whether the attempt was still
    open."""
    with transaction(engine) as session:
        closed = session.execute(
            update(Attempt)
            .where(Attempt.id == ticket.attempt_id, Attempt.outcome == AttemptOutcome.REQUESTING)
            .values(
                outcome=verdict,
                answered_at=now,
                call_session_id=call_session_id,
                limits=limits.as_dict() if limits else None,
                report_status=_report_status(settings, verdict),
                **_error_columns(error),
            ),
            execution_options={"synchronize_session": False},
        )
        if getattr(closed, "rowcount", 0) != 1:
            return False  # someone else recorded it first, and settled its points
        contact, campaign = session.execute(
            select(Contact, Campaign)
            .join(Campaign, Campaign.id == Contact.campaign_id)
            .where(Contact.id == ticket.contact_id)
            .with_for_update(of=Contact)
        ).one()
        _note_error(contact, error)
        if not rule.counts_request:
            contact.requests -= 1
        if not rule.again_now:
            move_contact(session, campaign, contact, verdict, now, error)
        learn_tts_limit(session, campaign, error)
        _maybe_pause(session, campaign, rule, error, now)
    return True


def _report_status(settings: Settings, outcome: AttemptOutcome) -> ReportStatus | None:
    """A call that was (or may have been) made has its end awaited in the provider's reports."""
    awaited = outcome in (AttemptOutcome.PLACED, AttemptOutcome.UNKNOWN)
    return ReportStatus.AWAITED if awaited and settings.outcomes_enabled else None


def end_round(engine: Engine, contact_id: int, error: CallApiError, now: dt.datetime) -> Turn:
    """The turn's tries of a request ran out on `error`: move the contact as its row says."""
    with transaction(engine) as session:
        contact = session.get_one(Contact, contact_id, with_for_update=True)
        if contact.status != ContactStatus.DIALING:
            return Turn.SKIPPED
        campaign = session.get_one(Campaign, contact.campaign_id)
        moved_to = move_contact(session, campaign, contact, policy.outcome_of(error), now, error)
        return Turn.FAILED if moved_to == ContactStatus.FAILED else Turn.RESCHEDULED


def hand_back(engine: Engine, contact_id: int, expected: ContactStatus, until: dt.datetime) -> None:
    """Give the contact back to the dispatcher until `until` (the budget's reset)."""
    with transaction(engine) as session:
        session.execute(
            update(Contact)
            .where(Contact.id == contact_id, Contact.status == expected)
            .values(status=ContactStatus.PENDING, next_attempt_at=until)
        )


def move_contact(
    session: Session,
    campaign: Campaign,
    contact: Contact,
    verdict: Verdict,
    now: dt.datetime,
    error: CallApiError | None = None,
) -> ContactStatus:
    """Set the contact's status as the verdict's row says; returns it."""
    rule = policy.rule_for(verdict)
    retry = CampaignOptions.from_json(campaign.options).retry
    if rule.counts_round:
        contact.rounds += 1
    if rule.returns_round:
        contact.rounds = max(contact.rounds - 1, 0)
    match rule.contact:
        case Move.PLACED:
            contact.status = ContactStatus.PLACED
            contact.error_mnemonic = contact.error_message = None
        case Move.UNKNOWN:
            contact.status = ContactStatus.UNKNOWN
        case Move.FAILED:
            contact.status = ContactStatus.FAILED
        case Move.BLACKLISTED:
            contact.status = ContactStatus.BLACKLISTED
            blacklist.add_numbers(
                session, [contact.phone], BlacklistSource.PROVIDER, "contact_in_blacklist"
            )
        case Move.REDIAL:
            delay = retry.schedule_in(contact.rounds)
            if delay is None:
                contact.status = ContactStatus.FAILED
            else:
                contact.status = ContactStatus.PENDING
                contact.next_attempt_at = now + dt.timedelta(seconds=delay)
        case Move.AFTER_RESET:
            contact.status = ContactStatus.PENDING
            wait = named_delay(error) or 0.0
            contact.next_attempt_at = now + dt.timedelta(seconds=wait)
        case Move.HOLD:
            contact.status = ContactStatus.PENDING
        case Move.ANSWERED:
            contact.status = ContactStatus.ANSWERED
            contact.error_mnemonic = contact.error_message = None
        case Move.REDIAL_ON_RESULT:
            assert isinstance(verdict, Disposition)
            delay = retry.redial_in(verdict, contact.rounds)
            if delay is None:
                contact.status = ContactStatus.NOT_ANSWERED
            else:
                contact.status = ContactStatus.PENDING
                contact.next_attempt_at = now + dt.timedelta(seconds=delay)
    return contact.status


def _maybe_pause(
    session: Session, campaign: Campaign, rule: Rule, error: CallApiError | None, now: dt.datetime
) -> None:
    """Pause the campaign when the rule says so."""
    match rule.pause:
        case Pause.AT_ONCE:
            pause(campaign, reason(error), now)
        case Pause.AFTER_STREAK if _unreachable_streak(session, campaign.id):
            streak = policy.UNREACHABLE_STREAK
            pause(
                campaign, f"the Call API cannot be reached ({streak} tries in a row): {error}", now
            )


def _unreachable_streak(session: Session, campaign_id: int) -> bool:
    """Whether the campaign's latest answered requests all failed to reach the provider."""
    latest = list(
        session.scalars(
            select(Attempt.outcome)
            .where(
                Attempt.campaign_id == campaign_id,
                Attempt.outcome != AttemptOutcome.REQUESTING,
            )
            .order_by(Attempt.id.desc())
            .limit(policy.UNREACHABLE_STREAK)
        )
    )
    return len(latest) == policy.UNREACHABLE_STREAK and all(
        outcome == AttemptOutcome.UNREACHABLE for outcome in latest
    )


def pause(campaign: Campaign, why: str, now: dt.datetime) -> None:
    """Pause a running campaign with the reason, once."""
    if campaign.state != CampaignState.RUNNING:
        return
    campaign.state = CampaignState.PAUSED
    campaign.pause_reason = f"{why} (paused by the dialer at {now:%Y-%m-%d %H:%M} UTC)"
    log.error("campaign %s paused: %s", campaign.name, campaign.pause_reason)


def reason(error: CallApiError | None) -> str:
    """The error as a pause reason: the provider's mnemonic first."""
    if isinstance(error, ApiError):
        field_note = f", field {error.field}" if error.field else ""
        return f"{error.mnemonic or error.code}: {error.message}{field_note}"
    return str(error)


def _note_error(contact: Contact, error: CallApiError | None) -> None:
    if error is not None:
        columns = _error_columns(error)
        contact.error_mnemonic = columns.get("error_mnemonic")
        contact.error_message = columns.get("error_message")


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
