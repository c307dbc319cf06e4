"""The engine against a misbehaving provider: real PostgreSQL, Redis (one run on RabbitMQ),
several worker processes, and the simulator with its faults turned up.

Each test checks the invariants of `tests.integration.fault_checks` from the simulator's own
request log and the database. Call outcomes are not collected here (`DIALER_OUTCOMES=off`).
"""

from __future__ import annotations

import collections
import os
import signal
import time
from pathlib import Path

import pytest

from dialer import lifecycle
from dialer.callapi.methods import START_METHODS
from dialer.campaigns import create_campaign, parse_campaign
from dialer.contacts import import_contacts
from dialer.db import transaction
from dialer.models import FINAL_STATUSES, AttemptOutcome, ContactStatus
from dialer.simulator import DEFAULT_LOGIN, DEFAULT_PASSWORD, FakeCallApi, LogEntry
from tests.integration.engine_harness import (
    CAMPAIGN_TOML,
    RABBITMQ,
    REDIS,
    EngineRun,
    created_calls,
    engine_run,
    phone_of,
    phones,
)
from tests.integration.fault_checks import check_no_stalled_window, check_run

pytestmark = pytest.mark.postgres

MINUTE_LIMIT = 100
WINDOW_SECONDS = 2.0
# Placed calls stay listed long enough for any look-up to find them.
CALL_DURATION = 600.0
# Longer than the harness's 3 s read timeout.
PAST_THE_READ_TIMEOUT = 4.0
WORKER_ENV = {"DIALER_OUTCOMES": "off"}


def simulator(**overrides: object) -> FakeCallApi:
    """The simulated account: 100 points per 2-second window, calls that stay listed."""
    config: dict[str, object] = {
        "minute_limit": MINUTE_LIMIT,
        "window_seconds": WINDOW_SECONDS,
        "call_duration": CALL_DURATION,
        "seed": 11,
    }
    config.update(overrides)
    return FakeCallApi(**config)  # type: ignore[arg-type]


def check(run: EngineRun, *campaign_ids: int, **kwargs: object) -> None:
    """Every invariant, with this file's budget."""
    check_run(
        run,
        campaign_ids,
        minute_limit=MINUTE_LIMIT,
        window_seconds=WINDOW_SECONDS,
        **kwargs,  # type: ignore[arg-type]
    )


def summary(name: str, run: EngineRun, statuses: dict[str, int]) -> None:
    """What the run came to (pytest shows it with -s)."""
    log = run.server.request_log()
    faults = collections.Counter(e.fault for e in log if e.fault)
    outcomes = collections.Counter(e.outcome for e in log)
    print(f"\n{name}: {statuses}; {len(log)} requests {dict(outcomes)} faults {dict(faults)}")


def start_at(run: EngineRun, count: int) -> None:
    """Wait until `count` start.* requests have reached the simulator."""
    run.wait_for(
        f"{count} start requests",
        lambda: sum(e.method in START_METHODS for e in run.server.request_log()) >= count,
        60,
    )


# --- faults turned up ---------------------------------------------------------------------------


@pytest.mark.redis
def test_every_fault_at_once_keeps_every_invariant(tmp_path: Path) -> None:
    everyone = phones(400)
    provider_listed, local_listed = everyone[:10], everyone[10:20]
    api = simulator(
        fail_rate_5xx=0.04,
        fail_rate_internal=0.04,
        slow_rate=0.01,
        slow_seconds=PAST_THE_READ_TIMEOUT,
        cut_after_create_rate=0.03,
        limit_burst_rate=0.002,
        limit_burst_seconds=1.0,
        blacklist=frozenset(provider_listed),
    )
    with engine_run(tmp_path, REDIS, api, WORKER_ENV) as run:
        campaign_id = run.create_campaign(everyone, import_blacklisted=local_listed)
        run.start_dispatchers(2)
        run.start_workers(3, concurrency=4, pool="threads")
        statuses = run.wait_until_final(campaign_id, timeout=85)

        summary("every fault", run, statuses)
        faults = {e.fault for e in run.server.request_log()}
        assert {"http_5xx", "internal_error", "slow", "cut_after_create", "limit_burst"} <= faults
        check(run, campaign_id, local_blacklist=local_listed, provider_blacklist=provider_listed)
        status_of = {c.phone: c.status for c in run.contacts(campaign_id)}
        assert {status_of[p] for p in local_listed} == {ContactStatus.BLACKLISTED}
        # The provider's refusal of a request that hung past its timeout was never heard: the
        # look-up finds no call, so that contact is `unknown`, like any unconfirmed request.
        unheard = {phone_of(e) for e in run.server.request_log() if e.fault == "slow"}
        for phone in provider_listed:
            expected = {ContactStatus.BLACKLISTED}
            if phone in unheard:
                expected.add(ContactStatus.UNKNOWN)
            assert status_of[phone] in expected, phone


