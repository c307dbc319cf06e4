"""Per-contact SQL expressions over its attempts, correlated to `Contact`: its latest attempt's
value, its latest known call outcome, and the calls the provider created for it. Shared by the
report's rows and its summary, so both say the same of each contact."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from dialer.models import Attempt, Contact


def latest_attempt(column: Any, *conditions: Any) -> Any:
    """`column` of the contact's latest attempt (among those meeting `conditions`)."""
    # One index probe of ix_attempts_contact (contact_id, requested_at) per contact; the id breaks
    # ties between attempts requested in the same instant.
    return (
        select(column)
        .where(Attempt.contact_id == Contact.id, *conditions)
        .order_by(Attempt.requested_at.desc(), Attempt.id.desc())
        .limit(1)
        .correlate(Contact)
        .scalar_subquery()
    )


def latest_outcome(column: Any) -> Any:
    """`column` of the contact's latest call whose outcome the provider reported."""
    # A newer attempt still awaiting its report (or one that made no call) does not hide the
    # last known result.
    return latest_attempt(column, Attempt.disposition.is_not(None))


def calls_made() -> Any:
    """How many calls the provider created for the contact: its attempts with a session id."""
    return (
        select(func.count())
        .where(Attempt.contact_id == Contact.id, Attempt.call_session_id.is_not(None))
        .correlate(Contact)
        .scalar_subquery()
    )
