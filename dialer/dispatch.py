"""The dispatcher: turns due contacts of running campaigns into `place_call` wake-ups, no faster
than the points budget allows, and reconciles work whose wake-up or worker was lost.

One `tick` is one short transaction. Any number of dispatchers (on any number of machines) may
run at once: they take turns under an advisory lock (PostgreSQL; SQLite's write lock does the
same), read the budget row without locking it, claim contacts with `SKIP LOCKED`, and never
claim a contact twice. Messages are sent only after the transaction commits.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine, and_, exists, func, or_, select, text, update
from sqlalchemy.orm import Session

from dialer import pacing, policy, windows
from dialer.config import Settings
from dialer.db import transaction
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
from dialer.options import CampaignOptions

log = logging.getLogger("dialer.dispatch")

# Wake-ups for the next window are sent this long before it opens, so that workers hold them,
# ready, at the reset instead of waiting for the next tick.
LOOKAHEAD = dt.timedelta(seconds=2)
# Candidates fetched per contact wanted, when contacts' own time zones may rule some out.
_ZONE_OVERFETCH = 4

Send = Callable[[Sequence[int]], None]
ResolveStuck = Callable[[Sequence[int]], None]


@dataclass
class TickResult:
    """What one dispatcher pass did."""

    queued: list[int] = field(default_factory=list)
    requeued: list[int] = field(default_factory=list)
    stuck_attempts: list[int] = field(default_factory=list)
    released: int = 0
    completed: list[str] = field(default_factory=list)


def tick(
    engine: Engine,
    settings: Settings,
    send: Send,
    resolve_stuck: ResolveStuck,
    now: dt.datetime | None = None,
) -> TickResult:
    """One dispatcher pass: reconcile, claim due contacts within the budget, then send."""
    now = now or dt.datetime.now(dt.UTC)
    result = TickResult()
    with transaction(engine) as session:
        _one_dispatcher_at_a_time(session)
        budget = pacing.load(session, settings, now, lock=False)
        result.requeued = _stale_queued(session, settings, now)
        result.stuck_attempts = _stuck_attempts(session, settings, now)
        result.released = _release_abandoned(session, settings, now)
        campaigns = _running(session)
        capacity = _capacity(session, budget, now, settings.max_queued)
        result.queued = _claim_fairly(session, campaigns, capacity, settings, now)
        _note_waiting(session, campaigns, budget, now)
        result.completed = _complete_finished(session, campaigns, now)
    # Only now is the claim durable; a crash before this line leaves contacts `queued`, which the
    # next pass finds stale and sends again.
    if result.queued or result.requeued:
        send(result.queued + result.requeued)
    if result.stuck_attempts:
        resolve_stuck(result.stuck_attempts)
    return result


# Any constant will do, as long as nothing else in the database takes the same advisory lock.
_DISPATCH_LOCK_KEY = 0x6469616C  # "dial"


def _one_dispatcher_at_a_time(session: Session) -> None:
    """Dispatchers take turns, so that two never both fill the same budget with wake-ups.

    PostgreSQL: an advisory lock held to the end of the pass (workers never wait on it).
    SQLite needs nothing: every write transaction there starts with BEGIN IMMEDIATE.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _DISPATCH_LOCK_KEY})


def _running(session: Session) -> list[Campaign]:
    return list(
        session.scalars(
            select(Campaign).where(Campaign.state == CampaignState.RUNNING).order_by(Campaign.id)
        )
    )


def _capacity(session: Session, budget: Budget, now: dt.datetime, max_queued: int) -> int:
    """Points the next requests may use: what remains, minus wake-ups already waiting.

    `max_queued` bounds the wake-ups out at once even when the provider's limit is huge.
    """
    points = min(pacing.available(budget, 1, now), max_queued)
    _, reset_at = pacing.minute_window(budget, now)
    if reset_at - now <= LOOKAHEAD:
        day_left = pacing.day_remaining(budget, now)
        points = min(points + budget.minute_limit, day_left, max_queued)
    waiting = session.scalar(
        select(func.count()).select_from(Contact).where(Contact.status == ContactStatus.QUEUED)
    )
    return max(0, points - int(waiting or 0))


