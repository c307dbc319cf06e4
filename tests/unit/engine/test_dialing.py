"""One contact's turn against the simulator: every branch of the state machine."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, event, select, update
from sqlalchemy.exc import OperationalError

from dialer import dialing, pacing, retry
from dialer.db import transaction
from dialer.dialing import Dialer
from dialer.models import (
    Attempt,
    AttemptOutcome,
    BlacklistEntry,
    BlacklistSource,
    Budget,
    Campaign,
    CampaignState,
    Contact,
    ContactStatus,
)
from dialer.options import CampaignOptions, Retry, Window
from dialer.simulator import Fault, Simulator
from tests.clock import Clock
from tests.unit.engine.conftest import MakeSimulator
from tests.unit.factories import dialable_campaign, phones
from tests.unit.factories import queue_contacts as queue


def contact(engine: Engine, contact_id: int) -> Contact:
    with transaction(engine) as session:
        return session.get_one(Contact, contact_id)


def attempts(engine: Engine, contact_id: int) -> list[Attempt]:
    with transaction(engine) as session:
        return list(
            session.scalars(
                select(Attempt).where(Attempt.contact_id == contact_id).order_by(Attempt.id)
            )
        )


def campaign(engine: Engine, campaign_id: int) -> Campaign:
    with transaction(engine) as session:
        return session.get_one(Campaign, campaign_id)


def test_a_queued_contact_is_placed_and_its_attempt_recorded(
    dialer: Dialer, sqlite_engine: Engine, simulator: Simulator
) -> None:
    _, [cid] = dialable_campaign(sqlite_engine, phones(1))
    queue(sqlite_engine, cid)

    outcome = dialing.place_call(dialer, cid)

    assert outcome.status == "placed"
    placed = contact(sqlite_engine, cid)
    assert (placed.status, placed.requests, placed.rounds) == (ContactStatus.PLACED, 1, 1)
    [attempt] = attempts(sqlite_engine, cid)
    assert attempt.outcome == AttemptOutcome.PLACED
    assert attempt.external_id.startswith(f"dialer-{cid}-1-")
    [active] = simulator.active_calls()
    assert (active.external_id, active.call_session_id) == (
        attempt.external_id,
        attempt.call_session_id,
    )
    assert attempt.limits is not None
    assert attempt.limits["minute_remaining"] == 9
    assert attempt.params["contact_message"]["value"] == "Здравствуйте, Клиент 0!"
    assert "access_token" not in attempt.params


def test_a_duplicate_or_stale_wakeup_sends_nothing(
    dialer: Dialer, sqlite_engine: Engine, simulator: Simulator
) -> None:
    _, [queued, pending] = dialable_campaign(sqlite_engine, phones(2))
    queue(sqlite_engine, queued)

    first = dialing.place_call(dialer, queued)
    again = dialing.place_call(dialer, queued)
    never_queued = dialing.place_call(dialer, pending)

    assert (first.status, again.status, never_queued.status) == ("placed", "skipped", "skipped")
    assert simulator.stats().requests == 1
    assert contact(sqlite_engine, pending).status == ContactStatus.PENDING


def test_the_local_blacklist_is_checked_right_before_the_request(
    dialer: Dialer, sqlite_engine: Engine, simulator: Simulator
) -> None:
    _, [cid] = dialable_campaign(sqlite_engine, phones(1))
    queue(sqlite_engine, cid)
    with transaction(sqlite_engine) as session:
        session.add(BlacklistEntry(phone=phones(1)[0], source=BlacklistSource.MANUAL))

    assert dialing.place_call(dialer, cid).status == "blacklisted"
    assert contact(sqlite_engine, cid).status == ContactStatus.BLACKLISTED
    assert simulator.stats().requests == 0
    assert attempts(sqlite_engine, cid) == []


@pytest.mark.simulator(blacklist=frozenset(phones(1)))
def test_a_provider_blacklist_answer_ends_the_contact_and_fills_the_local_blacklist(
    sqlite_engine: Engine, dialer: Dialer
) -> None:
    number = phones(1)[0]
    _, [cid] = dialable_campaign(sqlite_engine, [number])
    queue(sqlite_engine, cid)

    assert dialing.place_call(dialer, cid).status == "blacklisted"

    [attempt] = attempts(sqlite_engine, cid)
    assert (attempt.outcome, attempt.error_mnemonic) == (
        AttemptOutcome.BLACKLISTED,
        "contact_in_blacklist",
    )
    with transaction(sqlite_engine) as session:
        entry = session.get_one(BlacklistEntry, number)
        assert entry.source == BlacklistSource.PROVIDER
        budget = session.scalars(select(Budget)).one()
        # The provider charged nothing, so neither do we.
        assert budget.minute_remaining == 10


def test_a_transient_error_is_retried_with_a_new_attempt(
    dialer: Dialer, sqlite_engine: Engine, simulator: Simulator
) -> None:
    _, [cid] = dialable_campaign(sqlite_engine, phones(1))
    queue(sqlite_engine, cid)
    simulator.inject(Fault.INTERNAL, times=1)

    assert dialing.place_call(dialer, cid).status == "placed"

    first, second = attempts(sqlite_engine, cid)
    assert (first.outcome, first.error_mnemonic) == (AttemptOutcome.TRANSIENT, "internal_error")
    assert second.outcome == AttemptOutcome.PLACED
    assert first.external_id != second.external_id
    assert contact(sqlite_engine, cid).requests == 2


def test_transient_errors_past_the_policy_reschedule_then_fail_the_contact(
    dialer: Dialer, sqlite_engine: Engine, simulator: Simulator, clock: Clock
) -> None:
    _, [cid] = dialable_campaign(sqlite_engine, phones(1))
    queue(sqlite_engine, cid)
    simulator.inject(Fault.INTERNAL, times=100)

    assert dialing.place_call(dialer, cid).status == "pending"
    rescheduled = contact(sqlite_engine, cid)
    assert rescheduled.rounds == 1
    assert rescheduled.next_attempt_at == clock.utc() + dt.timedelta(seconds=60)
    assert len(attempts(sqlite_engine, cid)) == dialer.settings.transient_attempts

    queue(sqlite_engine, cid)
    assert dialing.place_call(dialer, cid).status == "failed"
    failed = contact(sqlite_engine, cid)
    assert (failed.status, failed.rounds) == (ContactStatus.FAILED, 2)
    assert failed.error_mnemonic == "internal_error"


def test_a_connection_cut_after_the_call_was_created_is_confirmed_by_lookup(
    dialer: Dialer, sqlite_engine: Engine, simulator: Simulator
) -> None:
    _, [cid] = dialable_campaign(sqlite_engine, phones(1))
    queue(sqlite_engine, cid)
    simulator.inject(Fault.CUT_AFTER_CREATE, times=1)

    assert dialing.place_call(dialer, cid).status == "placed"

    [attempt] = attempts(sqlite_engine, cid)
    [active] = simulator.active_calls()
    assert attempt.outcome == AttemptOutcome.PLACED
    assert attempt.call_session_id == active.call_session_id
    assert simulator.stats().calls_placed == 1  # looked up, never redialed


def test_an_unconfirmable_call_becomes_unknown_and_is_not_redialed(
    dialer: Dialer, sqlite_engine: Engine, simulator: Simulator
) -> None:
    _, [cid] = dialable_campaign(sqlite_engine, phones(1))
    queue(sqlite_engine, cid)
    simulator.inject(Fault.CUT_AFTER_CREATE, times=1)
    simulator.inject(Fault.HTTP_5XX, times=100, method="list.calls")

    assert dialing.place_call(dialer, cid).status == "unknown"

    unknown = contact(sqlite_engine, cid)
    [attempt] = attempts(sqlite_engine, cid)
    assert (unknown.status, attempt.outcome) == (ContactStatus.UNKNOWN, AttemptOutcome.UNKNOWN)
    assert simulator.stats().calls_placed == 1
    assert dialing.place_call(dialer, cid).status == "skipped"


def test_limit_exceeded_costs_no_attempt_and_waits_for_the_reset(
    make_simulator: MakeSimulator,
    sqlite_engine: Engine,
    dialer: Dialer,
    simulator: Simulator,
    clock: Clock,
) -> None:
    _, ids = dialable_campaign(sqlite_engine, phones(11))
    queue(sqlite_engine, *ids)
    for cid in ids[:10]:
        assert dialing.place_call(dialer, cid).status == "placed"
    # Someone else on the account spends the budget behind our back: the provider refuses.
    with transaction(sqlite_engine) as session:
        session.execute(update(Budget).values(minute_remaining=5))

    assert dialing.place_call(dialer, ids[10]).status == "rate limited"

    waiting = contact(sqlite_engine, ids[10])
    assert (waiting.status, waiting.requests, waiting.rounds) == (ContactStatus.PENDING, 0, 0)
    assert waiting.next_attempt_at is not None
    assert waiting.next_attempt_at > clock.utc()
    with transaction(sqlite_engine) as session:
        assert session.scalars(select(Budget)).one().minute_remaining == 0


def test_an_exhausted_budget_hands_the_contact_back_until_the_reset(
    dialer: Dialer, sqlite_engine: Engine, simulator: Simulator, clock: Clock
) -> None:
    _, [cid] = dialable_campaign(sqlite_engine, phones(1))
    queue(sqlite_engine, cid)
    reset_at = clock.utc() + dt.timedelta(seconds=50)
    with transaction(sqlite_engine) as session:
        pacing.load(session, dialer.settings, clock.utc())
        session.execute(update(Budget).values(minute_remaining=0, minute_reset_at=reset_at))

    assert dialing.place_call(dialer, cid).status == "waiting for the minute budget"

    assert simulator.stats().requests == 0
    waiting = contact(sqlite_engine, cid)
    assert (waiting.status, waiting.next_attempt_at) == (ContactStatus.PENDING, reset_at)


def test_a_reset_moments_away_is_waited_for_in_place(
    dialer: Dialer, sqlite_engine: Engine, clock: Clock
) -> None:
    _, [cid] = dialable_campaign(sqlite_engine, phones(1))
    queue(sqlite_engine, cid)
    start = clock.utc()
    with transaction(sqlite_engine) as session:
        pacing.load(session, dialer.settings, clock.utc())
        session.execute(
            update(Budget).values(
                minute_remaining=0, minute_reset_at=start + dt.timedelta(seconds=1)
            )
        )

    assert dialing.place_call(dialer, cid).status == "placed"
    assert clock.utc() >= start + dt.timedelta(seconds=1)


def five_second_windows(dialer: Dialer, engine: Engine, clock: Clock) -> Dialer:
    """The test's dialer, on an account whose windows last 5 seconds."""
    settings = dialer.settings.model_copy(update={"window_seconds_guess": 5.0})
    return Dialer(settings, engine, dialer.client, now=clock.utc, sleep=clock.sleep)