@pytest.mark.redis
def test_a_session_token_that_dies_mid_campaign_is_renewed(tmp_path: Path) -> None:
    everyone = phones(400)
    login_mode = {
        **WORKER_ENV,
        "DIALER_CALLAPI_ACCESS_TOKEN": "",
        "DIALER_CALLAPI_LOGIN": DEFAULT_LOGIN,
        "DIALER_CALLAPI_PASSWORD": DEFAULT_PASSWORD,
    }
    # A token lives 70 s: the dialer renews it a minute early, so every 10 s.
    api = simulator(token_lifetime=70.0, fail_rate_internal=0.02)
    with engine_run(tmp_path, REDIS, api, login_mode) as run:
        campaign_id = run.create_campaign(everyone)
        run.start_dispatchers(1)
        run.start_workers(2, concurrency=4, pool="threads")
        # And twice the provider ends every session early, in the middle of the run.
        for at in (100, 220):
            start_at(run, at)
            run.server.expire_sessions()
        statuses = run.wait_until_final(campaign_id, timeout=80)

        summary("token expiry", run, statuses)
        log = run.server.request_log()
        refused = [e for e in log if e.outcome == "access_token_invalid"]
        assert refused, "no request met a dead session token"
        logins = sum(e.method == "login.user" and e.outcome == "ok" for e in log)
        assert logins >= 3
        assert run.campaign_state(campaign_id) != "paused"
        assert statuses == {"placed": len(everyone)}
        check(run, campaign_id)


@pytest.mark.redis
def test_the_provider_down_for_20_seconds_keeps_every_invariant(tmp_path: Path) -> None:
    everyone = phones(400)
    with engine_run(tmp_path, REDIS, simulator(), WORKER_ENV) as run:
        campaign_id = run.create_campaign(everyone)
        run.start_dispatchers(1)
        run.start_workers(2, concurrency=4, pool="threads")
        start_at(run, 100)
        run.server.outage(10.0)  # 503 pages
        time.sleep(10.0)
        run.server.refuse_connections(10.0)  # then nothing listens
        time.sleep(10.0)
        statuses = wait_final_resuming(run, campaign_id, timeout=70)

        summary("provider down", run, statuses)
        assert any(e.fault == "provider_down" for e in run.server.request_log())
        # Not the contacts' fault: none of them is lost to the outage.
        assert statuses == {"placed": len(everyone)}
        check(run, campaign_id)


def wait_final_resuming(run: EngineRun, campaign_id: int, timeout: float) -> dict[str, int]:
    """Wait until every contact is final, resuming the campaign as an operator would whenever
    the dialer paused it (a provider that cannot be reached may pause it)."""

    def final_or_resumed() -> bool:
        if run.campaign_state(campaign_id) == "paused":
            run.resume()
        return set(run.statuses(campaign_id)) <= {s.value for s in FINAL_STATUSES}

    run.wait_for("every contact final (resuming pauses)", final_or_resumed, timeout)
    return run.statuses(campaign_id)


@pytest.mark.redis
def test_hung_start_answers_cost_only_themselves_not_the_pace(tmp_path: Path) -> None:
    everyone = phones(300)
    # 3 % of the answers hang 12 s: far past the start.* timeout fitted to the simulator's quick
    # answers (its 1 s floor), within the configured 20 s read timeout. Four threads, as
    # `dialer run` has: held for the whole 12 s, a few hung requests take all four for whole
    # windows at a time, and those windows place nothing.
    fitted = {
        **WORKER_ENV,
        "DIALER_CALLAPI_READ_TIMEOUT": "20",
        "DIALER_CALLAPI_START_TIMEOUT_FLOOR": "1",
        "DIALER_STUCK_AFTER": "30",
    }
    api = simulator(slow_rate=0.03, slow_seconds=12.0)
    with engine_run(tmp_path, REDIS, api, fitted) as run:
        campaign_id = run.create_campaign(everyone)
        run.start_dispatchers(1)
        run.start_workers(2, concurrency=2, pool="threads")
        statuses = run.wait_until_final(campaign_id, timeout=240)

        summary("hung answers", run, statuses)
        log = run.server.request_log()
        hung = [e for e in log if e.fault == "slow" and e.method in START_METHODS]
        assert len(hung) >= 3, "too few hung start.* answers to show anything"
        # The hung calls were cut, looked up and found: placed, not unknown, not dialed again.
        assert statuses == {"placed": len(everyone)}
        check(run, campaign_id)
        calls = check_no_stalled_window(run, WINDOW_SECONDS)
        print(f"calls per {WINDOW_SECONDS:.0f} s window: {calls}")


# --- workers that die or are stopped --------------------------------------------------------------


@pytest.mark.rabbitmq
def test_workers_killed_again_and_again_leave_the_campaign_to_the_others(tmp_path: Path) -> None:
    everyone = phones(600)
    api = simulator(slow_rate=0.05, slow_seconds=1.0, cut_after_create_rate=0.02)
    with engine_run(tmp_path, RABBITMQ, api, WORKER_ENV) as run:
        campaign_id = run.create_campaign(everyone)
        run.start_dispatchers(2)
        run.start_workers(5, concurrency=3, pool="threads")
        victims = run.workers()[:3]
        for n, victim in enumerate(victims, start=1):
            start_at(run, 100 * n)
            os.kill(victim.popen.pid, signal.SIGKILL)
            victim.popen.wait()
        statuses = run.wait_until_final(campaign_id, timeout=85)

        summary("kill -9 x3", run, statuses)
        assert all(v.popen.returncode == -signal.SIGKILL for v in victims)
        assert all(w.popen.poll() is None for w in run.workers()[3:])
        assert set(statuses) <= {"placed", "unknown"}
        check(run, campaign_id)