def _claim_fairly(
    session: Session,
    campaigns: list[Campaign],
    capacity: int,
    settings: Settings,
    now: dt.datetime,
) -> list[int]:
    """Share the capacity between campaigns: an equal share each, leftovers to the hungry."""
    claimed: list[int] = []
    hungry = list(campaigns)
    # Rotate the order so that rounding never favours the same campaign twice in a row.
    if hungry:
        shift = int(now.timestamp()) % len(hungry)
        hungry = hungry[shift:] + hungry[:shift]
    while capacity > 0 and hungry:
        share = math.ceil(capacity / len(hungry))
        next_round: list[Campaign] = []
        for campaign in hungry:
            cost = settings.cost(campaign.method)
            want = min(share, capacity) // cost
            allowed = min(want, _pace_allowance(session, campaign, now))
            ids = _claim(session, campaign, allowed, now)
            claimed.extend(ids)
            capacity -= len(ids) * cost
            # Only a campaign that took its whole share may want more of what others left.
            if want > 0 and len(ids) == want:
                next_round.append(campaign)
        hungry = next_round
    return claimed


def _pace_allowance(session: Session, campaign: Campaign, now: dt.datetime) -> int:
    """How many more requests the campaign's own cap allows in the current minute."""
    cap = CampaignOptions.from_json(campaign.options).pace.calls_per_minute
    if cap is None:
        return 1 << 30
    recent = session.scalar(
        select(func.count())
        .select_from(Attempt)
        .where(
            Attempt.campaign_id == campaign.id,
            Attempt.requested_at > now - dt.timedelta(minutes=1),
            policy.taken_up(),
        )
    )
    waiting = session.scalar(
        select(func.count())
        .select_from(Contact)
        .where(Contact.campaign_id == campaign.id, Contact.status == ContactStatus.QUEUED)
    )
    return max(0, cap - int(recent or 0) - int(waiting or 0))


def _claim(session: Session, campaign: Campaign, want: int, now: dt.datetime) -> list[int]:
    """Mark up to `want` due contacts of the campaign `queued` and return their ids."""
    if want <= 0:
        return []
    window = CampaignOptions.from_json(campaign.options).window
    if not window.contact_timezone and not windows.is_open(window, now, window.timezone):
        return []
    fetch = want * _ZONE_OVERFETCH if window.contact_timezone else want
    query = (
        select(Contact.id, Contact.timezone)
        .where(
            Contact.campaign_id == campaign.id,
            Contact.status == ContactStatus.PENDING,
            or_(Contact.next_attempt_at.is_(None), Contact.next_attempt_at <= now),
        )
        .order_by(Contact.next_attempt_at.is_not(None), Contact.next_attempt_at, Contact.id)
        .limit(fetch)
        .with_for_update(skip_locked=True)
    )
    ids: list[int] = []
    for contact_id, contact_zone in session.execute(query):
        zone_name = windows.zone_for(window, contact_zone)
        if windows.is_open(window, now, zone_name):
            if len(ids) < want:
                ids.append(contact_id)
            continue
        # Outside its own window: park it until its window opens, so it stops being a candidate.
        session.execute(
            update(Contact)
            .where(Contact.id == contact_id)
            .values(next_attempt_at=windows.next_opening(window, now, zone_name))
        )
    if ids:
        session.execute(
            update(Contact)
            .where(Contact.id.in_(ids), Contact.status == ContactStatus.PENDING)
            .values(status=ContactStatus.QUEUED, queued_at=now)
        )
    return ids


