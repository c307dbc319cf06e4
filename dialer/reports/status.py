"""The live status of a campaign: where it stands, how fast it goes, what budget is left, and
when it should finish. `campaign_status` is shared by `dialer campaign show` and the progress line
of a foreground `dialer run`; `campaign_progress` gives one line per campaign for the list.

The rate is smoothed: calls over the last `RECENT_MINUTES` (or since the start, if later), and no
rate at all ("measuring") before `MIN_RATE_SPAN` of calling, so ten calls in five seconds are not
"10.0/min". The time to finish takes the lowest of the recent rate, the campaign's pace cap and
the points budget, then lays that calling time over the campaign's calling windows: a campaign
whose window is closed says when it opens, and its estimate includes the night.

It is longer than most modules because the time to finish walks the calling windows and the
budget together; splitting those apart would spread one estimate over two files.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from dialer import windows
from dialer.db import utcnow
from dialer.models import (
    FINAL_STATUSES,
    Attempt,
    Budget,
    Campaign,
    CampaignState,
    Contact,
    ContactStatus,
    ReportStatus,
)
from dialer.options import CampaignOptions, Window
from dialer.policy import taken_up
from dialer.reports.messages import Texts
from dialer.reports.summary import TO_DIAL, iso, status_counts
from dialer.reports.zone import ShownZone, campaign_zone

RECENT_MINUTES = 15
MIN_RATE_SPAN = dt.timedelta(minutes=1)
# Open periods of the calling window walked through at most, for the time to finish: a year of
# two periods a day; beyond that the estimate is None rather than a guess.
MAX_PERIODS = 730
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
    calls_per_minute: float | None  # over the last `recent_minutes`; None while measuring
    recent_minutes: float
    budget: BudgetSeen | None
    eta_seconds: float | None
    # "done", "recent rate", "pace", "budget", or None when it cannot be told
    eta_basis: str | None
    now: dt.datetime = field(default_factory=utcnow)
    window_opens_at: dt.datetime | None = None  # set while the calling window is closed
    eta_in_windows: bool = False  # the estimate counts only the hours the window is open
    zone: ShownZone = field(default_factory=ShownZone)
    tts_limit_learned: int | None = None  # named by the provider in a `tts_text_exceeded`
    # Nobody is left to dial, but placed calls' results are still awaited from the reports.
    results_awaited: int = 0

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
        """Contacts in a final status; of a cancelled campaign, only those it got to."""
        if self.state == CampaignState.CANCELLED:
            return self.total - self.remaining - self.counts[ContactStatus.CANCELLED]
        return self.total - self.remaining

    @property
    def percent(self) -> float:
        """Share of contacts done, 0-100 (100 for an empty campaign)."""
        return round(100.0 * self.done / self.total, 1) if self.total else 100.0

    @property
    def waiting(self) -> str | None:
        """Why the campaign is idle, without the engine's own `waiting:` prefix."""
        if self.waiting_reason is None:
            return None
        return self.waiting_reason.removeprefix("waiting:").strip()

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
            "eta_in_windows": self.eta_in_windows,
            "window_opens_at": iso(self.window_opens_at),
            "timezone": self.zone.name,
            "tts_limit_learned": self.tts_limit_learned,
            "results_awaited": self.results_awaited,
            "now": iso(self.now),
        }

    def window_note(self, texts: Texts) -> str | None:
        """`waiting for the window at 09:00 MSK` while the calling window is closed."""
        if self.window_opens_at is None:
            return None
        return texts("show.window", at=self.zone.clock(self.window_opens_at, self.now))

    def results_note(self, texts: Texts) -> str | None:
        """`waiting for 12 call results from the provider's reports` at the end of a run."""
        return (
            texts("show.results_awaited", n=self.results_awaited) if self.results_awaited else None
        )

    def line(self, texts: Texts | None = None) -> str:
        """One line of progress, for a terminal that redraws it."""
        texts = texts or Texts()
        rate = "…" if self.calls_per_minute is None else f"{self.calls_per_minute:.1f}"
        text = texts(
            "line.progress",
            name=self.name,
            state=texts.state(self.state),
            done=self.done,
            total=self.total,
            percent=self.percent,
            placed=self.counts["placed"],
            answered=self.counts["answered"],
            not_answered=self.counts["not_answered"],
            failed=self.counts["failed"],
            rate=rate,
        )
        if self.budget:
            b = self.budget
            text += texts("line.points", minute=b.minute_remaining, day=b.day_remaining)
        if self.eta_seconds:
            text += texts("line.eta", eta=format_duration(self.eta_seconds, texts))
        why = (
            self.pause_reason or self.window_note(texts) or self.waiting or self.results_note(texts)
        )
        return f"{text} [{why}]" if why else text


