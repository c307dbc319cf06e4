"""Campaign control: which transitions are allowed and what they do to contacts."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select, update

from dialer import lifecycle
from dialer.campaigns import CampaignError
from dialer.db import transaction
from dialer.models import Campaign, CampaignState, Contact, ContactStatus
from tests.unit.factories import dialable_campaign, phones


def set_statuses(engine: Engine, ids: list[int], status: ContactStatus) -> None:
    with transaction(engine) as session:
        session.execute(update(Contact).where(Contact.id.in_(ids)).values(status=status))


def counts(engine: Engine) -> dict[str, int]:
    with transaction(engine) as session:
        rows = session.execute(select(Contact.status, func.count()).group_by(Contact.status))
        return {str(s): n for s, n in rows}


def state(engine: Engine) -> tuple[CampaignState, str | None]:
    with transaction(engine) as session:
        campaign = session.scalars(select(Campaign)).one()
        return campaign.state, campaign.pause_reason


def test_start_pause_resume(sqlite_engine: Engine) -> None:
    _, ids = dialable_campaign(sqlite_engine, phones(3), state=CampaignState.DRAFT)
    with transaction(sqlite_engine) as session:
        assert lifecycle.start(session, "order-ready").started_at is not None
    set_statuses(sqlite_engine, ids[:2], ContactStatus.QUEUED)

    with transaction(sqlite_engine) as session:
        lifecycle.pause(session, "order-ready")
    # Wake-ups still on the broker will find their contacts pending and do nothing.
    assert counts(sqlite_engine) == {"pending": 3}
    assert state(sqlite_engine) == (CampaignState.PAUSED, "paused by an operator")

    with transaction(sqlite_engine) as session:
        lifecycle.resume(session, "order-ready")
    assert state(sqlite_engine) == (CampaignState.RUNNING, None)


def test_cancel_marks_what_was_never_dialed(sqlite_engine: Engine) -> None:
    _, ids = dialable_campaign(sqlite_engine, phones(4))
    set_statuses(sqlite_engine, ids[:1], ContactStatus.PLACED)
    set_statuses(sqlite_engine, ids[1:2], ContactStatus.DIALING)
    set_statuses(sqlite_engine, ids[2:3], ContactStatus.QUEUED)

    with transaction(sqlite_engine) as session:
        lifecycle.cancel(session, "order-ready")

    assert counts(sqlite_engine) == {"placed": 1, "dialing": 1, "cancelled": 2}
    with transaction(sqlite_engine) as session, pytest.raises(CampaignError):
        lifecycle.start(session, "order-ready")


def test_requeue_sends_unknown_contacts_back(sqlite_engine: Engine) -> None:
    _, ids = dialable_campaign(sqlite_engine, phones(3), state=CampaignState.COMPLETED)
    set_statuses(sqlite_engine, ids[:2], ContactStatus.UNKNOWN)
    set_statuses(sqlite_engine, ids[2:], ContactStatus.PLACED)

    with transaction(sqlite_engine) as session:
        assert lifecycle.requeue(session, "order-ready", [ContactStatus.UNKNOWN]) == 2

    assert counts(sqlite_engine) == {"pending": 2, "placed": 1}
    assert state(sqlite_engine)[0] == CampaignState.PAUSED
    with transaction(sqlite_engine) as session, pytest.raises(CampaignError):
        lifecycle.requeue(session, "order-ready", [ContactStatus.PLACED])


@pytest.mark.parametrize(
    ("initial", "action"),
    [
        (CampaignState.DRAFT, lifecycle.pause),
        (CampaignState.RUNNING, lifecycle.resume),
        (CampaignState.COMPLETED, lifecycle.cancel),
    ],
)
def test_transitions_that_make_no_sense_are_refused(
    sqlite_engine: Engine, initial: CampaignState, action: object
) -> None:
    dialable_campaign(sqlite_engine, phones(1), state=initial)
    with transaction(sqlite_engine) as session, pytest.raises(CampaignError):
        action(session, "order-ready")  # type: ignore[operator]


def test_an_unknown_campaign_is_a_clear_error(sqlite_engine: Engine) -> None:
    with transaction(sqlite_engine) as session, pytest.raises(CampaignError, match="nope"):
        lifecycle.start(session, "nope")