def run_dry_until(engine: Engine, dialer: Dialer, reset_at: dt.datetime) -> None:
    """The budget row has no points left until `reset_at`."""
    with transaction(engine) as session:
        pacing.load(session, dialer.settings, dialer.now())
        session.execute(update(Budget).values(minute_remaining=0, minute_reset_at=reset_at))


def test_with_short_windows_a_reset_a_whole_window_away_is_waited_for_in_place(
    dialer: Dialer, sqlite_engine: Engine, simulator: Simulator, clock: Clock
) -> None:
    # The row ran dry early in a 5-second window: the reset is further than `max_inline_wait`,
    # yet handing the wake-up back would only send the window's last wake-ups away from the
    # processes whose leases still hold points.
    short = five_second_windows(dialer, sqlite_engine, clock)
    _, [cid] = dialable_campaign(sqlite_engine, phones(1))
    queue(sqlite_engine, cid)
    start = clock.utc()
    reset_at = start + dt.timedelta(seconds=4.5)
    run_dry_until(sqlite_engine, short, reset_at)

    assert short.max_inline_wait < 4.5
    assert dialing.place_call(short, cid).status == "placed"

    assert clock.utc() >= reset_at
    assert contact(sqlite_engine, cid).next_attempt_at is None  # never handed back
    assert simulator.stats().requests == 1