def format_duration(seconds: float, texts: Texts | None = None) -> str:
    """A duration as `2d 3h`, `4h 05m`, `7m 12s` or `40s` (`2д 3ч` in Russian)."""
    texts = texts or Texts()
    d, h, m, sec = (texts(f"unit.{u}") for u in ("d", "h", "m", "s"))
    s = round(seconds)
    days, s = divmod(s, 86400)
    hours, s = divmod(s, 3600)
    minutes, s = divmod(s, 60)
    if days:
        return f"{days}{d} {hours}{h}"
    if hours:
        return f"{hours}{h} {minutes:02d}{m}"
    return f"{minutes}{m} {s:02d}{sec}" if minutes else f"{s}{sec}"


def recent_rate(
    session: Session, campaign: Campaign, now: dt.datetime, minutes: float
) -> tuple[float | None, float]:
    """Calls per minute over the last `minutes` (shorter if the campaign started since), and the
    span in minutes; the rate is None until `MIN_RATE_SPAN` has passed since the first call."""
    since = now - dt.timedelta(minutes=minutes)
    if campaign.started_at and campaign.started_at > since:
        since = campaign.started_at
    calls, first = session.execute(
        select(func.count(), func.min(Attempt.requested_at)).where(
            Attempt.campaign_id == campaign.id,
            Attempt.requested_at >= since,
            taken_up(),
        )
    ).one()
    span = (now - since).total_seconds() / 60.0
    if calls and now - max(since, first) < MIN_RATE_SPAN:
        return None, round(span, 2)  # too few seconds to tell a rate from a burst
    span = max(span, 1.0)
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
    remaining: int,
    rate: float | None,
    budget: BudgetSeen | None,
    now: dt.datetime,
    cost: int = 1,
    pace: int | None = None,
) -> tuple[float | None, str | None]:
    """Seconds of calling to finish: while today's budget lasts, at the lowest of the recent
    rate, the campaign's pace cap and the points budget (a burst faster than the cap or the
    budget cannot go on); past it, the day resets are waited for."""
    if remaining == 0:
        return 0.0, "done"
    points = remaining * cost
    fits_today = budget is None or points <= budget.day_remaining
    if fits_today:
        per_minute = budget.minute_limit / cost if budget and budget.minute_limit > 0 else None
        speeds = [(rate, "recent rate"), (pace, "pace"), (per_minute, "budget")]
        known = [(speed, basis) for speed, basis in speeds if speed]
        if not known:
            return None, None
        speed, basis = min(known, key=lambda known_speed: known_speed[0])
        return round(remaining / speed * 60.0, 1), basis
    if budget is None or budget.minute_limit <= 0 or budget.day_limit <= 0:
        return None, None
    # Today's points run out first: wait for the day reset, then whole days, then the rest.
    extra = points - max(budget.day_remaining, 0)
    full_days, rest = divmod(extra, budget.day_limit)
    wait = max((budget.day_reset_at - now).total_seconds(), 0.0)
    return round(wait + full_days * 86400.0 + rest / budget.minute_limit * 60.0, 1), "budget"


def always_open(window: Window) -> bool:
    """True when the window never closes: every day, all day."""
    return set(window.days) >= set(range(7)) and any(
        start <= 0 and end >= 24 * 60 for start, end in window.hours
    )


