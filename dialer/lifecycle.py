"""Campaign control: start, pause, resume, cancel, and requeue contacts an operator vouches for."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dialer.campaigns import CampaignError, find_campaign
from dialer.db import utcnow
from dialer.models import Campaign, CampaignState, Contact, ContactStatus

# Statuses an operator may send back to `pending` with `requeue`.
REQUEUEABLE = frozenset({ContactStatus.UNKNOWN, ContactStatus.FAILED, ContactStatus.CANCELLED})


def start(session: Session, name: str, now: dt.datetime | None = None) -> Campaign:
    """Let the dispatcher work the campaign (from draft, paused, or completed with new contacts)."""
    campaign = find_campaign(session, name)
    if campaign.state == CampaignState.CANCELLED:
        raise CampaignError(f"campaign {campaign.name!r} was cancelled and cannot be started")
    if campaign.state != CampaignState.RUNNING:
        _refuse_if_empty(session, campaign)
        campaign.state = CampaignState.RUNNING
        campaign.pause_reason = None
        campaign.finished_at = None
        campaign.started_at = campaign.started_at or now or utcnow()
    return campaign


def _refuse_if_empty(session: Session, campaign: Campaign) -> None:
    # An empty campaign would "complete" at once, and stay completed when contacts came later.
    has_contacts = session.scalar(
        select(Contact.id).where(Contact.campaign_id == campaign.id).limit(1)
    )
    if has_contacts is None:
        raise CampaignError(
            f"campaign {campaign.name!r} has no contacts; import them first: "
            f"`dialer contacts import {campaign.name} contacts.csv`"
        )


def reopen_for_new_contacts(campaign: Campaign) -> bool:
    """A completed campaign that got new contacts becomes paused, so that it never shows
    `completed` with contacts still to dial; `resume` (or `dialer run`) dials them."""
    if campaign.state != CampaignState.COMPLETED:
        return False
    campaign.state = CampaignState.PAUSED
    campaign.pause_reason = "new contacts imported; resume to dial them"
    campaign.finished_at = None
    return True


def pause(session: Session, name: str) -> Campaign:
    """Stop new requests at once; requests already in flight finish."""
    campaign = find_campaign(session, name)
    if campaign.state != CampaignState.RUNNING:
        raise CampaignError(f"campaign {campaign.name!r} is {campaign.state.value}, not running")
    # Contacts before the campaign row, the order workers lock them in (no deadlock).
    # Wake-ups already on the broker find their contact `pending` and do nothing.
    _move(session, campaign, [ContactStatus.QUEUED], ContactStatus.PENDING)
    campaign.state = CampaignState.PAUSED
    campaign.pause_reason = "paused by an operator"
    campaign.waiting_reason = campaign.waiting_until = None
    return campaign


def resume(session: Session, name: str) -> Campaign:
    """Continue a paused campaign where it stopped."""
    campaign = find_campaign(session, name)
    if campaign.state != CampaignState.PAUSED:
        raise CampaignError(f"campaign {campaign.name!r} is {campaign.state.value}, not paused")
    return start(session, name)


def cancel(session: Session, name: str, now: dt.datetime | None = None) -> Campaign:
    """End the campaign: whatever was never dialed becomes `cancelled`."""
    campaign = find_campaign(session, name)
    if campaign.state in (CampaignState.CANCELLED, CampaignState.COMPLETED):
        raise CampaignError(f"campaign {campaign.name!r} is already {campaign.state.value}")
    _move(session, campaign, [ContactStatus.PENDING, ContactStatus.QUEUED], ContactStatus.CANCELLED)
    campaign.state = CampaignState.CANCELLED
    campaign.finished_at = now or utcnow()
    campaign.waiting_reason = campaign.waiting_until = None
    return campaign


def requeue(session: Session, name: str, statuses: Iterable[ContactStatus]) -> int:
    """Send contacts in the given final statuses back to `pending` (e.g. `unknown` ones an
    operator has checked were not called); returns how many."""
    wanted = set(statuses)
    refused = wanted - REQUEUEABLE
    if refused:
        raise CampaignError(f"contacts that are {sorted(refused)} cannot be requeued")
    campaign = find_campaign(session, name)
    if campaign.state == CampaignState.CANCELLED:
        raise CampaignError(f"campaign {campaign.name!r} was cancelled")
    moved = _move(session, campaign, sorted(wanted), ContactStatus.PENDING, reset_rounds=True)
    if moved and campaign.state == CampaignState.COMPLETED:
        campaign.state = CampaignState.PAUSED
        campaign.pause_reason = "contacts requeued; resume to dial them"
    return moved


def _move(
    session: Session,
    campaign: Campaign,
    old: list[ContactStatus],
    new: ContactStatus,
    *,
    reset_rounds: bool = False,
) -> int:
    values: dict[str, object] = {"status": new}
    if reset_rounds:
        values.update(rounds=0, next_attempt_at=None)
    result = session.execute(
        update(Contact)
        .where(Contact.campaign_id == campaign.id, Contact.status.in_(old))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