def test_with_short_windows_a_reset_beyond_the_window_still_hands_the_contact_back(
    dialer: Dialer, sqlite_engine: Engine, simulator: Simulator, clock: Clock
) -> None:
    short = five_second_windows(dialer, sqlite_engine, clock)
    _, [cid] = dialable_campaign(sqlite_engine, phones(1))
    queue(sqlite_engine, cid)
    start = clock.utc()
    reset_at = start + dt.timedelta(seconds=50)  # the day's reset, say: not the window's
    run_dry_until(sqlite_engine, short, reset_at)

    assert dialing.place_call(short, cid).status == "waiting for the minute budget"

    assert clock.utc() == start
    assert simulator.stats().requests == 0
    waiting = contact(sqlite_engine, cid)
    assert (waiting.status, waiting.next_attempt_at) == (ContactStatus.PENDING, reset_at)


def test_a_campaign_fatal_error_pauses_the_campaign_and_loses_nothing(
    dialer: Dialer, sqlite_engine: Engine
) -> None:
    campaign_id, [cid] = dialable_campaign(sqlite_engine, phones(1))
    with transaction(sqlite_engine) as session:
        session.get_one(Campaign, campaign_id).params = {
            "virtual_phone_number": "74990000000",
            "contact_message": {"type": "tts", "value": "x"},
            "direction": "out",
        }
    queue(sqlite_engine, cid)

    assert dialing.place_call(dialer, cid).status == "campaign paused"

    paused = campaign(sqlite_engine, campaign_id)
    assert paused.state == CampaignState.PAUSED
    assert paused.pause_reason is not None
    assert paused.pause_reason.startswith("virtual_phone_number_not_found")
    back = contact(sqlite_engine, cid)
    assert (back.status, back.requests, back.rounds) == (ContactStatus.PENDING, 0, 0)