def _stale_queued(session: Session, settings: Settings, now: dt.datetime) -> list[int]:
    """Contacts queued so long ago that their wake-up was surely lost: wake them again.

    Queued longer than `stuck_after` is not enough: under a slow drain (more wake-ups waiting
    than the budget lets the workers take in `stuck_after`) the broker still holds them, and
    sending them again would only make duplicate tasks. A wake-up is presumed lost when the
    workers have lately taken up wake-ups sent well after it (`out_of_order`: the broker
    delivers in order, so it would have come first), or when they have taken up none at all
    lately (the queue itself is gone, or every worker is).
    """
    cutoff = now - dt.timedelta(seconds=settings.stuck_after)
    stale = session.execute(
        select(Contact.id, Contact.campaign_id, Contact.queued_at)
        .where(Contact.status == ContactStatus.QUEUED, Contact.queued_at < cutoff)
        .limit(10_000)
        # A worker that holds the contact's row is dialing it now: it is not lost.
        .with_for_update(skip_locked=True)
    ).all()
    if not stale:
        return []
    slack = out_of_order(settings)
    fronts = {
        campaign_id: _delivery_front(session, campaign_id, cutoff)
        for campaign_id in {row.campaign_id for row in stale}
    }
    ids = [
        row.id
        for row in stale
        if (front := fronts[row.campaign_id]) is None
        or (row.queued_at is not None and row.queued_at < front - slack)
    ]
    if ids:
        log.warning("re-sending %d wake-ups that were lost", len(ids))
        session.execute(update(Contact).where(Contact.id.in_(ids)).values(queued_at=now))
    return ids


def out_of_order(settings: Settings) -> dt.timedelta:
    """How much later than a wake-up another may be taken up while it is still on its way: a
    worker's prefetched wake-ups wait behind its requests in flight (each up to its timeouts),
    and `stuck_after` on top, as for any wake-up."""
    return dt.timedelta(
        seconds=settings.stuck_after + settings.connect_timeout + settings.read_timeout
    )


# How many of a campaign's latest attempts show how far the workers have got through the queue.
_FRONT_SAMPLE = 256


def _delivery_front(session: Session, campaign_id: int, since: dt.datetime) -> dt.datetime | None:
    """When the newest wake-up the workers have lately taken up was sent; None if they have
    begun no attempt of the campaign since `since`.

    Read from the campaign's latest attempts (an index range) and their contacts' `queued_at`:
    no row of its own that every worker would have to write.
    """
    latest = (
        select(Attempt.contact_id)
        .where(Attempt.campaign_id == campaign_id, Attempt.requested_at >= since)
        .order_by(Attempt.requested_at.desc())
        .limit(_FRONT_SAMPLE)
        .subquery()
    )
    # A contact queued again since is waiting once more: its new wake-up proves nothing (and
    # when every one is, the time rule alone decides, which errs on the side of re-sending).
    return session.scalar(
        select(func.max(Contact.queued_at))
        .join(latest, latest.c.contact_id == Contact.id)
        .where(Contact.status != ContactStatus.QUEUED)
    )


def _request_deadline(settings: Settings) -> dt.timedelta:
    """How long after its start a request's worker must be presumed dead: the request's own
    timeouts (connect, write, read), then `stuck_after` to record the answer."""
    timeouts = settings.connect_timeout + 2 * settings.read_timeout
    return dt.timedelta(seconds=timeouts + settings.stuck_after)


def _stuck_attempts(session: Session, settings: Settings, now: dt.datetime) -> list[int]:
    """Attempts left mid-request by a worker that died: they need a look-up, not a redial.

    Each is asked for once per `stuck_after`, not on every pass: a look-up costs points.
    """
    again = now - dt.timedelta(seconds=settings.stuck_after)
    ids = list(
        session.scalars(
            select(Attempt.id)
            .where(
                Attempt.outcome == AttemptOutcome.REQUESTING,
                Attempt.requested_at < now - _request_deadline(settings),
                or_(Attempt.lookup_sent_at.is_(None), Attempt.lookup_sent_at < again),
            )
            .limit(1000)
            .with_for_update(skip_locked=True)
        )
    )
    if ids:
        session.execute(update(Attempt).where(Attempt.id.in_(ids)).values(lookup_sent_at=now))
    return ids


