"""The engine while the services under it restart: Redis, RabbitMQ, then PostgreSQL, each stopped
and started again twice in the middle of a campaign of a few thousand contacts, with requests in
flight and several worker processes dialing.

Nobody restarts the workers or the dispatchers: they must reconnect by themselves. A Redis
restart loses every wake-up it held (it runs without persistence), which the dispatcher's
reconciler must send again; a RabbitMQ restart hands the unacknowledged ones out again; a
PostgreSQL restart cuts every session, some in the middle of recording an answer. Each run then
holds every invariant of `tests.integration.fault_checks`, and loses no contact.

Redis is a private redis-server the test starts on a port of its own; RabbitMQ and PostgreSQL are
shared: each outage lasts seconds, and each service is started again (and answers) before the
test goes on, whatever happened.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from dialer.models import AttemptOutcome
from tests.integration.engine_harness import (
    POSTGRES_SERVICE,
    RABBITMQ,
    RABBITMQ_SERVICE,
    REDIS,
    Broker,
    EngineRun,
    Process,
    Service,
    engine_run,
    phones,
    private_redis,
    starts,
)
from tests.integration.test_faults import (
    WORKER_ENV,
    check,
    simulator,
    summary,
)

pytestmark = pytest.mark.postgres

CONTACTS = 2_000
# Start requests seen before each restart: early in the campaign, then past its middle.
RESTART_AT = (300, 1_000)
OUTAGE_SECONDS = 2.0
# Start requests after the last restart before each worker must be seen working.
SETTLED_AFTER = 300
STARTS_TIMEOUT = 180.0
FINAL_TIMEOUT = 300.0
# A tenth of the answers take a second: at every restart, requests are in flight.
SLOW = {"slow_rate": 0.1, "slow_seconds": 1.0}
# Wake-ups lost with Redis are sent again after this long; sooner, on a busy machine, would also
# re-send many that merely wait their turn in the queue.
ENV = {**WORKER_ENV, "DIALER_STUCK_AFTER": "15"}


def wait_for_requests(run: EngineRun, count: int) -> None:
    """Wait until `count` start.* requests have reached the simulator (a busy machine starts
    its workers slowly: the bound is generous)."""
    run.wait_for(
        f"{count} start requests",
        lambda: len(starts(run.server.request_log())) >= count,
        STARTS_TIMEOUT,
    )


def tasks_done(worker: Process) -> int:
    """How many tasks the Celery worker has logged as finished."""
    return worker.output().count(" succeeded in ")


def in_flight(run: EngineRun) -> int:
    """Attempts whose request is out now."""
    return sum(a.outcome == AttemptOutcome.REQUESTING for a in run.attempts())


def campaign_through_restarts(tmp_path: Path, broker: Broker, service: Service) -> None:
    """Run a campaign, restart `service` at each of `RESTART_AT`, and check the run."""
    service.require()
    everyone = phones(CONTACTS)
    provider_listed, local_listed = everyone[:10], everyone[10:20]
    api = simulator(blacklist=frozenset(provider_listed), **SLOW)
    with engine_run(tmp_path, broker, api, ENV) as run:
        campaign_id = run.create_campaign(everyone, import_blacklisted=local_listed)
        run.start_dispatchers(2)
        run.start_workers(3, concurrency=4, pool="threads")
        out = 0
        for at in RESTART_AT:
            wait_for_requests(run, at)
            out += in_flight(run)
            with service.down():
                time.sleep(OUTAGE_SECONDS)
        # Well after the last restart: a worker that reconnected and then went quiet shows here.
        wait_for_requests(run, RESTART_AT[-1] + SETTLED_AFTER)
        done_before = {w.name: tasks_done(w) for w in run.workers()}
        statuses = run.wait_until_final(campaign_id, timeout=FINAL_TIMEOUT)

        summary(f"{service.name} restarted x{len(RESTART_AT)}", run, statuses)
        assert out > 0, "no request was in flight at any restart"
        # The same processes, each still working well after the last restart.
        assert all(p.popen.poll() is None for p in run.processes)
        idle = [w.name for w in run.workers() if tasks_done(w) <= done_before[w.name]]
        assert not idle, f"workers idle since shortly after the last restart: {idle}"
        check(run, campaign_id, local_blacklist=local_listed, provider_blacklist=provider_listed)
        listed = len(provider_listed) + len(local_listed)
        assert statuses == {"placed": CONTACTS - listed, "blacklisted": listed}


def test_redis_restarted_twice_mid_campaign_loses_no_contact(tmp_path: Path) -> None:
    # A Redis of the test's own: restarting the shared one would disturb everyone else's runs.
    with private_redis(tmp_path) as (broker, service):
        campaign_through_restarts(tmp_path, broker, service)


@pytest.mark.rabbitmq
def test_rabbitmq_restarted_twice_mid_campaign_loses_no_contact(tmp_path: Path) -> None:
    campaign_through_restarts(tmp_path, RABBITMQ, RABBITMQ_SERVICE)


@pytest.mark.redis
def test_postgres_restarted_twice_mid_campaign_loses_no_contact(tmp_path: Path) -> None:
    campaign_through_restarts(tmp_path, REDIS, POSTGRES_SERVICE)