def test_a_contact_error_fails_only_that_contact(dialer: Dialer, sqlite_engine: Engine) -> None:
    campaign_id, [cid] = dialable_campaign(
        sqlite_engine, ["74951045771"]
    )  # the account's own number
    queue(sqlite_engine, cid)

    assert dialing.place_call(dialer, cid).status == "failed"

    failed = contact(sqlite_engine, cid)
    assert (failed.status, failed.error_mnemonic) == (
        ContactStatus.FAILED,
        "own_virtual_phone_number_not_allowed",
    )
    assert campaign(sqlite_engine, campaign_id).state == CampaignState.RUNNING


def test_outside_the_calling_window_the_contact_waits_for_the_opening(
    dialer: Dialer, sqlite_engine: Engine, simulator: Simulator, clock: Clock
) -> None:
    night = CampaignOptions(window=Window(hours=((21 * 60, 22 * 60),)))
    _, [cid] = dialable_campaign(sqlite_engine, phones(1), options=night)
    queue(sqlite_engine, cid)

    assert dialing.place_call(dialer, cid).status == "outside calling window"

    waiting = contact(sqlite_engine, cid)
    assert waiting.status == ContactStatus.PENDING
    # 12:00 in Moscow now; the window opens at 21:00 Moscow = 18:00 UTC the same day.
    assert waiting.next_attempt_at == clock.utc().replace(hour=18)
    assert simulator.stats().requests == 0


def test_a_paused_campaign_sends_nothing(dialer: Dialer, sqlite_engine: Engine) -> None:
    _, [cid] = dialable_campaign(sqlite_engine, phones(1), state=CampaignState.PAUSED)
    queue(sqlite_engine, cid)

    assert dialing.place_call(dialer, cid).status == "campaign not running"
    assert contact(sqlite_engine, cid).status == ContactStatus.PENDING


def test_a_missing_template_column_fails_the_contact_before_any_request(
    dialer: Dialer, sqlite_engine: Engine, simulator: Simulator
) -> None:
    _, [cid] = dialable_campaign(sqlite_engine, phones(1), text="Заказ {order}")
    queue(sqlite_engine, cid)

    assert dialing.place_call(dialer, cid).status == "failed"
    assert contact(sqlite_engine, cid).error_message is not None
    assert simulator.stats().requests == 0


