"""Calls and their outcomes together: the dispatcher, the dialing turn and the collector against
the simulator's two APIs, on one fake clock driven forward. Calls are counted from the simulator's
own record of the calls it created, never from our database."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter

import pytest
from sqlalchemy import Engine, select

from dialer import dialing, dispatch
from dialer.callreports import DataApiReports
from dialer.collector import collect
from dialer.config import Settings
from dialer.db import transaction
from dialer.dialing import Dialer
from dialer.dispositions import Disposition
from dialer.models import (
    Attempt,
    AttemptOutcome,
    Campaign,
    CampaignState,
    Contact,
    ContactStatus,
    ReportStatus,
)
from dialer.options import CampaignOptions, Retry
from dialer.simulator import CallOutcomes, Fault, Simulator
from dialer.simulator.account import ActiveCall
from tests.clock import Clock
from tests.unit.factories import dialable_campaign, phones

STEP = 5.0  # seconds the clock moves between passes
INTERVAL = 20.0  # the collector's DIALER_OUTCOMES_INTERVAL
TIMEOUT = 6 * 3600.0  # DIALER_OUTCOME_TIMEOUT
CALL_SECONDS = 30.0
REDIAL = 120.0
ROUNDS = 3
RETRY = Retry(rounds=ROUNDS, delays=(60.0,), busy=REDIAL, no_answer=REDIAL)

BUSY_THEN_ANSWERS, NEVER_ANSWERS, BAD_NUMBER = phones(3)


def scripted(**scripts: tuple[str, ...]) -> dict[str, object]:
    """Simulator config whose calls end as scripted per number, soon reported."""
    return {
        "call_duration": CALL_SECONDS,
        "outcomes": CallOutcomes(scripts=scripts, answer_after=3.0, report_delay=10.0),
    }


SCRIPTS = scripted(
    **{
        BUSY_THEN_ANSWERS: ("busy", "answered"),
        NEVER_ANSWERS: ("no_answer",),
        BAD_NUMBER: ("bad_number",),
    }
)


class World:
    """The dispatcher, the workers' turns and the collector, one pass each per step of the clock."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        dialer: Dialer,
        reports: DataApiReports,
        clock: Clock,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.dialer = dialer
        self.reports = reports
        self.clock = clock
        self.stuck: list[int] = []

    def step(self) -> None:
        """One dispatcher pass, every wake-up it sends dialed, one collector pass; then time on."""
        woken: list[int] = []
        dispatch.tick(self.engine, self.settings, woken.extend, self.stuck.extend, self.clock.utc())
        for contact_id in woken:
            dialing.place_call(self.dialer, contact_id)
        collect(self.engine, self.reports, self.clock.utc(), interval=INTERVAL, timeout=TIMEOUT)
        self.clock.advance(STEP)

    def run(self, campaign_id: int, seconds: float = 3600.0) -> CampaignState:
        """Step until the campaign is no longer running (or `seconds` have passed)."""
        deadline = self.clock.utc() + dt.timedelta(seconds=seconds)
        while self.clock.utc() < deadline:
            self.step()
            state = campaign(self.engine, campaign_id).state
            if state != CampaignState.RUNNING:
                return state
        return campaign(self.engine, campaign_id).state


@pytest.fixture
def world(
    sqlite_engine: Engine,
    settings: Settings,
    dialer: Dialer,
    reports: DataApiReports,
    clock: Clock,
) -> World:
    """The whole engine on the test's clock."""
    return World(sqlite_engine, settings, dialer, reports, clock)


def campaign(engine: Engine, campaign_id: int) -> Campaign:
    with transaction(engine) as session:
        return session.get_one(Campaign, campaign_id)


def contact(engine: Engine, contact_id: int) -> Contact:
    with transaction(engine) as session:
        return session.get_one(Contact, contact_id)


def attempts(engine: Engine, contact_id: int) -> list[Attempt]:
    with transaction(engine) as session:
        query = select(Attempt).where(Attempt.contact_id == contact_id).order_by(Attempt.id)
        return list(session.scalars(query))


def calls_to(simulator: Simulator, phone: str) -> list[ActiveCall]:
    """The calls the simulator created to `phone`, in order."""
    return [c for c in simulator.calls() if c.contact_phone_number == phone]