def _release_abandoned(session: Session, settings: Settings, now: dt.datetime) -> int:
    """Contacts left `dialing` between two tries by a dead worker go back to `pending`.

    Only those with no request in flight: their last attempt ended with a definite answer.
    """
    cutoff = now - dt.timedelta(seconds=settings.stuck_after)
    in_flight = exists().where(
        Attempt.contact_id == Contact.id, Attempt.outcome == AttemptOutcome.REQUESTING
    )
    # Skip rows a worker holds: it is busy with that contact right now.
    ids = list(
        session.scalars(
            select(Contact.id)
            .where(Contact.status == ContactStatus.DIALING, Contact.updated_at < cutoff, ~in_flight)
            .with_for_update(skip_locked=True, of=Contact)
        )
    )
    if not ids:
        return 0
    released = session.execute(
        update(Contact)
        .where(Contact.id.in_(ids))
        .values(status=ContactStatus.PENDING, next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(released, "rowcount", 0) or 0)


def _note_waiting(
    session: Session, campaigns: list[Campaign], budget: Budget, now: dt.datetime
) -> None:
    """Record why a running campaign is idle (window closed, day limit) and until when."""
    for campaign in campaigns:
        reason, until = _waiting(session, campaign, budget, now)
        if (campaign.waiting_reason, campaign.waiting_until) != (reason, until):
            campaign.waiting_reason, campaign.waiting_until = reason, until


def _waiting(
    session: Session, campaign: Campaign, budget: Budget, now: dt.datetime
) -> tuple[str | None, dt.datetime | None]:
    if pacing.day_remaining(budget, now) <= 0:
        return "daily points limit reached", budget.day_reset_at
    window = CampaignOptions.from_json(campaign.options).window
    if not window.contact_timezone and not windows.is_open(window, now, window.timezone):
        return "outside calling window", windows.next_opening(window, now, window.timezone)
    busy = session.scalar(
        select(func.count())
        .select_from(Contact)
        .where(
            Contact.campaign_id == campaign.id,
            or_(
                Contact.status.in_([ContactStatus.QUEUED, ContactStatus.DIALING]),
                and_(
                    Contact.status == ContactStatus.PENDING,
                    or_(Contact.next_attempt_at.is_(None), Contact.next_attempt_at <= now),
                ),
            ),
        )
    )
    if busy:
        return None, None
    later = session.scalar(
        select(func.min(Contact.next_attempt_at)).where(
            Contact.campaign_id == campaign.id, Contact.status == ContactStatus.PENDING
        )
    )
    if later is None:
        return None, None
    reason = "contacts outside their calling window" if window.contact_timezone else "retry delay"
    return f"waiting: {reason}", later


def _complete_finished(session: Session, campaigns: list[Campaign], now: dt.datetime) -> list[str]:
    """Running campaigns with nobody left to dial are completed."""
    done: list[str] = []
    for campaign in campaigns:
        open_work = session.scalar(
            select(Contact.id)
            .where(
                Contact.campaign_id == campaign.id,
                Contact.status.in_(
                    [ContactStatus.PENDING, ContactStatus.QUEUED, ContactStatus.DIALING]
                ),
            )
            .limit(1)
        )
        # A call whose end is still awaited may yet send its contact round again.
        awaited = session.scalar(
            select(Attempt.id)
            .where(
                Attempt.campaign_id == campaign.id,
                Attempt.report_status == ReportStatus.AWAITED,
            )
            .limit(1)
        )
        if open_work is None and awaited is None:
            campaign.state = CampaignState.COMPLETED
            campaign.finished_at = now
            campaign.waiting_reason = campaign.waiting_until = None
            done.append(campaign.name)
            log.info("campaign %s completed", campaign.name)
    return done
