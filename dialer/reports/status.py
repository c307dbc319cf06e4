"""The live status of a campaign: where it stands, how fast it goes, what budget is left, and
when it should finish. `campaign_status` is shared by `dialer campaign show` and the progress line
of a foreground `dialer run`; `campaign_progress` gives one line per campaign for the list.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from dialer.db import utcnow
from dialer.models import (
    FINAL_STATUSES,
    Attempt,
    Budget,
    Campaign,
    CampaignState,
    Contact,
)
from dialer.policy import taken_up
from dialer.reports.summary import TO_DIAL, iso, status_counts

RECENT_MINUTES = 5
# A campaign's newest attempts that are searched for `metadata.limits` when no Budget row exists.
LIMITS_LOOKBACK = 50


@dataclass(frozen=True)
class BudgetSeen:
    """The points budget as the provider last reported it."""

    minute_limit: int
    minute_remaining: int
    minute_reset_at: dt.datetime
    day_limit: int
    day_remaining: int
    day_reset_at: dt.datetime
    observed_at: dt.datetime | None
    source: str  # "budget" (the shared Budget row) or "attempt" (the latest attempt's limits)

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of the budget."""
        return {
            "minute_limit": self.minute_limit,
            "minute_remaining": self.minute_remaining,
            "minute_reset_at": iso(self.minute_reset_at),
            "day_limit": self.day_limit,
            "day_remaining": self.day_remaining,
            "day_reset_at": iso(self.day_reset_at),
            "observed_at": iso(self.observed_at),
            "source": self.source,
        }


@dataclass(frozen=True)
class CampaignStatus:
    """A snapshot of one campaign, computed at `now`."""

    name: str
    method: str
    state: str
    pause_reason: str | None
    waiting_reason: str | None
    waiting_until: dt.datetime | None
    counts: dict[str, int]
    calls_per_minute: float  # over the last `recent_minutes`
    recent_minutes: float
    budget: BudgetSeen | None
    eta_seconds: float | None
    eta_basis: str | None  # "done", "recent rate", "budget", or None when it cannot be told
    now: dt.datetime = field(default_factory=utcnow)

    @property
    def total(self) -> int:
        """Contacts in the campaign."""
        return sum(self.counts.values())

    @property
    def remaining(self) -> int:
        """Contacts not yet done."""
        return sum(self.counts[s] for s in TO_DIAL)

    @property
    def done(self) -> int:
        """Contacts in a final status."""
        return self.total - self.remaining

    @property
    def percent(self) -> float:
        """Share of contacts done, 0-100 (100 for an empty campaign)."""
        return round(100.0 * self.done / self.total, 1) if self.total else 100.0

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of the status."""
        return {
            "name": self.name,
            "method": self.method,
            "state": self.state,
            "pause_reason": self.pause_reason,
            "waiting_reason": self.waiting_reason,
            "waiting_until": iso(self.waiting_until),
            "counts": dict(self.counts),
            "total": self.total,
            "done": self.done,
            "remaining": self.remaining,
            "percent": self.percent,
            "calls_per_minute": self.calls_per_minute,
            "recent_minutes": self.recent_minutes,
            "budget": self.budget.as_dict() if self.budget else None,
            "eta_seconds": self.eta_seconds,
            "eta_basis": self.eta_basis,
            "now": iso(self.now),
        }

    def line(self) -> str:
        """One line of progress, for a terminal that redraws it."""
        text = (
            f"{self.name}: {self.state} {self.done}/{self.total} ({self.percent:.1f}%) "
            f"placed {self.counts['placed']} failed {self.counts['failed']} "
            f"{self.calls_per_minute:.1f}/min"
        )
        if self.budget:
            text += f" points {self.budget.minute_remaining}/min {self.budget.day_remaining}/day"
        if self.eta_seconds:
            text += f" eta {format_duration(self.eta_seconds)}"
        why = self.pause_reason or self.waiting_reason
        return f"{text} [{why}]" if why else text


def format_duration(seconds: float) -> str:
    """A duration as `2d 3h`, `4h 05m`, `7m 12s` or `40s`."""
    s = round(seconds)
    days, s = divmod(s, 86400)
    hours, s = divmod(s, 3600)
    minutes, s = divmod(s, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {s:02d}s" if minutes else f"{s}s"


def recent_rate(
    session: Session, campaign: Campaign, now: dt.datetime, minutes: float
) -> tuple[float, float]:
    """Calls per minute over the last `minutes` (shorter if the campaign started since)."""
    since = now - dt.timedelta(minutes=minutes)
    if campaign.started_at and campaign.started_at > since:
        since = campaign.started_at
    span = max((now - since).total_seconds() / 60.0, 1.0)
    calls = session.scalar(
        select(func.count()).where(
            Attempt.campaign_id == campaign.id,
            Attempt.requested_at >= since,
            taken_up(),
        )
    )
    return round((calls or 0) / span, 2), round(span, 2)


def budget_seen(
    session: Session, campaign: Campaign, account: str | None = None
) -> BudgetSeen | None:
    """The budget from the account's Budget row, else from the campaign's latest attempt limits."""
    # Without an account, the row heard from most recently (PostgreSQL sorts NULLs first in DESC).
    newest = (Budget.observed_at.desc().nulls_last(), Budget.updated_at.desc())
    query = select(Budget).order_by(*newest).limit(1)
    if account is not None:
        query = query.where(Budget.account == account)
    row = session.scalars(query).first()
    if row is not None:
        return BudgetSeen(
            row.minute_limit,
            row.minute_remaining,
            row.minute_reset_at,
            row.day_limit,
            row.day_remaining,
            row.day_reset_at,
            row.observed_at,
            "budget",
        )
    return _limits_of_latest_attempt(session, campaign)


def _limits_of_latest_attempt(session: Session, campaign: Campaign) -> BudgetSeen | None:
    # Newest first along ix_attempts_campaign_time; the newest attempts may still be unanswered.
    attempts = session.execute(
        select(Attempt.limits, Attempt.answered_at, Attempt.requested_at)
        .where(Attempt.campaign_id == campaign.id)
        .order_by(Attempt.requested_at.desc())
        .limit(LIMITS_LOOKBACK)
    )
    for limits, answered_at, requested_at in attempts:
        try:
            seen_at = answered_at or requested_at
            return BudgetSeen(
                int(limits["minute_limit"]),
                int(limits["minute_remaining"]),
                seen_at + dt.timedelta(seconds=float(limits["minute_reset"])),
                int(limits["day_limit"]),
                int(limits["day_remaining"]),
                seen_at + dt.timedelta(seconds=float(limits["day_reset"])),
                seen_at,
                "attempt",
            )
        except (TypeError, KeyError, ValueError):
            continue  # no limits on this one (unanswered, or a reply without metadata)
    return None


def estimate_seconds(
    remaining: int, rate: float, budget: BudgetSeen | None, now: dt.datetime, cost: int = 1
) -> tuple[float | None, str | None]:
    """Seconds to finish: by the recent rate while today's budget lasts, else by the budget."""
    if remaining == 0:
        return 0.0, "done"
    points = remaining * cost
    fits_today = budget is None or points <= budget.day_remaining
    if rate > 0 and fits_today:
        return round(remaining / rate * 60.0, 1), "recent rate"
    if budget is None or budget.minute_limit <= 0 or budget.day_limit <= 0:
        return None, None
    per_minute = budget.minute_limit / cost
    if fits_today:
        return round(remaining / per_minute * 60.0, 1), "budget"
    # Today's points run out first: wait for the day reset, then whole days, then the rest.
    extra = points - max(budget.day_remaining, 0)
    full_days, rest = divmod(extra, budget.day_limit)
    wait = max((budget.day_reset_at - now).total_seconds(), 0.0)
    return round(wait + full_days * 86400.0 + rest / budget.minute_limit * 60.0, 1), "budget"


