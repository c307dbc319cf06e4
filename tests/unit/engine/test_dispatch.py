"""The dispatcher: claims within the budget, shares it fairly, respects windows and caps, and
reconciles lost wake-ups and dead workers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pytest
from sqlalchemy import Engine, func, select, update

from dialer import dispatch, pacing
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
)
from dialer.options import CampaignOptions, Pace, Window
from tests.unit.engine.conftest import START
from tests.unit.factories import dialable_campaign, phones


class Outbox:
    """Records what the dispatcher sends."""

    def __init__(self) -> None:
        self.wakeups: list[int] = []
        self.resolutions: list[int] = []

    def send(self, ids: Sequence[int]) -> None:
        self.wakeups.extend(ids)

    def resolve(self, ids: Sequence[int]) -> None:
        self.resolutions.extend(ids)


@pytest.fixture
def outbox() -> Outbox:
    return Outbox()


def tick(
    engine: Engine, settings: Settings, outbox: Outbox, now: dt.datetime = START
) -> dispatch.TickResult:
    return dispatch.tick(engine, settings, outbox.send, outbox.resolve, now=now)


def statuses(engine: Engine, campaign_id: int | None = None) -> dict[str, int]:
    with transaction(engine) as session:
        query = select(Contact.status, func.count()).group_by(Contact.status)
        if campaign_id is not None:
            query = query.where(Contact.campaign_id == campaign_id)
        return {str(s): n for s, n in session.execute(query)}


def test_claims_only_what_the_budget_allows(
    sqlite_engine: Engine, settings: Settings, outbox: Outbox
) -> None:
    dialable_campaign(sqlite_engine, phones(25))

    first = tick(sqlite_engine, settings, outbox)
    second = tick(sqlite_engine, settings, outbox)

    assert len(first.queued) == 10  # the settings' guess of the minute limit
    assert second.queued == []  # the ten wake-ups already out use the whole budget
    assert outbox.wakeups == first.queued
    assert statuses(sqlite_engine) == {"queued": 10, "pending": 15}


def test_the_next_window_is_queued_just_before_it_opens(
    sqlite_engine: Engine, settings: Settings, outbox: Outbox
) -> None:
    dialable_campaign(sqlite_engine, phones(25))
    with transaction(sqlite_engine) as session:
        pacing.load(session, settings, START)
        session.execute(
            update(Budget).values(
                minute_remaining=0, minute_reset_at=START + dt.timedelta(seconds=1)
            )
        )

    assert len(tick(sqlite_engine, settings, outbox).queued) == 10


def test_running_campaigns_share_the_budget_fairly(
    sqlite_engine: Engine, settings: Settings, outbox: Outbox
) -> None:
    first, _ = dialable_campaign(sqlite_engine, phones(20), name="first")
    second, _ = dialable_campaign(sqlite_engine, phones(20, start=100), name="second")
    small, _ = dialable_campaign(sqlite_engine, phones(1, start=200), name="small")
    settings = settings.model_copy(update={"minute_limit_guess": 21})

    tick(sqlite_engine, settings, outbox)

    # The small campaign needs one; the other two split the rest evenly.
    assert statuses(sqlite_engine, small) == {"queued": 1}
    assert statuses(sqlite_engine, first)["queued"] == 10
    assert statuses(sqlite_engine, second)["queued"] == 10


def test_a_campaign_pace_cap_holds_it_below_the_account_limit(
    sqlite_engine: Engine, settings: Settings, outbox: Outbox
) -> None:
    capped = CampaignOptions(pace=Pace(calls_per_minute=3))
    campaign_id, ids = dialable_campaign(sqlite_engine, phones(20), options=capped)
    with transaction(sqlite_engine) as session:
        session.add(
            Attempt(
                external_id="x-1",
                contact_id=ids[0],
                campaign_id=campaign_id,
                method="start.informer_call",
                params={},
                requested_at=START - dt.timedelta(seconds=30),
                outcome=AttemptOutcome.PLACED,
            )
        )
        session.execute(
            update(Contact).where(Contact.id == ids[0]).values(status=ContactStatus.PLACED)
        )

    assert len(tick(sqlite_engine, settings, outbox).queued) == 2


def test_outside_the_window_nothing_is_queued_and_the_campaign_says_until_when(
    sqlite_engine: Engine, settings: Settings, outbox: Outbox
) -> None:
    evening = CampaignOptions(window=Window(hours=((18 * 60, 21 * 60),)))
    campaign_id, _ = dialable_campaign(sqlite_engine, phones(5), options=evening)

    assert tick(sqlite_engine, settings, outbox).queued == []

    with transaction(sqlite_engine) as session:
        campaign = session.get_one(Campaign, campaign_id)
        assert campaign.waiting_reason == "outside calling window"
        assert campaign.waiting_until == START.replace(hour=15)  # 18:00 Moscow
    later = tick(sqlite_engine, settings, outbox, now=START.replace(hour=15))
    assert len(later.queued) == 5


def test_contacts_in_a_closed_zone_are_parked_until_their_window_opens(
    sqlite_engine: Engine, settings: Settings, outbox: Outbox
) -> None:
    own = CampaignOptions(window=Window(contact_timezone=True, hours=((9 * 60, 21 * 60),)))
    _, [moscow, vladivostok] = dialable_campaign(sqlite_engine, phones(2), options=own)
    with transaction(sqlite_engine) as session:
        session.execute(
            update(Contact).where(Contact.id == vladivostok).values(timezone="Asia/Vladivostok")
        )
    evening = START.replace(hour=12)  # 15:00 in Moscow, 22:00 in Vladivostok

    assert tick(sqlite_engine, settings, outbox, now=evening).queued == [moscow]

    with transaction(sqlite_engine) as session:
        parked = session.get_one(Contact, vladivostok)
        assert parked.status == ContactStatus.PENDING
        assert parked.next_attempt_at == START.replace(hour=23)  # 09:00 there


def test_lost_wakeups_are_sent_again(
    sqlite_engine: Engine, settings: Settings, outbox: Outbox
) -> None:
    dialable_campaign(sqlite_engine, phones(3))
    first = tick(sqlite_engine, settings, outbox)
    later = START + dt.timedelta(seconds=settings.stuck_after + 1)

    again = tick(sqlite_engine, settings, outbox, now=later)

    assert sorted(again.requeued) == sorted(first.queued)
    assert again.queued == []


def _taken_up(engine: Engine, contact_id: int, at: dt.datetime) -> None:
    """A worker took up the contact's wake-up at `at`: it is dialing, its attempt requested."""
    with transaction(engine) as session:
        contact = session.get_one(Contact, contact_id)
        contact.status = ContactStatus.DIALING
        session.add(
            Attempt(
                external_id=f"taken-{contact_id}",
                contact_id=contact_id,
                campaign_id=contact.campaign_id,
                method="start.informer_call",
                params={},
                requested_at=at,
            )
        )


