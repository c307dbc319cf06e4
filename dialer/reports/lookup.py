"""Find one call by its `external_id` or its `call_session_id`, with its contact, its campaign and
every attempt made for that contact; or every attempt to one phone number, in every campaign.

"Answered" is kept for a call someone picked up (`call_answered`, from the provider's reports);
the moment the API replied to our request is `replied_at`.

Both keys are unique columns, so each lookup is one probe of a unique index. A numeric key may be
either: it is looked up as an `external_id` first and then as a `call_session_id`; if it names
two different attempts that way (possible only if the engine chose numeric external ids), the
`external_id` match wins.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from dialer.models import Attempt, Campaign, Contact
from dialer.phones import InvalidPhoneError, normalize_phone
from dialer.reports.summary import campaign_info, iso
from dialer.reports.zone import ShownZone, campaign_zone

_BIGINT_MAX = 2**63 - 1


@dataclass(frozen=True)
class AttemptView:
    """One attempt as a lookup shows it; never its raw parameters."""

    external_id: str
    call_session_id: int | None
    method: str
    requested_at: dt.datetime
    replied_at: dt.datetime | None  # when the API answered the request, not the person
    outcome: str
    error_code: int | None
    error_mnemonic: str | None
    error_message: str | None
    call_answered: bool | None  # the contact picked up, by the provider's report
    finish_reason: str | None
    talk_duration: int | None
    report_status: str | None = None  # where the provider's report of the call stands
    disposition: str | None = None
    listened_seconds: int | None = None
    total_duration: int | None = None
    call_finished_at: dt.datetime | None = None

    @classmethod
    def of(cls, attempt: Attempt) -> AttemptView:
        """The view of an attempt row."""
        return cls(
            attempt.external_id,
            attempt.call_session_id,
            attempt.method,
            attempt.requested_at,
            attempt.answered_at,
            str(attempt.outcome),
            attempt.error_code,
            attempt.error_mnemonic,
            attempt.error_message,
            attempt.call_answered,
            attempt.finish_reason,
            attempt.talk_duration,
            None if attempt.report_status is None else str(attempt.report_status),
            None if attempt.disposition is None else str(attempt.disposition),
            attempt.listened_seconds,
            attempt.total_duration,
            attempt.call_finished_at,
        )

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of the attempt."""
        return {
            "external_id": self.external_id,
            "call_session_id": self.call_session_id,
            "method": self.method,
            "requested_at": iso(self.requested_at),
            "replied_at": iso(self.replied_at),
            "outcome": self.outcome,
            "error_code": self.error_code,
            "error_mnemonic": self.error_mnemonic,
            "error_message": self.error_message,
            "call_answered": self.call_answered,
            "finish_reason": self.finish_reason,
            "talk_duration": self.talk_duration,
            "report_status": self.report_status,
            "disposition": self.disposition,
            "listened_seconds": self.listened_seconds,
            "total_duration": self.total_duration,
            "call_finished_at": iso(self.call_finished_at),
        }


@dataclass(frozen=True)
class CallDetails:
    """The attempt that was asked for, its contact and campaign, and all the contact's attempts."""

    matched: AttemptView
    contact: dict[str, Any]
    campaign: dict[str, Any]
    attempts: list[AttemptView]
    zone: ShownZone  # the campaign's, for the times a person reads

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of the lookup."""
        return {
            "matched": self.matched.as_dict(),
            "contact": self.contact,
            "campaign": self.campaign,
            "attempts": [a.as_dict() for a in self.attempts],
        }


def lookup_queries(key: str) -> list[Select[Attempt]]:
    """The queries tried for `key`, in order: by external_id, then (if numeric) by session id."""
    key = key.strip()
    queries = [select(Attempt).where(Attempt.external_id == key)]
    if key.isdigit() and int(key) <= _BIGINT_MAX:
        queries.append(select(Attempt).where(Attempt.call_session_id == int(key)))
    return queries


def find_attempt(session: Session, key: str) -> Attempt | None:
    """The attempt whose external_id or call_session_id is `key`, or None."""
    for query in lookup_queries(key):
        attempt = session.scalars(query).one_or_none()
        if attempt is not None:
            return attempt
    return None


def _contact_info(contact: Contact) -> dict[str, Any]:
    return {
        "phone": contact.phone,
        "status": str(contact.status),
        "attempts": contact.requests,
        "last_attempt_at": iso(contact.last_attempt_at),
        "next_attempt_at": iso(contact.next_attempt_at),
        "error_mnemonic": contact.error_mnemonic,
        "error_message": contact.error_message,
        "line_no": contact.line_no,
        "variables": dict(contact.variables or {}),
    }


def call_details(session: Session, key: str) -> CallDetails | None:
    """Everything about the call named by `key`, or None when no attempt has that id."""
    attempt = find_attempt(session, key)
    if attempt is None:
        return None
    contact = session.get_one(Contact, attempt.contact_id)
    campaign = session.get_one(Campaign, attempt.campaign_id)
    history = session.scalars(
        select(Attempt)
        .where(Attempt.contact_id == contact.id)
        .order_by(Attempt.requested_at, Attempt.id)
    )
    return CallDetails(
        matched=AttemptView.of(attempt),
        contact=_contact_info(contact),
        campaign=campaign_info(campaign),
        attempts=[AttemptView.of(a) for a in history],
        zone=campaign_zone(campaign),
    )


@dataclass(frozen=True)
class PhoneAttempt:
    """One attempt to a number, with the campaign and contact it was made for."""

    campaign: str
    contact_status: str
    attempt: AttemptView

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of the attempt."""
        return {
            "campaign": self.campaign,
            "contact_status": self.contact_status,
            **self.attempt.as_dict(),
        }


@dataclass(frozen=True)
class PhoneHistory:
    """Every attempt to one number, newest first."""

    phone: str
    attempts: list[PhoneAttempt]
    zone: ShownZone  # the zone of the newest attempt's campaign

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of the history."""
        return {"phone": self.phone, "attempts": [a.as_dict() for a in self.attempts]}


def phone_history(session: Session, key: str) -> PhoneHistory | None:
    """Every attempt to the number `key` (any spelling a person types), newest first; None when
    `key` is not a phone number or no attempt was made to it."""
    try:
        phone = normalize_phone(key)
    except InvalidPhoneError:
        return None
    rows = session.execute(
        select(Attempt, Campaign, Contact.status)
        .join(Contact, Contact.id == Attempt.contact_id)
        .join(Campaign, Campaign.id == Attempt.campaign_id)
        .where(Contact.phone == phone)  # ix_contacts_phone
        .order_by(Attempt.requested_at.desc(), Attempt.id.desc())
    )
    found, zone = [], None
    for attempt, campaign, status in rows:
        zone = zone or campaign_zone(campaign)
        found.append(PhoneAttempt(campaign.name, str(status), AttemptView.of(attempt)))
    return None if zone is None else PhoneHistory(phone, found, zone)