@pytest.mark.redis
def test_sigterm_lets_requests_in_flight_finish_and_leaves_nobody_dialing(
    tmp_path: Path,
) -> None:
    everyone = phones(250)
    # Every answer takes a second: at SIGTERM, requests are surely in flight.
    api = simulator(slow_rate=1.0, slow_seconds=1.0)
    with engine_run(tmp_path, REDIS, api, WORKER_ENV) as run:
        campaign_id = run.create_campaign(everyone)
        run.start_dispatchers(1)
        run.start_workers(2, concurrency=4, pool="threads")
        start_at(run, 60)
        workers = run.workers()
        in_flight = sum(a.outcome == AttemptOutcome.REQUESTING for a in run.attempts())
        for worker in workers:
            worker.popen.send_signal(signal.SIGTERM)
        for worker in workers:
            assert worker.popen.wait(timeout=30) == 0, worker.output()[-3000:]
        stopped_at = time.monotonic()
        # Before the reconciler would settle anything (its deadline is 8 s past a request).
        left = [a.external_id for a in run.attempts() if a.outcome == AttemptOutcome.REQUESTING]
        dialing = run.count(campaign_id, ContactStatus.DIALING)
        assert time.monotonic() - stopped_at < 4.0
        assert in_flight > 0
        assert left == [], "requests in flight were not recorded"
        assert dialing == 0

        # A deploy: new workers take over and finish (the stopped ones exited 0, on purpose).
        run.start_workers(2, concurrency=4, pool="threads")
        statuses = wait_final_beside_stopped_workers(run, campaign_id, timeout=80)
        summary("SIGTERM", run, statuses)
        assert statuses == {"placed": len(everyone)}
        check(run, campaign_id)


def wait_final_beside_stopped_workers(
    run: EngineRun, campaign_id: int, timeout: float
) -> dict[str, int]:
    """`wait_until_final`, for a run whose first workers were stopped on purpose."""
    final = {s.value for s in FINAL_STATUSES}
    deadline = time.monotonic() + timeout
    while not set(run.statuses(campaign_id)) <= final:
        if time.monotonic() > deadline:
            pytest.fail(
                f"not final after {timeout:.0f} s: {run.statuses(campaign_id)}\n{run.logs()}"
            )
        time.sleep(0.2)
    return run.statuses(campaign_id)


# --- two campaigns on one account -----------------------------------------------------------------


def add_campaign(run: EngineRun, name: str, numbers: list[str]) -> int:
    """Another running campaign, like the harness's but named `name`."""
    csv_path = run.tmp_path / f"{name}.csv"
    rows = ["phone;name", *(f"{phone};Клиент {i}" for i, phone in enumerate(numbers))]
    csv_path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    toml = CAMPAIGN_TOML.replace('name = "engine-it"', f'name = "{name}"')
    with transaction(run.engine) as session:
        campaign = create_campaign(session, parse_campaign(toml))
        assert import_contacts(session, campaign, csv_path).imported == len(numbers)
        lifecycle.start(session, name)
        return campaign.id


@pytest.mark.redis
def test_two_campaigns_on_one_account_share_the_budget_fairly(tmp_path: Path) -> None:
    first, second = phones(250), phones(250, start=5000)
    with engine_run(tmp_path, REDIS, simulator(fail_rate_internal=0.02), WORKER_ENV) as run:
        first_id = add_campaign(run, "fault-a", first)
        second_id = add_campaign(run, "fault-b", second)
        run.start_dispatchers(2)
        run.start_workers(3, concurrency=4, pool="threads")
        for campaign_id in (first_id, second_id):
            run.wait_until_final(campaign_id, timeout=80)

        statuses = {
            **run.statuses(first_id),
            **{f"b-{k}": v for k, v in run.statuses(second_id).items()},
        }
        summary("two campaigns", run, statuses)
        check(run, first_id, second_id)
        # Fair: while both had contacts left, each got a fair share of the calls.
        calls = created_calls(run.server.request_log())
        of_first = set(first)
        both_busy = calls[: len(calls) - max_run_at_end(calls, of_first)]
        share = sum(phone_of(e) in of_first for e in both_busy) / len(both_busy)
        assert 0.35 <= share <= 0.65, f"the first campaign got {share:.0%} of the calls"


def max_run_at_end(calls: list[LogEntry], members: set[str]) -> int:
    """How many calls at the end of the run went to one campaign only (the other was done)."""
    if not calls:
        return 0
    last = phone_of(calls[-1]) in members
    n = 0
    for entry in reversed(calls):
        if (phone_of(entry) in members) != last:
            break
        n += 1
    return n