def start_requests(simulator: Simulator) -> Counter[str]:
    """start.* requests the simulator received, by contact number."""
    return Counter(
        entry.params["contact"]
        for entry in simulator.request_log()
        if entry.method is not None and entry.method.startswith("start.")
    )


def cut_requests(simulator: Simulator) -> int:
    """start.* requests whose connection the simulator cut after creating the call."""
    return sum(1 for e in simulator.request_log() if e.fault == Fault.CUT_AFTER_CREATE)


def options(retry: Retry = RETRY) -> CampaignOptions:
    return CampaignOptions(retry=retry)


@pytest.mark.simulator(**SCRIPTS)
def test_busy_then_answered_is_called_twice_and_ends_answered(
    world: World, sqlite_engine: Engine, simulator: Simulator
) -> None:
    campaign_id, [cid] = dialable_campaign(sqlite_engine, [BUSY_THEN_ANSWERS], options=options())

    assert world.run(campaign_id) == CampaignState.COMPLETED

    made = calls_to(simulator, BUSY_THEN_ANSWERS)
    assert [c.ending.outcome for c in made if c.ending] == ["busy", "answered"]
    assert start_requests(simulator)[BUSY_THEN_ANSWERS] == 2
    assert contact(sqlite_engine, cid).status == ContactStatus.ANSWERED
    first, second = attempts(sqlite_engine, cid)
    assert (first.disposition, second.disposition) == (Disposition.BUSY, Disposition.ANSWERED)
    assert [first.call_session_id, second.call_session_id] == [c.call_session_id for c in made]
    assert first.external_id != second.external_id
    assert second.call_answered is True
    assert second.listened_seconds == CALL_SECONDS - 3.0


@pytest.mark.simulator(**SCRIPTS)
def test_never_answered_is_called_every_round_and_ends_not_answered(
    world: World, sqlite_engine: Engine, simulator: Simulator
) -> None:
    campaign_id, [cid] = dialable_campaign(sqlite_engine, [NEVER_ANSWERS], options=options())

    assert world.run(campaign_id) == CampaignState.COMPLETED

    assert len(calls_to(simulator, NEVER_ANSWERS)) == ROUNDS
    assert start_requests(simulator)[NEVER_ANSWERS] == ROUNDS
    ended = contact(sqlite_engine, cid)
    assert (ended.status, ended.rounds) == (ContactStatus.NOT_ANSWERED, ROUNDS)
    assert {a.disposition for a in attempts(sqlite_engine, cid)} == {Disposition.NO_ANSWER}


@pytest.mark.simulator(**SCRIPTS)
def test_a_bad_number_is_called_once_and_fails(
    world: World, sqlite_engine: Engine, simulator: Simulator
) -> None:
    campaign_id, [cid] = dialable_campaign(sqlite_engine, [BAD_NUMBER], options=options())

    assert world.run(campaign_id) == CampaignState.COMPLETED

    assert len(calls_to(simulator, BAD_NUMBER)) == 1
    assert start_requests(simulator)[BAD_NUMBER] == 1
    failed = contact(sqlite_engine, cid)
    assert failed.status == ContactStatus.FAILED
    assert failed.error_mnemonic == "subscriber_number_problems"
    [attempt] = attempts(sqlite_engine, cid)
    assert attempt.disposition == Disposition.BAD_NUMBER


@pytest.mark.simulator(**SCRIPTS)
def test_a_redial_never_starts_before_the_previous_call_has_ended(
    world: World, sqlite_engine: Engine, simulator: Simulator
) -> None:
    numbers = [BUSY_THEN_ANSWERS, NEVER_ANSWERS, BAD_NUMBER]
    # Redial as soon as allowed: only the call's known end may hold the next one back.
    eager = Retry(rounds=ROUNDS, delays=(0.0,), busy=0.0, no_answer=0.0)
    campaign_id, _ = dialable_campaign(sqlite_engine, numbers, options=options(eager))

    assert world.run(campaign_id) == CampaignState.COMPLETED

    for number in numbers:
        made = calls_to(simulator, number)
        for previous, redial in itertools.pairwise(made):
            assert redial.started >= previous.ends_at, number
    assert len(calls_to(simulator, NEVER_ANSWERS)) == ROUNDS  # the redials did happen


