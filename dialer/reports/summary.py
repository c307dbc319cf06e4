"""The figures of one campaign, each from one SQL aggregate: contacts per status, attempts,
failures by error, contacts by the disposition of their latest known call, the answered rate,
first and last call, and calls per minute (overall and minute by minute).

A "call" here is an API request that spent points: every attempt except the `rate_limited` ones,
which the provider refused before placing anything.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from dialer.dispositions import Disposition
from dialer.models import Attempt, Campaign, Contact, ContactStatus
from dialer.policy import taken_up
from dialer.reports.latest import latest_outcome

STATUSES: tuple[str, ...] = tuple(s.value for s in ContactStatus)
DISPOSITIONS: tuple[str, ...] = tuple(d.value for d in Disposition)
TO_DIAL: frozenset[str] = frozenset({"pending", "queued", "dialing"})


def iso(value: dt.datetime | None) -> str | None:
    """A timestamp as ISO 8601 in UTC to the second, or None."""
    if value is None:
        return None
    if value.tzinfo is not dt.UTC:  # UTCDateTime columns already are; skip the conversion
        value = value.astimezone(dt.UTC)
    return value.isoformat(timespec="seconds")


def campaign_info(campaign: Campaign) -> dict[str, Any]:
    """What a report says about the campaign itself; never its raw parameters."""
    return {
        "name": campaign.name,
        "method": campaign.method,
        "state": str(campaign.state),
        "pause_reason": campaign.pause_reason,
        "created_at": iso(campaign.created_at),
        "started_at": iso(campaign.started_at),
        "finished_at": iso(campaign.finished_at),
    }


@dataclass(frozen=True)
class Summary:
    """The delivery figures of one campaign."""

    counts: dict[str, int]  # contacts per status, every status present
    attempts: int  # API requests made, all outcomes
    outcomes: dict[str, int]  # attempts per outcome
    errors: dict[str, int]  # failed contacts per error mnemonic, most frequent first
    first_call_at: dt.datetime | None
    last_call_at: dt.datetime | None
    calls: int  # attempts that spent points (not rate_limited)
    calls_per_minute: float | None = field(default=None)
    # Contacts by the disposition of their latest call with a known outcome, every one present.
    dispositions: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DISPOSITIONS, 0))
    called: int = 0  # contacts the provider created at least one call for

    @property
    def outcome_known(self) -> int:
        """Contacts whose call outcome is known (the provider reported how a call ended)."""
        return sum(self.dispositions.values())

    @property
    def answered(self) -> int:
        """Contacts whose latest known call was answered."""
        return self.dispositions[Disposition.ANSWERED]

    @property
    def answered_of_known(self) -> float | None:
        """Answered contacts / contacts whose call outcome is known, 0-1; None when none is."""
        return share(self.answered, self.outcome_known)

    @property
    def answered_of_called(self) -> float | None:
        """Answered contacts / contacts called, 0-1; None when none was called."""
        return share(self.answered, self.called)

    @property
    def total(self) -> int:
        """Contacts in the campaign."""
        return sum(self.counts.values())

    @property
    def to_dial(self) -> int:
        """Contacts not yet done: pending, queued or being dialed."""
        return sum(self.counts[s] for s in TO_DIAL)

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of the summary."""
        return {
            "total": self.total,
            "counts": dict(self.counts),
            "attempts": self.attempts,
            "outcomes": dict(self.outcomes),
            "placed": self.counts["placed"],
            "failed": self.counts["failed"],
            "failed_by_error": dict(self.errors),
            "blacklisted": self.counts["blacklisted"],
            "unknown": self.counts["unknown"],
            "to_dial": self.to_dial,
            "first_call_at": iso(self.first_call_at),
            "last_call_at": iso(self.last_call_at),
            "calls_per_minute": self.calls_per_minute,
            "answered": self.counts["answered"],
            "not_answered": self.counts["not_answered"],
            "dispositions": dict(self.dispositions),
            "outcome_known": self.outcome_known,
            "called": self.called,
            "answered_rate_of_known": self.answered_of_known,
            "answered_rate_of_called": self.answered_of_called,
        }


def share(part: int, whole: int) -> float | None:
    """`part / whole` to four decimals, or None when `whole` is zero."""
    return round(part / whole, 4) if whole else None


def disposition_counts(session: Session, campaign_id: int) -> dict[str, int]:
    """Contacts by the disposition of their latest known call, a zero for every other one."""
    latest = (
        select(latest_outcome(Attempt.disposition).label("disposition"))
        .where(Contact.campaign_id == campaign_id)
        .subquery()
    )
    counts = dict.fromkeys(DISPOSITIONS, 0)
    rows = session.execute(
        select(latest.c.disposition, func.count())
        .where(latest.c.disposition.is_not(None))
        .group_by(latest.c.disposition)
    )
    for disposition, n in rows:
        counts[str(disposition)] = n
    return counts


