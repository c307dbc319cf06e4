"""The dialing engine for real: PostgreSQL, Redis or RabbitMQ, several Celery worker processes and
two dispatcher processes, against the Call API simulator over loopback HTTP.

Each test runs once per broker, on a scratch database and a queue of its own.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import time
from pathlib import Path

import pytest

from dialer.models import AttemptOutcome, BlacklistSource, ContactStatus
from dialer.simulator import FakeCallApi
from tests.integration.engine_harness import (
    RABBITMQ,
    REDIS,
    Broker,
    EngineRun,
    check_nobody_dialed_twice,
    engine_run,
    external_id_of,
    phone_of,
    phones,
    points_per_window,
    starts,
)

pytestmark = pytest.mark.postgres

MINUTE_LIMIT = 20
WINDOW_SECONDS = 2.0
VIRTUAL_NUMBER = "74993720692"
# A placed call stays listed long enough for any look-up the test provokes to find it.
CALL_DURATION = 600.0


@pytest.fixture(
    params=[
        pytest.param(REDIS, marks=pytest.mark.redis, id="redis"),
        pytest.param(RABBITMQ, marks=pytest.mark.rabbitmq, id="rabbitmq"),
    ]
)
def broker(request: pytest.FixtureRequest) -> Broker:
    """Each broker in turn."""
    value = request.param
    assert isinstance(value, Broker)
    return value


def simulator(**overrides: object) -> FakeCallApi:
    """The simulated account: 20 points per 2-second window, calls that stay listed."""
    config: dict[str, object] = {
        "minute_limit": MINUTE_LIMIT,
        "window_seconds": WINDOW_SECONDS,
        "call_duration": CALL_DURATION,
        "seed": 7,
    }
    config.update(overrides)
    return FakeCallApi(**config)  # type: ignore[arg-type]


def report(name: str, run: EngineRun, statuses: dict[str, int]) -> tuple[int, int, int]:
    """Print what the run came to (pytest shows it with -s); returns requests, limit_exceeded,
    and the most points spent in one window."""
    stats = run.server.stats()
    windows = points_per_window(run.server.request_log(), WINDOW_SECONDS)
    print(
        f"\n{name} [{run.broker.name}]: {statuses}; requests={stats.requests} "
        f"outcomes={dict(stats.outcomes)} limit_exceeded={stats.limit_exceeded} "
        f"points per window={windows}"
    )
    return stats.requests, stats.limit_exceeded, max(windows, default=0)


def check_budget_kept(
    run: EngineRun, name: str, statuses: dict[str, int], rare: float = 0.05
) -> None:
    """No window went over the limit, and the dialer was told so in under `rare` of requests."""
    requests, limit_exceeded, busiest = report(name, run, statuses)
    assert busiest <= MINUTE_LIMIT
    # Loose on purpose: a loaded machine delays replies past a reset now and then.
    assert limit_exceeded < rare * requests, f"{limit_exceeded} of {requests} limit_exceeded"


def test_a_campaign_over_several_windows_ends_with_nobody_dialed_twice(
    tmp_path: Path, broker: Broker
) -> None:
    everyone = phones(96)
    provider_listed, imported_listed, listed_later = everyone[:4], everyone[4:7], everyone[7:10]
    with engine_run(tmp_path, broker, simulator(blacklist=frozenset(provider_listed))) as run:
        campaign_id = run.create_campaign(everyone, import_blacklisted=imported_listed)
        run.blacklist_now(listed_later)
        run.start_dispatchers(2)
        run.start_workers(3, concurrency=2, pool="prefork")
        statuses = run.wait_until_final(campaign_id)

        check_nobody_dialed_twice(run)
        requested = {phone_of(e) for e in starts(run.server.request_log())}
        assert requested.isdisjoint(imported_listed + listed_later)
        contacts = {c.phone: c for c in run.contacts(campaign_id)}
        local = imported_listed + listed_later + provider_listed
        assert all(contacts[p].status == ContactStatus.BLACKLISTED for p in local)
        sources = run.blacklist_sources()
        assert all(sources[p] == BlacklistSource.PROVIDER for p in provider_listed)
        assert statuses == {"placed": len(everyone) - len(local), "blacklisted": len(local)}
        # The next dispatcher pass sees nobody left and completes the campaign.
        run.wait_for("completion", lambda: run.campaign_state(campaign_id) == "completed", 10)
        check_budget_kept(run, "campaign", statuses)


def in_flight(run: EngineRun) -> int:
    """Attempts whose request is out and unanswered."""
    return sum(a.outcome == AttemptOutcome.REQUESTING for a in run.attempts())


def test_a_worker_killed_mid_request_leaves_its_contacts_placed_or_unknown_never_redialed(
    tmp_path: Path, broker: Broker
) -> None:
    everyone = phones(60)
    # Every answer takes a second, so that a killed worker surely has requests in flight.
    with engine_run(tmp_path, broker, simulator(slow_rate=1.0, slow_seconds=1.0)) as run:
        campaign_id = run.create_campaign(everyone)
        run.start_dispatchers(2)
        run.start_workers(3, concurrency=2, pool="threads")
        # Five requests in flight among 3 workers of 2 threads: the victim surely has one.
        run.wait_for("five requests in flight", lambda: in_flight(run) >= 5, 90)
        victim = run.workers()[0]
        os.kill(victim.popen.pid, signal.SIGKILL)
        killed_at = dt.datetime.now(dt.UTC)
        victim.popen.wait()
        # Past a slow answer: a request begun before the kill and still `requesting` now was
        # the dead worker's (the live workers' have had their answers).
        time.sleep(2.5)
        orphans = [
            a
            for a in run.attempts()
            if a.outcome == AttemptOutcome.REQUESTING and a.requested_at < killed_at
        ]
        assert orphans, "the killed worker had no request in flight"
        # The reconciler settles orphans only after the request deadline (timeouts + stuck_after).
        statuses = run.wait_until_final(campaign_id, timeout=90)

        check_nobody_dialed_twice(run)
        log = starts(run.server.request_log())
        created = {external_id_of(e): e.call_session_id for e in log if e.outcome == "ok"}
        by_id = {a.id: a for a in run.attempts()}
        for orphan in orphans:
            settled = by_id[orphan.id]
            assert settled.outcome in (AttemptOutcome.PLACED, AttemptOutcome.UNKNOWN)
            assert settled.call_session_id == created.get(settled.external_id)
            later = [
                i for i, a in by_id.items() if a.contact_id == orphan.contact_id and i > orphan.id
            ]
            assert later == [], "a contact whose request was in flight was dialed again"
        assert set(statuses) <= {"placed", "unknown"}
        print(f"\nkilled worker: {len(orphans)} requests in flight settled as", end=" ")
        print([by_id[o.id].outcome.value for o in orphans])
        check_budget_kept(run, "kill -9", statuses)


def test_wakeups_lost_by_the_broker_are_sent_again_by_the_reconciler(
    tmp_path: Path, broker: Broker
) -> None:
    everyone = phones(60)
    with engine_run(tmp_path, broker, simulator()) as run:
        campaign_id = run.create_campaign(everyone)
        run.start_dispatchers(2)
        # No worker yet: the wake-ups pile up on the broker, and then the broker loses them.
        run.wait_for("wake-ups", lambda: run.count(campaign_id, ContactStatus.QUEUED) > 0, 20)
        time.sleep(1.0)
        lost = run.broker.purge(run.queue)
        assert lost > 0
        run.start_workers(3, concurrency=2, pool="threads")
        statuses = run.wait_until_final(campaign_id)

        assert statuses == {"placed": len(everyone)}
        check_nobody_dialed_twice(run)
        resent = "".join(p.output() for p in run.dispatchers())
        assert "wake-ups that were lost" in resent
        print(f"\npurged {lost} wake-ups", end="")
        check_budget_kept(run, "lost wake-ups", statuses)


def test_a_pause_stops_new_requests_and_resume_finishes_the_campaign(
    tmp_path: Path, broker: Broker
) -> None:
    everyone = phones(80)
    with engine_run(tmp_path, broker, simulator()) as run:
        campaign_id = run.create_campaign(everyone)
        run.start_dispatchers(2)
        run.start_workers(3, concurrency=2, pool="threads")
        run.wait_for(
            "the first calls", lambda: run.count(campaign_id, ContactStatus.PLACED) >= 15, 30
        )
        paused_at = run.pause()
        # Longer than a window: the budget refills, and still nothing may be sent.
        time.sleep(3 * WINDOW_SECONDS)
        # An attempt committed just before the pause may still be on its way: one second's grace.
        late = [e for e in starts(run.server.request_log()) if e.time > paused_at + 1.0]
        assert late == []
        during = run.statuses(campaign_id)
        assert during.get("pending", 0) > 0
        assert set(during) <= {"pending", "placed"}

        run.resume()
        statuses = run.wait_until_final(campaign_id)
        assert statuses == {"placed": len(everyone)}
        check_nobody_dialed_twice(run)
        check_budget_kept(run, "pause/resume", statuses)


def test_calls_whose_answer_was_cut_are_found_by_lookup_and_never_requested_again(
    tmp_path: Path, broker: Broker
) -> None:
    everyone = phones(60)
    with engine_run(tmp_path, broker, simulator(cut_after_create_rate=0.2)) as run:
        campaign_id = run.create_campaign(everyone)
        run.start_dispatchers(2)
        run.start_workers(3, concurrency=2, pool="prefork")
        statuses = run.wait_until_final(campaign_id)

        check_nobody_dialed_twice(run)
        log = starts(run.server.request_log())
        cut = {external_id_of(e): e for e in log if e.fault == "cut_after_create"}
        assert cut, "the simulator cut no connection"
        attempts = {a.external_id: a for a in run.attempts()}
        for external_id, entry in cut.items():
            attempt = attempts[external_id]
            assert attempt.outcome == AttemptOutcome.PLACED
            assert attempt.call_session_id == entry.call_session_id
            again = [e for e in log if phone_of(e) == phone_of(entry) and e.time > entry.time]
            assert again == [], "a call whose answer was cut was requested again"
        assert statuses == {"placed": len(everyone)}
        print(f"\n{len(cut)} answers cut, all found via list.calls", end="")
        # Looser: a look-up's list.calls takes no points from the shared budget, so a burst of
        # look-ups can spend what the budget row has promised to start.* requests.
        check_budget_kept(run, "cut answers", statuses, rare=0.2)
