"""Recording a call's end: the attempt's outcome columns and what its contact does next.

Each function is one named database operation, written once whatever the number of collectors:
the attempt is updated only while its report is still awaited, and its contact is moved in the
same transaction. What each disposition leads to is the table `AFTER_CALL`.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from dialer.db import transaction
from dialer.dispositions import Disposition
from dialer.models import (
    Attempt,
    AttemptOutcome,
    Campaign,
    CampaignState,
    Contact,
    ContactStatus,
    ReportStatus,
)
from dialer.options import CampaignOptions, Retry

log = logging.getLogger("dialer.outcomes")


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


class Next(enum.Enum):
    """What a disposition does to its contact."""

    DONE = "done"  # final: answered
    REDIAL_BUSY = "redial_busy"  # again after [retry] busy, if set and rounds are left
    REDIAL_NO_ANSWER = "redial_no_answer"  # again after [retry] no_answer, likewise
    REDIAL_AFTER_DELAYS = "redial_after_delays"  # again after [retry] delays, as a transient error
    FAIL = "fail"  # final: the number cannot be reached
    PAUSE_CAMPAIGN = "pause_campaign"  # the account or campaign is at fault: nothing is lost
    KEEP = "keep"  # final as placed: the call was made, its result is not one we know


AFTER_CALL: dict[Disposition, tuple[Next, ContactStatus]] = {
    # disposition:              (what happens,            final status when nothing else does)
    Disposition.ANSWERED: (Next.DONE, ContactStatus.ANSWERED),
    Disposition.BUSY: (Next.REDIAL_BUSY, ContactStatus.NOT_ANSWERED),
    Disposition.NO_ANSWER: (Next.REDIAL_NO_ANSWER, ContactStatus.NOT_ANSWERED),
    Disposition.BAD_NUMBER: (Next.FAIL, ContactStatus.FAILED),
    Disposition.BLOCKED: (Next.FAIL, ContactStatus.FAILED),
    Disposition.CAMPAIGN_ERROR: (Next.PAUSE_CAMPAIGN, ContactStatus.PENDING),
    Disposition.PROVIDER_ERROR: (Next.REDIAL_AFTER_DELAYS, ContactStatus.FAILED),
    Disposition.OTHER: (Next.KEEP, ContactStatus.PLACED),
}
"""Disposition → (what happens to the contact, its status when no redial follows)."""


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
            _after_call(campaigns[attempt.campaign_id], contacts[attempt.contact_id], end, now)
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
    """An `unknown` attempt made no call: its contact goes on to its next round."""
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
        retry = CampaignOptions.from_json(campaign.options).retry
        contact.error_mnemonic = "no_call"
        contact.error_message = "the provider's report shows no call for the lost request"
        _redial_or_end(contact, retry, retry.delay_after(contact.tries), ContactStatus.FAILED, now)
    return True


def _after_call(campaign: Campaign, contact: Contact, end: CallEnd, now: dt.datetime) -> None:
    """Move the contact as `AFTER_CALL` says for the call's disposition."""
    if contact.status not in (ContactStatus.PLACED, ContactStatus.UNKNOWN):
        return  # moved on by hand (requeued, cancelled) since: the report only adds its facts
    next_step, final = AFTER_CALL[end.disposition]
    retry = CampaignOptions.from_json(campaign.options).retry
    ended = end.finished_at or now
    match next_step:
        case Next.REDIAL_BUSY:
            _redial_or_end(contact, retry, retry.busy, final, ended)
        case Next.REDIAL_NO_ANSWER:
            _redial_or_end(contact, retry, retry.no_answer, final, ended)
        case Next.REDIAL_AFTER_DELAYS:
            _redial_or_end(contact, retry, retry.delay_after(contact.tries), final, ended)
        case Next.PAUSE_CAMPAIGN:
            # The round is not the contact's fault: it is given back, and the contact waits.
            contact.tries = max(contact.tries - 1, 0)
            contact.status = final
            contact.next_attempt_at = now
            _pause(campaign, end, now)
        case Next.DONE | Next.FAIL | Next.KEEP:
            contact.status = final
    if end.disposition is not Disposition.ANSWERED and contact.status != ContactStatus.PENDING:
        contact.error_mnemonic = end.finish_reason
        contact.error_message = f"the call ended: {end.disposition.value}"


def _redial_or_end(
    contact: Contact,
    retry: Retry,
    delay: float | None,
    final: ContactStatus,
    after: dt.datetime,
) -> None:
    """Back to `pending` after `delay` if redialing is on and rounds are left; else `final`."""
    if delay is None or contact.tries >= retry.attempts:
        contact.status = final
        return
    contact.status = ContactStatus.PENDING
    contact.next_attempt_at = after + dt.timedelta(seconds=delay)


def _pause(campaign: Campaign, end: CallEnd, now: dt.datetime) -> None:
    if campaign.state != CampaignState.RUNNING:
        return
    campaign.state = CampaignState.PAUSED
    campaign.pause_reason = (
        f"a call ended with {end.finish_reason} (paused by the dialer at {now:%Y-%m-%d %H:%M} UTC)"
    )
    log.error("campaign %s paused: %s", campaign.name, campaign.pause_reason)