def contacts_called(session: Session, campaign_id: int) -> int:
    """Contacts the provider created at least one call for."""
    return (
        session.scalar(
            select(func.count(func.distinct(Attempt.contact_id))).where(
                Attempt.campaign_id == campaign_id, Attempt.call_session_id.is_not(None)
            )
        )
        or 0
    )


def status_counts(session: Session, campaign_id: int) -> dict[str, int]:
    """Contacts per status, with a zero for every status that has none."""
    rows = session.execute(
        select(Contact.status, func.count())
        .where(Contact.campaign_id == campaign_id)
        .group_by(Contact.status)
    )
    counts = dict.fromkeys(STATUSES, 0)
    for status, n in rows:
        counts[str(status)] = n
    return counts


def failed_by_error(session: Session, campaign_id: int) -> dict[str, int]:
    """Failed contacts per error mnemonic ("(none)" when the engine recorded none)."""
    rows = session.execute(
        select(Contact.error_mnemonic, func.count().label("n"))
        .where(Contact.campaign_id == campaign_id, Contact.status == ContactStatus.FAILED)
        .group_by(Contact.error_mnemonic)
        .order_by(func.count().desc(), Contact.error_mnemonic)
    )
    return {mnemonic or "(none)": n for mnemonic, n in rows}


def campaign_summary(session: Session, campaign: Campaign) -> Summary:
    """Compute the summary of `campaign` with a handful of aggregate queries."""
    outcomes = {
        str(outcome): n
        for outcome, n in session.execute(
            select(Attempt.outcome, func.count())
            .where(Attempt.campaign_id == campaign.id)
            .group_by(Attempt.outcome)
        )
    }
    first, last, calls = session.execute(
        select(func.min(Attempt.requested_at), func.max(Attempt.requested_at), func.count()).where(
            Attempt.campaign_id == campaign.id, taken_up()
        )
    ).one()
    return Summary(
        counts=status_counts(session, campaign.id),
        attempts=sum(outcomes.values()),
        outcomes=outcomes,
        errors=failed_by_error(session, campaign.id),
        first_call_at=first,
        last_call_at=last,
        calls=calls,
        calls_per_minute=rate_per_minute(calls, first, last),
        dispositions=disposition_counts(session, campaign.id),
        called=contacts_called(session, campaign.id),
    )


def rate_per_minute(
    calls: int, first: dt.datetime | None, last: dt.datetime | None
) -> float | None:
    """Calls per minute between the first and last call; a span under a minute counts as one."""
    if not calls or first is None or last is None:
        return None
    minutes = max((last - first).total_seconds() / 60.0, 1.0)
    return round(calls / minutes, 2)


@dataclass(frozen=True)
class MinutePoint:
    """Calls made in one minute, and the points-per-minute limit the provider reported then."""

    minute: dt.datetime
    calls: int
    minute_limit: int | None


def _minute_of(session: Session) -> ColumnElement[Any]:
    # UTCDateTime stores naive UTC: text on SQLite ("YYYY-MM-DD HH:MM:SS..."), timestamp on PG.
    if session.get_bind().dialect.name == "sqlite":
        return func.substr(Attempt.requested_at, 1, 16)
    return func.date_trunc("minute", Attempt.requested_at)


def _as_minute(raw: Any) -> dt.datetime:
    if isinstance(raw, str):
        return dt.datetime.fromisoformat(raw).replace(tzinfo=dt.UTC)
    assert isinstance(raw, dt.datetime)
    return raw.replace(tzinfo=dt.UTC) if raw.tzinfo is None else raw.astimezone(dt.UTC)


def calls_per_minute_series(session: Session, campaign_id: int) -> list[MinutePoint]:
    """Calls per minute over the campaign's life, only minutes with calls, oldest first."""
    minute = _minute_of(session).label("minute")
    limit = func.max(Attempt.limits["minute_limit"].as_integer())
    rows = session.execute(
        select(minute, func.count(), limit)
        .where(Attempt.campaign_id == campaign_id, taken_up())
        .group_by(minute)
        .order_by(minute)
    )
    return [MinutePoint(_as_minute(m), n, lim) for m, n, lim in rows]


@dataclass(frozen=True)
class OutcomePoint:
    """Calls made in one minute whose outcome is known, and how many of them were answered."""

    minute: dt.datetime
    known: int
    answered: int


def outcomes_per_minute_series(session: Session, campaign_id: int) -> list[OutcomePoint]:
    """Calls with a known outcome per minute they were made, and the answered ones, oldest first."""
    minute = _minute_of(session).label("minute")
    answered = func.sum(case((Attempt.disposition == Disposition.ANSWERED, 1), else_=0))
    rows = session.execute(
        select(minute, func.count(), answered)
        .where(Attempt.campaign_id == campaign_id, Attempt.disposition.is_not(None))
        .group_by(minute)
        .order_by(minute)
    )
    return [OutcomePoint(_as_minute(m), n, int(a or 0)) for m, n, a in rows]
