"""Builders of test data: campaigns, contacts, attempts and budgets, written straight into the
tables the way the importer and the dialing engine would leave them.

Every builder only adds and flushes; the caller decides whether to commit. `report_campaign`
builds one campaign with every contact status, Cyrillic variables, a formula-looking variable
and a `<script>` variable, with attempts spread over several minutes; `outcome_campaign` one
whose calls ended, each with the outcome the provider reported.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from dialer.db import transaction
from dialer.dispositions import Disposition, disposition_of
from dialer.models import (
    Attempt,
    AttemptOutcome,
    Budget,
    Campaign,
    CampaignState,
    Contact,
    ContactStatus,
    ReportStatus,
)
from dialer.options import CampaignOptions, Retry

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
_ids = itertools.count(1)


def limits(
    minute_limit: int = 60,
    minute_remaining: int = 50,
    minute_reset: float = 30.0,
    day_limit: int = 10_000,
    day_remaining: int = 9_000,
    day_reset: float = 36_000.0,
) -> dict[str, Any]:
    """A `metadata.limits` object as the provider sends it."""
    return {
        "minute_limit": minute_limit,
        "minute_remaining": minute_remaining,
        "minute_reset": minute_reset,
        "day_limit": day_limit,
        "day_remaining": day_remaining,
        "day_reset": day_reset,
    }


def add_campaign(
    session: Session,
    name: str = "spring",
    state: CampaignState = CampaignState.RUNNING,
    method: str = "start.informer_call",
    **fields: Any,
) -> Campaign:
    """A campaign (running by default) with minimal informer-call parameters."""
    campaign = Campaign(
        name=name,
        method=method,
        params={"virtual_phone_number": "74950000000", "contact_message": {"type": "tts"}},
        options={},
        state=state,
        **fields,
    )
    session.add(campaign)
    session.flush()
    return campaign


def add_contact(
    session: Session,
    campaign: Campaign,
    phone: str,
    status: ContactStatus = ContactStatus.PENDING,
    variables: dict[str, str] | None = None,
    **fields: Any,
) -> Contact:
    """A contact of `campaign`."""
    contact = Contact(
        campaign_id=campaign.id, phone=phone, status=status, variables=variables or {}, **fields
    )
    session.add(contact)
    session.flush()
    return contact


def add_attempt(
    session: Session,
    contact: Contact,
    requested_at: dt.datetime = T0,
    outcome: AttemptOutcome = AttemptOutcome.PLACED,
    call_session_id: int | None = None,
    external_id: str | None = None,
    **fields: Any,
) -> Attempt:
    """An attempt for `contact`, answered a second after it was requested."""
    attempt = Attempt(
        external_id=external_id or f"ext-{next(_ids):06d}",
        call_session_id=call_session_id,
        contact_id=contact.id,
        campaign_id=contact.campaign_id,
        method="start.informer_call",
        params={"access_token": "***", "contact": contact.phone},
        requested_at=requested_at,
        answered_at=requested_at + dt.timedelta(seconds=1),
        outcome=outcome,
        **fields,
    )
    session.add(attempt)
    session.flush()
    return attempt


def add_budget(session: Session, account: str = "test-account", **fields: Any) -> Budget:
    """The shared Budget row of one account, as last seen from the provider."""
    values: dict[str, Any] = {
        "minute_limit": 60,
        "minute_remaining": 42,
        "minute_reset_at": T0 + dt.timedelta(seconds=30),
        "day_limit": 10_000,
        "day_remaining": 8_000,
        "day_reset_at": T0 + dt.timedelta(hours=10),
        "window_seconds": 60.0,
        "observed_at": T0,
    }
    values.update(fields)
    budget = Budget(account=account, **values)
    session.add(budget)
    session.flush()
    return budget


def report_campaign(
    session: Session, name: str = "spring", session_ids_from: int = 900_000
) -> Campaign:
    """A campaign with every status, awkward variables, and attempts over three minutes.

    Contacts: 2 pending, 2 failed (invalid_contact, contact_not_allowed), 1 of every other
    status; the placed one was tried twice (a transient error first) and got the call_session_id
    `session_ids_from + 4` (pass another base to build two such campaigns in one database).
    """
    campaign = add_campaign(session, name, started_at=T0)
    s = ContactStatus
    rows: list[tuple[str, ContactStatus, dict[str, str], str | None]] = [
        ("79260000001", s.PENDING, {"имя": "Иван", "сумма": "-150"}, None),
        ("79260000002", s.PENDING, {"имя": "Пётр"}, None),
        ("79260000003", s.QUEUED, {"имя": "Анна"}, None),
        ("79260000004", s.DIALING, {"имя": "Олег"}, None),
        ("79260000005", s.PLACED, {"имя": '=HYPERLINK("http://x")', "долг": "1 000"}, None),
        ("79260000006", s.FAILED, {"имя": "<script>alert(1)</script>"}, "invalid_contact"),
        ("79260000007", s.FAILED, {"имя": "Мария"}, "contact_not_allowed"),
        ("79260000008", s.BLACKLISTED, {"имя": "Нина"}, "contact_in_blacklist"),
        ("79260000009", s.UNKNOWN, {"имя": "Юрий", "город": "Москва"}, None),
        ("79260000010", s.CANCELLED, {"имя": "Ольга"}, None),
    ]
    minute = dt.timedelta(minutes=1)
    for i, (phone, status, variables, mnemonic) in enumerate(rows):
        contact = add_contact(
            session,
            campaign,
            phone,
            status,
            variables,
            error_mnemonic=mnemonic,
            error_message=f"{mnemonic} from the provider" if mnemonic else None,
        )
        if status in (s.PENDING, s.QUEUED, s.CANCELLED):
            continue
        at = T0 + (i % 3) * minute
        if status is s.PLACED:
            add_attempt(session, contact, at, AttemptOutcome.TRANSIENT, limits=limits())
            at += minute
        outcome = {
            s.DIALING: AttemptOutcome.REQUESTING,
            s.PLACED: AttemptOutcome.PLACED,
            s.FAILED: AttemptOutcome.CONTACT_ERROR,
            s.BLACKLISTED: AttemptOutcome.BLACKLISTED,
            s.UNKNOWN: AttemptOutcome.UNKNOWN,
        }[status]
        seen = None if outcome is AttemptOutcome.REQUESTING else limits(minute_remaining=40 - i)
        add_attempt(
            session,
            contact,
            at,
            outcome,
            call_session_id=session_ids_from + i if outcome is AttemptOutcome.PLACED else None,
            error_mnemonic=mnemonic,
            limits=seen,
        )
        contact.requests = 2 if status is s.PLACED else 1
        contact.last_attempt_at = at
    session.flush()
    return campaign


def queue_contacts(engine: Engine, *contact_ids: int) -> None:
    """Put contacts where the dispatcher would: `queued`."""
    with transaction(engine) as session:
        session.execute(
            update(Contact).where(Contact.id.in_(contact_ids)).values(status=ContactStatus.QUEUED)
        )


_session_ids = itertools.count(700_000)


def add_call(
    session: Session,
    contact: Contact,
    finish_reason: str | None,
    requested_at: dt.datetime = T0,
    listened: int | None = None,
    call_session_id: int | None = None,
    **fields: Any,
) -> Attempt:
    """A placed attempt whose call ended with `finish_reason`, as the outcome collector leaves it;
    `finish_reason=None` leaves the call awaiting its report."""
    call_session_id = call_session_id or next(_session_ids)
    if finish_reason is None:
        return add_attempt(
            session,
            contact,
            requested_at,
            call_session_id=call_session_id,
            report_status=ReportStatus.AWAITED,
            **fields,
        )
    disposition = disposition_of(finish_reason)
    picked_up = disposition is Disposition.ANSWERED
    talk = (listened or 0) if picked_up else 0
    return add_attempt(
        session,
        contact,
        requested_at,
        call_session_id=call_session_id,
        report_status=ReportStatus.FOUND,
        disposition=disposition,
        call_answered=picked_up,
        finish_reason=finish_reason,
        listened_seconds=listened if listened is not None else talk,
        talk_duration=talk,
        total_duration=talk + 20,
        call_finished_at=requested_at + dt.timedelta(seconds=talk + 20),
        **fields,
    )


def outcome_campaign(
    session: Session, name: str = "autumn", session_ids_from: int | None = None
) -> Campaign:
    """A campaign whose calls ended, over two hours (Moscow time, the default zone); its calls'
    session ids count up from `session_ids_from` when given.

    - 79160000001: busy at 09:00 UTC, answered at 10:05 (listened 42 s): `answered`, 2 calls;
    - 79160000002: no answer twice (09:10, 10:10): `not_answered`, 2 calls;
    - 79160000003: bad number (09:20): `failed`, 1 call;
    - 79160000004: answered at 09:30 (listened 15 s), `caller_disconnects` spelling: `answered`;
    - 79160000005: busy at 09:40, then a call awaiting its report: `placed`, 2 calls;
    - 79160000006: never called: `pending`.
    """
    campaign = add_campaign(session, name, started_at=T0)
    s, minute = ContactStatus, dt.timedelta(minutes=1)
    calls: list[tuple[str, ContactStatus, list[tuple[int, str | None, int | None]]]] = [
        ("79160000001", s.ANSWERED, [(0, "subscriber_busy", None), (65, "success_finish", 42)]),
        (
            "79160000002",
            s.NOT_ANSWERED,
            [(10, "subscriber_not_responsible", None), (70, "no_success_subscriber_call", None)],
        ),
        ("79160000003", s.FAILED, [(20, "subscriber_number_problems", None)]),
        ("79160000004", s.ANSWERED, [(30, "caller_disconnects", 15)]),
        ("79160000005", s.PLACED, [(40, "subscriber_busy", None), (100, None, None)]),
        ("79160000006", s.PENDING, []),
    ]
    ids = itertools.count(session_ids_from) if session_ids_from is not None else _session_ids
    for phone, status, made in calls:
        contact = add_contact(session, campaign, phone, status, {"имя": phone[-1]})
        for at, reason, listened in made:
            add_call(session, contact, reason, T0 + at * minute, listened, next(ids))
        contact.requests = contact.rounds = len(made)
        contact.last_attempt_at = T0 + made[-1][0] * minute if made else None
    session.flush()
    return campaign


def dialable_campaign(
    engine: Engine,
    phones: list[str],
    *,
    name: str = "order-ready",
    state: CampaignState = CampaignState.RUNNING,
    options: CampaignOptions | None = None,
    text: str = "Здравствуйте, {name}!",
) -> tuple[int, list[int]]:
    """A running informer campaign with one contact per phone; returns the ids."""
    options = options or CampaignOptions(retry=Retry(rounds=2, delays=(60.0,)))
    with transaction(engine) as session:
        campaign = Campaign(
            name=name,
            method="start.informer_call",
            params={
                "virtual_phone_number": "74993720692",
                "contact_message": {"type": "tts", "value": text},
                "direction": "out",
            },
            options=options.to_json(),
            state=state,
        )
        session.add(campaign)
        session.flush()
        contacts = [
            Contact(campaign_id=campaign.id, phone=phone, variables={"name": f"Клиент {i}"})
            for i, phone in enumerate(phones)
        ]
        session.add_all(contacts)
        session.flush()
        return campaign.id, [c.id for c in contacts]


def phones(count: int, start: int = 0) -> list[str]:
    """Distinct valid Russian mobile numbers."""
    return [f"7926{start + i:07d}" for i in range(count)]