def test_a_slow_drain_sends_no_duplicate_wakeups(
    sqlite_engine: Engine, settings: Settings, outbox: Outbox
) -> None:
    """Wake-ups waiting longer than `stuck_after` while the workers are still taking up those
    sent with them are on the broker, not lost: nothing is sent twice."""
    dialable_campaign(sqlite_engine, phones(4))
    first = tick(sqlite_engine, settings, outbox)
    later = START + dt.timedelta(seconds=settings.stuck_after + 1)
    # The workers have only now reached the first of them: the queue drains slowly.
    _taken_up(sqlite_engine, first.queued[0], later - dt.timedelta(seconds=1))

    again = tick(sqlite_engine, settings, outbox, now=later)
    much_later = tick(sqlite_engine, settings, outbox, now=later + dt.timedelta(seconds=30))

    assert again.requeued == []
    assert much_later.requeued == []
    assert sorted(outbox.wakeups) == sorted(first.queued)


def test_lost_wakeups_are_sent_again_while_newer_ones_are_taken_up(
    sqlite_engine: Engine, settings: Settings, outbox: Outbox
) -> None:
    """The broker lost the first wake-ups; those sent after the loss are taken up: the lost
    ones, older than those by more than wake-ups are ever taken up out of order, are sent
    again."""
    _, contact_ids = dialable_campaign(sqlite_engine, phones(4))
    first = tick(sqlite_engine, settings, outbox)
    newer = contact_ids[-1]
    assert newer in first.queued
    lost = [i for i in first.queued if i != newer]
    sent_later = START + dispatch.out_of_order(settings) + dt.timedelta(seconds=1)
    with transaction(sqlite_engine) as session:
        session.execute(update(Contact).where(Contact.id == newer).values(queued_at=sent_later))
    now = sent_later + dt.timedelta(seconds=1)
    _taken_up(sqlite_engine, newer, now)

    again = tick(sqlite_engine, settings, outbox, now=now)

    assert sorted(again.requeued) == sorted(lost)


