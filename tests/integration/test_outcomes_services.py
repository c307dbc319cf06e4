"""Call outcomes for real: PostgreSQL, Redis, three worker processes and two dispatcher processes,
each of which also runs the outcome collector, over a few hundred contacts whose calls end as
scripted or at random. Every outcome is checked against the simulator's own record of how each
call ended: written once, never lost, and each result redialed exactly as the campaign allows."""

from __future__ import annotations

import collections
import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from dialer.models import Attempt, ReportStatus
from dialer.simulator import CallOutcomes, FakeCallApi
from dialer.simulator.account import ActiveCall
from tests.integration.engine_harness import (
    CAMPAIGN_NAME,
    REDIS,
    EngineRun,
    engine_run,
    phones,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

ROUNDS = 3
CAMPAIGN = f"""\
name = "{CAMPAIGN_NAME}"
method = "start.informer_call"

[params]
virtual_phone_number = "74993720692"
direction = "out"
contact_message = {{ type = "tts", value = "Здравствуйте, {{name}}!" }}

[retry]
attempts = {ROUNDS}
delays = ["1s"]
busy = "1s"
no_answer = "1s"
"""
REDIALED = frozenset({"busy", "no_answer"})
FINAL_STATUS = {
    "answered": "answered",
    "busy": "not_answered",
    "no_answer": "not_answered",
    "bad_number": "failed",
}
# Scripted numbers (how their calls end, in order, the last repeating) and how many of each.
SCRIPTS: Sequence[tuple[tuple[str, ...], int]] = (
    (("busy", "answered"), 20),
    (("no_answer",), 15),
    (("bad_number",), 10),
    (("busy", "no_answer", "answered"), 10),
    (("busy", "busy", "busy", "answered"), 10),
)
SCRIPTED = sum(count for _, count in SCRIPTS)
RANDOM = 135  # contacts whose calls end as drawn from the shares


def calls_allowed(results: Sequence[str], *, last_repeats: bool = False) -> int:
    """How many calls the campaign makes to a contact whose calls end with `results`, in order;
    past them the last result repeats (a script), or no call was made (the simulator's record)."""

    def result(n: int) -> str:
        if n < len(results):
            return results[n]
        return results[-1] if last_repeats else "no call"

    made = 1
    while made < ROUNDS and result(made - 1) in REDIALED:
        made += 1
    return made


@pytest.fixture
def run(tmp_path: Path) -> Iterator[EngineRun]:
    """The engine with outcome collection on, every 0.5 s, against short calls soon reported."""
    scripted = dict(zip(phones(SCRIPTED), _expanded_scripts(), strict=True))
    outcomes = CallOutcomes(
        shares={"answered": 0.6, "no_answer": 0.2, "busy": 0.1, "bad_number": 0.1},
        scripts=scripted,
        answer_after=0.3,
        report_delay=0.5,
        spelling="mixed",
    )
    api = FakeCallApi(
        minute_limit=15, window_seconds=1.0, call_duration=1.0, outcomes=outcomes, seed=11
    )
    # A wake-up waits its turn behind a few seconds' budget on a busy machine: not lost yet.
    extra = {
        "DIALER_OUTCOMES": "on",
        "DIALER_OUTCOMES_INTERVAL": "0.5",
        "DIALER_STUCK_AFTER": "15",
    }
    with engine_run(tmp_path, REDIS, api, extra_env=extra) as started:
        record_outcome_writes(started.engine)
        yield started


def record_outcome_writes(engine: Engine) -> None:
    """Note in `outcome_writes` every write of an attempt's outcome, whoever makes it."""
    with engine.begin() as connection:
        connection.execute(
            text("CREATE TABLE outcome_writes (attempt_id integer, report_status text)")
        )
        connection.execute(
            text(
                "CREATE FUNCTION note_outcome_write() RETURNS trigger AS $$ BEGIN "
                "INSERT INTO outcome_writes VALUES (NEW.id, NEW.report_status); RETURN NEW; "
                "END $$ LANGUAGE plpgsql"
            )
        )
        connection.execute(
            text(
                "CREATE TRIGGER outcome_writes AFTER UPDATE OF report_status, disposition, "
                "finish_reason, call_finished_at ON attempts FOR EACH ROW "
                "WHEN (NEW.report_status IS NOT NULL AND lower(NEW.report_status) <> 'awaited') "
                "EXECUTE FUNCTION note_outcome_write()"
            )
        )


def outcome_writes(engine: Engine) -> collections.Counter[int]:
    """How many times each attempt's outcome was written."""
    with engine.begin() as connection:
        rows = connection.execute(text("SELECT attempt_id FROM outcome_writes"))
        return collections.Counter(int(row[0]) for row in rows)


def test_two_collectors_record_every_outcome_once_and_redial_as_allowed(run: EngineRun) -> None:
    scripted_numbers = phones(SCRIPTED)
    numbers = scripted_numbers + phones(RANDOM, start=SCRIPTED)
    campaign_id = run.create_campaign(numbers, toml=CAMPAIGN)
    run.start_dispatchers(2)
    run.start_workers(3, concurrency=2)

    run.wait_for(
        "the campaign to complete",
        lambda: run.campaign_state(campaign_id) == "completed",
        timeout=100.0,
    )

    truth: dict[str, list[ActiveCall]] = collections.defaultdict(list)
    for call in run.server.simulator.calls():
        truth[call.contact_phone_number].append(call)
    by_external_id = {call.external_id: call for calls in truth.values() for call in calls}
    attempts = run.attempts()
    contacts = {c.phone: c for c in run.contacts(campaign_id)}

    # Every contact final, with the status its last call's result gives.
    for phone, contact in contacts.items():
        made = truth[phone]
        assert made, f"{phone} was never called"
        last = made[-1].ending
        assert last is not None
        assert contact.status.value == FINAL_STATUS[last.outcome], phone

    # Each call created: one attempt, whose outcome is the call's own, written exactly once.
    writes = outcome_writes(run.engine)
    recorded: dict[str, Attempt] = {a.external_id: a for a in attempts}
    for external_id, call in by_external_id.items():
        assert external_id in recorded, f"no attempt for call {call.call_session_id}"
        attempt = recorded[external_id]
        assert call.ending is not None
        assert attempt.call_session_id == call.call_session_id
        assert attempt.report_status == ReportStatus.FOUND, external_id
        assert attempt.disposition is not None
        assert attempt.disposition.value == call.ending.outcome, external_id
        assert attempt.finish_reason == call.ending.finish_reason
        assert writes[attempt.id] == 1, f"attempt {attempt.id} written {writes[attempt.id]} times"
    # An attempt without a call (refused for the rate) never had an outcome to await.
    callless = [a for a in attempts if a.external_id not in by_external_id]
    assert all(a.report_status is None and writes[a.id] == 0 for a in callless)

    # Calls per contact: one, plus exactly the redials its results allow (scripted: known ahead).
    script_of = dict(zip(scripted_numbers, _expanded_scripts(), strict=True))
    for phone in numbers:
        endings = [c.ending.outcome for c in truth[phone] if c.ending is not None]
        assert calls_allowed(endings) == len(endings), (phone, endings)
        if phone in script_of:
            assert len(endings) == calls_allowed(script_of[phone], last_repeats=True), phone
    for phone, calls in truth.items():
        for previous, redial in itertools.pairwise(calls):
            assert redial.started >= previous.ends_at, f"{phone} redialed before the call ended"
    assert run.server.simulator.stats().data_points_spent > 0  # the outcomes came from reports


def _expanded_scripts() -> list[tuple[str, ...]]:
    """One script per scripted number, in the order of their numbers."""
    return [script for script, count in SCRIPTS for _ in range(count)]
