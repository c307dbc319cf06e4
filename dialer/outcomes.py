"""Recording a call's end: the attempt's outcome columns and what its contact does next.

Each function is one named database operation, written once whatever the number of collectors:
the attempt is updated only while its report is still awaited, and its contact is moved in the
same transaction. What each disposition leads to is its row of `dialer.policy.POLICY`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from dialer.attempts import move_contact, pause
from dialer.db import transaction
from dialer.dispositions import Disposition
from dialer.models import (
    Attempt,
    AttemptOutcome,
    Campaign,
    Contact,
    ContactStatus,
    ReportStatus,
)
from dialer.policy import Pause, rule_for


@dataclass(frozen=True)
class CallEnd:
    """How one call ended, as the provider's reports tell it."""

    call_session_id: int
    finish_reason: str | None
    disposition: Disposition
    picked_up: bool | None
    listened_seconds: int | None
    talk_seconds: int | None
    total_seconds: int | None
    finished_at: dt.datetime | None


def record_ends(engine: Engine, ends: Mapping[int, CallEnd], now: dt.datetime) -> list[int]:
    """Store calls' ends on their attempts (by attempt id) and move their contacts, in one
    transaction; returns the attempts recorded now (those not recorded before)."""
    with transaction(engine) as session:
        # Locked, then checked: an attempt another collector recorded first is not selected.
        attempts = session.scalars(
            select(Attempt)
            .where(Attempt.id.in_(list(ends)), Attempt.report_status == ReportStatus.AWAITED)
            .order_by(Attempt.id)
            .with_for_update()
        ).all()
        contacts = _by_id(session, Contact, {a.contact_id for a in attempts}, lock=True)
        campaigns = _by_id(session, Campaign, {a.campaign_id for a in attempts}, lock=False)
        for attempt in attempts:
            end = ends[attempt.id]
            _store(attempt, end)
            contact = contacts[attempt.contact_id]
            _after_call(session, campaigns[attempt.campaign_id], contact, end, now)
        return [a.id for a in attempts]


def _store(attempt: Attempt, end: CallEnd) -> None:
    attempt.report_status = ReportStatus.FOUND
    # An `unknown` attempt found in the report was placed after all.
    attempt.outcome = AttemptOutcome.PLACED
    attempt.call_session_id = end.call_session_id
    attempt.finish_reason = end.finish_reason
    attempt.disposition = end.disposition
    attempt.call_answered = end.picked_up
    attempt.listened_seconds = end.listened_seconds
    attempt.talk_duration = end.talk_seconds
    attempt.total_duration = end.total_seconds
    attempt.call_finished_at = end.finished_at


_Row = TypeVar("_Row", Contact, Campaign)


def _by_id(session: Session, model: type[_Row], ids: set[int], *, lock: bool) -> dict[int, _Row]:
    query = select(model).where(model.id.in_(sorted(ids))).order_by(model.id)
    if lock:
        query = query.with_for_update()
    return {row.id: row for row in session.scalars(query)}


def record_absence(engine: Engine, attempt_id: int, now: dt.datetime) -> bool:
    """An `unknown` attempt made no call: its contact goes on to its next round, if one is left."""
    with transaction(engine) as session:
        stored = session.execute(
            update(Attempt)
            .where(Attempt.id == attempt_id, Attempt.report_status == ReportStatus.AWAITED)
            .values(report_status=ReportStatus.ABSENT)
        )
        if getattr(stored, "rowcount", 0) != 1:
            return False
        attempt = session.get_one(Attempt, attempt_id)
        contact = session.get_one(Contact, attempt.contact_id, with_for_update=True)
        if contact.status != ContactStatus.UNKNOWN:
            return True
        campaign = session.get_one(Campaign, attempt.campaign_id)
        # The provider made no call for a request it may have received: its trouble, not the
        # contact's; the round that request used stays used.
        move_contact(session, campaign, contact, Disposition.PROVIDER_ERROR, now)
        contact.error_mnemonic = "no_call"
        contact.error_message = "the provider's report shows no call for the lost request"
    return True


def _after_call(
    session: Session, campaign: Campaign, contact: Contact, end: CallEnd, now: dt.datetime
) -> None:
    """Move the contact as the policy's row for the call's disposition says."""
    if contact.status not in (ContactStatus.PLACED, ContactStatus.UNKNOWN):
        return  # moved on by hand (requeued, cancelled) since: the report only adds its facts
    move_contact(session, campaign, contact, end.disposition, now)
    if rule_for(end.disposition).pause is Pause.AT_ONCE:
        pause(campaign, f"a call ended with {end.finish_reason}", now)
    if contact.status not in (ContactStatus.ANSWERED, ContactStatus.PENDING):
        contact.error_mnemonic = end.finish_reason
        contact.error_message = f"the call ended: {end.disposition.value}"