def test_an_attempt_left_by_a_dead_worker_is_resolved_by_lookup(
    dialer: Dialer, sqlite_engine: Engine, simulator: Simulator
) -> None:
    _, [cid, other] = dialable_campaign(
        sqlite_engine, phones(2), options=CampaignOptions(retry=Retry())
    )
    queue(sqlite_engine, cid, other)
    # The worker commits its attempt, sends the request, and dies before recording the answer.
    ticket = dialing._begin(dialer, cid, ContactStatus.QUEUED)
    assert isinstance(ticket, dialing.Ticket)
    dialer.client.start_call(ticket.method, ticket.params)
    # Another one dies before its request left.
    lost = dialing._begin(dialer, other, ContactStatus.QUEUED)
    assert isinstance(lost, dialing.Ticket)

    assert dialing.resolve_attempt(dialer, ticket.attempt_id) == "placed"
    assert dialing.resolve_attempt(dialer, lost.attempt_id) == "unknown"
    assert dialing.resolve_attempt(dialer, lost.attempt_id) == "already settled"
    assert contact(sqlite_engine, cid).status == ContactStatus.PLACED
    assert contact(sqlite_engine, other).status == ContactStatus.UNKNOWN
    assert simulator.stats().calls_placed == 1


_RECORDS_AN_ANSWER = re.compile(r"\bUPDATE attempts\b", re.IGNORECASE)


@contextmanager
def database_away_for(engine: Engine, records: int) -> Iterator[None]:
    """The database fails the next `records` statements that record an answer, as a restarting
    server does (the statement is not applied)."""
    left = [records]

    def refuse(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if left[0] and _RECORDS_AN_ANSWER.search(statement):
            left[0] -= 1
            raise OperationalError(statement, {}, Exception("server closed the connection"))

    event.listen(engine, "before_cursor_execute", refuse)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", refuse)


def test_an_answer_met_by_a_database_outage_is_recorded_when_it_is_back(
    dialer: Dialer, sqlite_engine: Engine, simulator: Simulator
) -> None:
    _, [cid] = dialable_campaign(sqlite_engine, phones(1))
    queue(sqlite_engine, cid)

    with database_away_for(sqlite_engine, 3):
        assert dialing.place_call(dialer, cid).status == "placed"

    [attempt] = attempts(sqlite_engine, cid)
    [active] = simulator.active_calls()
    assert (attempt.outcome, attempt.call_session_id) == (
        AttemptOutcome.PLACED,
        active.call_session_id,
    )
    assert contact(sqlite_engine, cid).status == ContactStatus.PLACED


@pytest.mark.simulator(blacklist=frozenset(phones(1)))
def test_a_refusal_met_by_a_database_outage_is_recorded_not_left_to_a_lookup(
    dialer: Dialer, sqlite_engine: Engine, simulator: Simulator
) -> None:
    # No call exists to be looked up: left to the reconciler, the contact would end `unknown`.
    _, [cid] = dialable_campaign(sqlite_engine, phones(1))
    queue(sqlite_engine, cid)

    with database_away_for(sqlite_engine, 3):
        assert dialing.place_call(dialer, cid).status == "blacklisted"

    [attempt] = attempts(sqlite_engine, cid)
    assert attempt.outcome == AttemptOutcome.BLACKLISTED
    assert contact(sqlite_engine, cid).status == ContactStatus.BLACKLISTED
    assert simulator.stats().requests == 1


# The waits through the outage move the test's clock by up to a minute: the call is still on.
@pytest.mark.simulator(call_duration=600.0)
def test_an_outage_past_the_bound_leaves_the_attempt_to_the_reconciler(
    dialer: Dialer, sqlite_engine: Engine, simulator: Simulator
) -> None:
    _, [cid] = dialable_campaign(sqlite_engine, phones(1))
    queue(sqlite_engine, cid)

    with database_away_for(sqlite_engine, retry.RECORD_ATTEMPTS), pytest.raises(OperationalError):
        dialing.place_call(dialer, cid)

    [attempt] = attempts(sqlite_engine, cid)
    assert attempt.outcome == AttemptOutcome.REQUESTING
    assert contact(sqlite_engine, cid).status == ContactStatus.DIALING
    # The database is back: the reconciler's look-up finds the call, which was made once.
    assert dialing.resolve_attempt(dialer, attempt.id) == "placed"
    assert contact(sqlite_engine, cid).status == ContactStatus.PLACED
    assert simulator.stats().calls_placed == 1