@pytest.mark.simulator(**scripted(**{BUSY_THEN_ANSWERS: ("answered",)}))
def test_a_cut_connection_whose_call_exists_ends_with_the_calls_outcome(
    world: World, sqlite_engine: Engine, simulator: Simulator
) -> None:
    campaign_id, [cid] = dialable_campaign(sqlite_engine, [BUSY_THEN_ANSWERS], options=options())
    simulator.inject(Fault.CUT_AFTER_CREATE)

    assert world.run(campaign_id) == CampaignState.COMPLETED

    assert cut_requests(simulator) == 1
    [made] = calls_to(simulator, BUSY_THEN_ANSWERS)
    assert contact(sqlite_engine, cid).status == ContactStatus.ANSWERED
    [attempt] = attempts(sqlite_engine, cid)
    assert attempt.call_session_id == made.call_session_id
    assert (attempt.report_status, attempt.disposition) == (
        ReportStatus.FOUND,
        Disposition.ANSWERED,
    )


@pytest.mark.simulator(**scripted(**{BUSY_THEN_ANSWERS: ("answered",)}))
def test_an_unknown_attempt_is_settled_by_the_report(
    world: World, sqlite_engine: Engine, simulator: Simulator
) -> None:
    campaign_id, [cid] = dialable_campaign(sqlite_engine, [BUSY_THEN_ANSWERS], options=options())
    simulator.inject(Fault.CUT_AFTER_CREATE)
    # list.calls cannot confirm the call: the contact is left `unknown` until the report speaks.
    simulator.inject(Fault.HTTP_5XX, times=1_000, method="list.calls")

    world.step()
    assert cut_requests(simulator) == 1
    assert contact(sqlite_engine, cid).status == ContactStatus.UNKNOWN
    assert world.run(campaign_id) == CampaignState.COMPLETED

    [made] = calls_to(simulator, BUSY_THEN_ANSWERS)
    assert contact(sqlite_engine, cid).status == ContactStatus.ANSWERED
    [attempt] = attempts(sqlite_engine, cid)
    assert (attempt.outcome, attempt.call_session_id) == (
        AttemptOutcome.PLACED,
        made.call_session_id,
    )
    assert attempt.disposition == Disposition.ANSWERED


@pytest.mark.simulator(**scripted(**{BUSY_THEN_ANSWERS: ("campaign_error", "answered")}))
def test_a_campaign_error_pauses_the_campaign_and_the_contact_waits(
    world: World, sqlite_engine: Engine, simulator: Simulator, clock: Clock
) -> None:
    campaign_id, [cid] = dialable_campaign(sqlite_engine, [BUSY_THEN_ANSWERS], options=options())

    assert world.run(campaign_id) == CampaignState.PAUSED

    paused = campaign(sqlite_engine, campaign_id)
    assert "not_enough_money" in (paused.pause_reason or "")
    waiting = contact(sqlite_engine, cid)
    assert (waiting.status, waiting.rounds) == (ContactStatus.PENDING, 0)  # its round given back
    for _ in range(60):  # well past the redial delay
        world.step()
    assert len(calls_to(simulator, BUSY_THEN_ANSWERS)) == 1  # nothing dialed while paused
    assert contact(sqlite_engine, cid).status == ContactStatus.PENDING


@pytest.mark.simulator(**SCRIPTS, data_api_refusal="ip_not_whitelisted")
def test_without_report_access_calls_go_on_and_outcomes_stay_unknown(
    world: World, sqlite_engine: Engine, simulator: Simulator
) -> None:
    numbers = [BUSY_THEN_ANSWERS, NEVER_ANSWERS, BAD_NUMBER]
    campaign_id, ids = dialable_campaign(sqlite_engine, numbers, options=options())

    assert world.run(campaign_id) == CampaignState.COMPLETED

    assert sorted(start_requests(simulator).elements()) == sorted(numbers)  # each called once
    for cid in ids:
        assert contact(sqlite_engine, cid).status == ContactStatus.PLACED
        [attempt] = attempts(sqlite_engine, cid)
        assert (attempt.report_status, attempt.disposition) == (ReportStatus.EXPIRED, None)