def campaign_status(
    session: Session,
    campaign: Campaign,
    *,
    now: dt.datetime | None = None,
    account: str | None = None,
    recent_minutes: float = RECENT_MINUTES,
    cost: int = 1,
) -> CampaignStatus:
    """Compute the status of `campaign` at `now` (default: the current time)."""
    now = now or utcnow()
    counts = status_counts(session, campaign.id)
    rate, span = recent_rate(session, campaign, now, recent_minutes)
    budget = budget_seen(session, campaign, account)
    remaining = sum(counts[s] for s in TO_DIAL)
    if campaign.state in (CampaignState.RUNNING, CampaignState.DRAFT) or remaining == 0:
        eta, basis = estimate_seconds(remaining, rate, budget, now, cost)
    else:
        eta, basis = None, None  # paused, cancelled: it will not finish on its own
    return CampaignStatus(
        name=campaign.name,
        method=campaign.method,
        state=str(campaign.state),
        pause_reason=campaign.pause_reason,
        waiting_reason=campaign.waiting_reason,
        waiting_until=campaign.waiting_until,
        counts=counts,
        calls_per_minute=rate,
        recent_minutes=span,
        budget=budget,
        eta_seconds=eta,
        eta_basis=basis,
        now=now,
    )


@dataclass(frozen=True)
class CampaignProgress:
    """One campaign in the list: its state and how many of its contacts are done."""

    name: str
    state: str
    done: int
    total: int

    @property
    def percent(self) -> float:
        """Share of contacts done, 0-100 (100 for an empty campaign)."""
        return round(100.0 * self.done / self.total, 1) if self.total else 100.0

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of the line."""
        return {**self.__dict__, "percent": self.percent}


def campaign_progress(session: Session) -> list[CampaignProgress]:
    """Every campaign with its state and progress, in order of creation, from one aggregate."""
    final = case((Contact.status.in_(sorted(FINAL_STATUSES)), 1), else_=0)
    per_campaign = (
        select(
            Contact.campaign_id,
            func.count().label("total"),
            func.sum(final).label("done"),
        )
        .group_by(Contact.campaign_id)
        .subquery()
    )
    rows = session.execute(
        select(Campaign.name, Campaign.state, per_campaign.c.done, per_campaign.c.total)
        .outerjoin(per_campaign, per_campaign.c.campaign_id == Campaign.id)
        .order_by(Campaign.created_at, Campaign.id)
    )
    return [CampaignProgress(n, str(s), int(d or 0), int(t or 0)) for n, s, d, t in rows]