def test_an_attempt_stuck_mid_request_is_sent_for_resolution(
    sqlite_engine: Engine, settings: Settings, outbox: Outbox
) -> None:
    campaign_id, [cid] = dialable_campaign(sqlite_engine, phones(1))
    with transaction(sqlite_engine) as session:
        session.execute(
            update(Contact).where(Contact.id == cid).values(status=ContactStatus.DIALING)
        )
        attempt = Attempt(
            external_id="stuck",
            contact_id=cid,
            campaign_id=campaign_id,
            method="start.informer_call",
            params={},
            requested_at=START,
        )
        session.add(attempt)
        session.flush()
        attempt_id = attempt.id

    soon = tick(sqlite_engine, settings, outbox, now=START + dt.timedelta(seconds=10))
    late = tick(sqlite_engine, settings, outbox, now=START + dt.timedelta(minutes=5))

    again = tick(sqlite_engine, settings, outbox, now=START + dt.timedelta(minutes=5, seconds=10))
    much_later = tick(sqlite_engine, settings, outbox, now=START + dt.timedelta(minutes=8))

    assert soon.stuck_attempts == []
    assert late.stuck_attempts == [attempt_id]
    assert again.stuck_attempts == []  # a look-up costs points: asked for once per stuck_after
    assert much_later.stuck_attempts == [attempt_id]  # the first look-up got lost too
    assert late.released == 0  # a request may be in flight: never simply redialed


def test_a_contact_left_dialing_between_tries_goes_back_to_pending(
    sqlite_engine: Engine, settings: Settings, outbox: Outbox
) -> None:
    _, [cid] = dialable_campaign(sqlite_engine, phones(1))
    with transaction(sqlite_engine) as session:
        session.execute(
            update(Contact)
            .where(Contact.id == cid)
            .values(status=ContactStatus.DIALING, updated_at=START)
        )

    result = tick(sqlite_engine, settings, outbox, now=START + dt.timedelta(minutes=5))

    assert result.released == 1
    assert result.queued == [cid]


def test_a_campaign_with_nobody_left_completes(
    sqlite_engine: Engine, settings: Settings, outbox: Outbox
) -> None:
    campaign_id, ids = dialable_campaign(sqlite_engine, phones(2))
    with transaction(sqlite_engine) as session:
        session.execute(
            update(Contact).where(Contact.id.in_(ids)).values(status=ContactStatus.PLACED)
        )

    assert tick(sqlite_engine, settings, outbox).completed == ["order-ready"]
    with transaction(sqlite_engine) as session:
        assert session.get_one(Campaign, campaign_id).state == CampaignState.COMPLETED


def test_a_spent_day_budget_idles_the_campaign_until_the_day_reset(
    sqlite_engine: Engine, settings: Settings, outbox: Outbox
) -> None:
    campaign_id, _ = dialable_campaign(sqlite_engine, phones(2))
    day_reset = START + dt.timedelta(hours=3)
    with transaction(sqlite_engine) as session:
        pacing.load(session, settings, START)
        session.execute(update(Budget).values(day_remaining=0, day_reset_at=day_reset))

    assert tick(sqlite_engine, settings, outbox).queued == []
    with transaction(sqlite_engine) as session:
        campaign = session.get_one(Campaign, campaign_id)
        assert (campaign.waiting_reason, campaign.waiting_until) == (
            "daily points limit reached",
            day_reset,
        )
    assert len(tick(sqlite_engine, settings, outbox, now=day_reset).queued) == 2


def test_paused_and_draft_campaigns_are_left_alone(
    sqlite_engine: Engine, settings: Settings, outbox: Outbox
) -> None:
    dialable_campaign(sqlite_engine, phones(2), state=CampaignState.PAUSED, name="paused")
    dialable_campaign(sqlite_engine, phones(2, start=10), state=CampaignState.DRAFT, name="draft")

    assert tick(sqlite_engine, settings, outbox).queued == []