def through_windows(
    seconds: float, window: Window, zone_name: str, now: dt.datetime
) -> dt.datetime | None:
    """When `seconds` of calling end, counting only the hours the window is open; None if the
    window never opens or the work runs past `MAX_PERIODS` open periods."""
    left = dt.timedelta(seconds=seconds)
    at = now
    for _ in range(MAX_PERIODS):
        opens = windows.next_opening(window, at, zone_name)
        if opens is None:
            return None
        closes = windows.closes_at(window, opens, zone_name) or opens
        if closes - opens >= left:
            return opens + left
        left -= closes - opens
        at = closes
    return None


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
    options = CampaignOptions.from_json(campaign.options)
    window, zone = options.window, campaign_zone(campaign)
    counts = status_counts(session, campaign.id)
    rate, span = recent_rate(session, campaign, now, recent_minutes)
    budget = budget_seen(session, campaign, account)
    remaining = sum(counts[s] for s in TO_DIAL)
    active = campaign.state in (CampaignState.RUNNING, CampaignState.DRAFT)
    if active or remaining == 0:
        eta, basis = estimate_seconds(
            remaining, rate, budget, now, cost, options.pace.calls_per_minute
        )
    else:
        eta, basis = None, None  # paused, cancelled: it will not finish on its own
    awaited = 0
    if remaining == 0 and campaign.state == CampaignState.RUNNING:
        # Only at the end of a run, when it is what the campaign waits for: a count over its calls.
        awaited = results_awaited(session, campaign)
        eta, basis = (None, None) if awaited else (eta, basis)
    # Each contact's own zone is not known here: the campaign's zone stands for them all.
    opens_at, in_windows = None, False
    if remaining and not always_open(window):
        opens = windows.next_opening(window, now, window.timezone)
        if campaign.state == CampaignState.RUNNING and opens != now:
            opens_at = opens
        if eta is not None and basis != "done":
            # A wait for tomorrow's points inside `eta` is laid over the windows as if it were
            # calling time: an over-estimate only when the day budget, too, runs out.
            ends = through_windows(eta, window, window.timezone, now)
            eta, in_windows = (None if ends is None else (ends - now).total_seconds()), True
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
        window_opens_at=opens_at,
        eta_in_windows=in_windows,
        zone=zone,
        tts_limit_learned=campaign.tts_limit_learned,
        results_awaited=awaited,
    )


def results_awaited(session: Session, campaign: Campaign) -> int:
    """Placed calls of the campaign whose results are still awaited from the provider's reports."""
    return (
        session.scalar(
            select(func.count()).where(
                Attempt.campaign_id == campaign.id, Attempt.report_status == ReportStatus.AWAITED
            )
        )
        or 0
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
    """Every campaign with its state and progress, in order of creation, from one aggregate.

    A cancelled campaign counts as done only the contacts it got to, not the ones it cancelled.
    """
    final = case((Contact.status.in_(sorted(FINAL_STATUSES)), 1), else_=0)
    cancelled = case((Contact.status == ContactStatus.CANCELLED, 1), else_=0)
    per_campaign = (
        select(
            Contact.campaign_id,
            func.count().label("total"),
            func.sum(final).label("done"),
            func.sum(cancelled).label("cancelled"),
        )
        .group_by(Contact.campaign_id)
        .subquery()
    )
    rows = session.execute(
        select(
            Campaign.name,
            Campaign.state,
            per_campaign.c.done,
            per_campaign.c.cancelled,
            per_campaign.c.total,
        )
        .outerjoin(per_campaign, per_campaign.c.campaign_id == Campaign.id)
        .order_by(Campaign.created_at, Campaign.id)
    )
    return [
        CampaignProgress(
            name,
            str(state),
            int(done or 0) - (int(off or 0) if state == CampaignState.CANCELLED else 0),
            int(total or 0),
        )
        for name, state, done, off, total in rows
    ]
