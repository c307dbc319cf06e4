"""The figures of one campaign, each from one SQL aggregate: contacts per status, attempts,
failures by error, first and last call, and calls per minute (overall and minute by minute).

A "call" here is an API request that spent points: every attempt except the `rate_limited` ones,
which the provider refused before placing anything.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from dialer.models import Attempt, Campaign, Contact, ContactStatus
from dialer.policy import taken_up

STATUSES: tuple[str, ...] = tuple(s.value for s in ContactStatus)
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
        }


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
