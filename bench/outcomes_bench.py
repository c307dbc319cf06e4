"""Benchmark of outcome collection: Data API requests per 1,000 calls, and the time from a call's
end to its stored outcome, for a large campaign.

    .venv/bin/python -m bench.outcomes_bench --calls 100000

The simulator runs in this process on a simulated clock (no waiting): calls are placed at
`--rate` a second through the Call API client, their attempts written as the engine writes them,
and the collector runs every `--interval` simulated seconds against the simulator's Data API
(its own points budget, `--data-limit` a minute), until every outcome is stored. Reported: Data
API requests and points per 1,000 calls, the simulated delay from each call's end to its stored
outcome (median, 95th percentile, max; it is bounded below by the provider's `--report-delay`
and the poll interval), and the wall time the collector's passes took.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import Engine, insert, select

from bench.scratch import fresh_database
from dialer.callapi.client import CallApiClient
from dialer.callapi.dataapi import DataApiClient, DataApiConfig
from dialer.callreports import DataApiBudget, DataApiReports
from dialer.collector import collect
from dialer.db import make_engine, transaction
from dialer.migrate import upgrade
from dialer.models import Attempt, AttemptOutcome, Campaign, CampaignState, Contact, ReportStatus
from dialer.simulator import DEFAULT_ACCESS_TOKEN, Api, CallOutcomes, FakeCallApi, Simulator
from dialer.simulator.inprocess import in_process_transport

INFORMER = "start.informer_call"
MESSAGE = {"type": "tts", "value": "Здравствуйте!"}
START = 1_700_000_000.0


class SimulatedClock:
    """Seconds since the epoch, moved by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now

    def utc(self) -> dt.datetime:
        """The clock as an aware UTC datetime."""
        return dt.datetime.fromtimestamp(self.now, dt.UTC)


def add_contacts(engine: Engine, count: int) -> tuple[int, list[int]]:
    """A running campaign with `count` contacts, written in bulk."""
    with transaction(engine) as session:
        campaign = Campaign(
            name="bench", method=INFORMER, params={}, options={}, state=CampaignState.RUNNING
        )
        session.add(campaign)
        session.flush()
        rows = [
            {"campaign_id": campaign.id, "phone": f"79{i:09d}", "variables": {}}
            for i in range(count)
        ]
        session.execute(insert(Contact), rows)
        ids = list(session.scalars(select(Contact.id).order_by(Contact.id)))
        return campaign.id, ids


def run(args: argparse.Namespace, database_url: str) -> dict[str, Any]:
    """Place the calls, collect their outcomes, and measure."""
    clock = SimulatedClock()
    config = FakeCallApi(
        clock=clock,
        minute_limit=10**9,
        day_limit=10**9,
        call_duration=args.call_duration,
        outcomes=CallOutcomes(report_delay=args.report_delay),
        data_minute_limit=args.data_limit,
        data_day_limit=10**9,
        seed=1,
    )
    simulator = Simulator(config)
    key = SecretStr(DEFAULT_ACCESS_TOKEN)
    calls = CallApiClient(
        "http://sim/v4.0",
        access_token=key,
        transport=in_process_transport(simulator, Api.CALL),
        clock=clock,
    )
    data = DataApiClient(
        DataApiConfig(url="http://sim/v2.0", access_token=key),
        transport=in_process_transport(simulator, Api.DATA),
        clock=clock,
    )
    engine = make_engine(database_url)
    upgrade(engine)
    campaign_id, contact_ids = add_contacts(engine, args.calls)
    reports = DataApiReports(data, engine, DataApiBudget("bench-data-api"), now=clock.utc)

    stored_after: list[float] = []
    collect_wall = 0.0
    next_poll = clock.now + args.interval
    placed = 0

    def poll() -> None:
        nonlocal collect_wall
        began = time.perf_counter()
        result = collect(engine, reports, clock.utc(), interval=args.interval, timeout=6 * 3600.0)
        collect_wall += time.perf_counter() - began
        if result.recorded:
            with transaction(engine) as session:
                ends = session.scalars(
                    select(Attempt.call_finished_at).where(Attempt.id.in_(result.recorded))
                )
                stored_after.extend((clock.utc() - end).total_seconds() for end in ends if end)

    place_began = time.perf_counter()
    while placed < args.calls or _awaited(engine):
        batch = contact_ids[placed : placed + args.rate]
        rows = []
        for contact_id in batch:
            external_id = f"dialer-{contact_id}-1-bench"
            started = calls.start_call(
                INFORMER,
                {
                    "virtual_phone_number": "74993720692",
                    "contact": f"79{contact_id:09d}",
                    "external_id": external_id,
                    "contact_message": MESSAGE,
                },
            )
            rows.append(
                {
                    "external_id": external_id,
                    "call_session_id": started.call_session_id,
                    "contact_id": contact_id,
                    "campaign_id": campaign_id,
                    "method": INFORMER,
                    "params": {},
                    "requested_at": clock.utc(),
                    "outcome": AttemptOutcome.PLACED,
                    "report_status": ReportStatus.AWAITED,
                }
            )
        if rows:
            with transaction(engine) as session:
                session.execute(insert(Attempt), rows)
        placed += len(batch)
        clock.now += 1.0
        if clock.now >= next_poll:
            poll()
            next_poll = clock.now + args.interval
    total_wall = time.perf_counter() - place_began
    stats = simulator.stats()
    engine.dispose()
    per_thousand = 1000 / args.calls
    return {
        "calls": args.calls,
        "outcomes_stored": len(stored_after),
        "data_api_requests": reports.requests,
        "data_api_requests_per_1000_calls": round(reports.requests * per_thousand, 2),
        "data_api_points_per_1000_calls": round(stats.data_points_spent * per_thousand, 2),
        "end_to_stored_seconds_median": statistics.median(stored_after),
        "end_to_stored_seconds_p95": statistics.quantiles(stored_after, n=20)[-1],
        "end_to_stored_seconds_max": max(stored_after),
        "collector_wall_seconds": round(collect_wall, 2),
        "collector_wall_ms_per_1000_calls": round(collect_wall * 1000 * per_thousand, 1),
        "whole_run_wall_seconds": round(total_wall, 1),
    }


def _awaited(engine: Engine) -> bool:
    with transaction(engine) as session:
        row = session.scalar(
            select(Attempt.id).where(Attempt.report_status == ReportStatus.AWAITED).limit(1)
        )
        return row is not None


def main() -> None:
    """Run the benchmark and print its figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=30, help="calls placed per simulated second")
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between polls")
    parser.add_argument("--report-delay", type=float, default=10.0)
    parser.add_argument("--call-duration", type=float, default=30.0)
    parser.add_argument("--data-limit", type=int, default=60, help="Data API points a minute")
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as workdir,
        fresh_database(args.backend, Path(workdir)) as url,
    ):
        figures = run(args, url)
    figures["machine"] = f"{platform.node()} {platform.machine()} {platform.python_version()}"
    figures["backend"] = args.backend
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
