"""What one call costs the worker near the points limit: as `bench.call_cost`, one thread placing
calls one after the other against the simulator in this process, but with a limit so close that
the process's lease of points cannot take much ahead and every reply's `metadata.limits` is one
the row must hear (fewer than `lease.OBSERVE_BELOW` points left).

    .venv/bin/python -m bench.near_limit_cost --calls 250 --limit 300

The window is long enough (`--window`, default an hour) that the calls never wait for a reset:
what is counted is the bookkeeping of a call, not the waiting. Counts: transactions (COMMIT),
statements by their first word, and those on the budget row (`budgets` in the statement) apart.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

from bench.call_cost import count_statements
from bench.pacing_bench import configure, prepare_campaign
from bench.scratch import fresh_database


def count_budget_statements(engine: Engine) -> Counter[str]:
    """Statements that touch the budget row, by their first word."""
    counts: Counter[str] = Counter()

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(*args: Any) -> None:
        statement = args[2]
        if "budgets" in statement:
            counts[statement.split(None, 1)[0].upper()] += 1

    return counts


def measure(calls: int, limit: int, window: float) -> dict[str, Any]:
    """Place `calls` calls with `limit` points per `window` seconds; counts and CPU per call."""
    from dialer import dialing, dispatch
    from dialer.callapi.client import CallApiClient
    from dialer.config import get_settings
    from dialer.db import engine_for
    from dialer.simulator import FakeCallApi
    from dialer.simulator.inprocess import in_process_transport
    from dialer.simulator.simulator import Simulator

    assert calls < limit, "every call must find points: the window never resets here"
    with tempfile.TemporaryDirectory() as tmp, fresh_database("postgres", Path(tmp)) as url:
        configure(url, "http://simulator/v4.0", limit, Path(tmp) / "home")
        os.environ["DIALER_WINDOW_SECONDS"] = str(window)
        get_settings.cache_clear()
        prepare_campaign(url, calls + 1)
        settings = get_settings()
        engine = engine_for(url)
        queued: list[int] = []
        dispatch.tick(engine, settings, queued.extend, lambda _ids: None)
        simulator = Simulator(
            FakeCallApi(minute_limit=limit, day_limit=10**9, window_seconds=window)
        )
        client = CallApiClient.from_settings(settings, transport=in_process_transport(simulator))
        dialer = dialing.Dialer(settings, engine, client)
        dialing.place_call(dialer, queued.pop())  # warm: connections, caches, first budget row
        counts = count_statements(engine)
        budget = count_budget_statements(engine)
        cpu, wall = time.process_time(), time.perf_counter()
        turns = Counter(dialing.place_call(dialer, queued.pop()).status for _ in range(calls))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        client.close()
        engine.dispose()
    return {
        "calls": calls,
        "limit": limit,
        "turns": {str(k): v for k, v in turns.items()},
        "per_call": {k: round(v / calls, 2) for k, v in sorted(counts.items())},
        "budget_row_per_call": {k: round(v / calls, 2) for k, v in sorted(budget.items())},
        "cpu_ms_per_call": round(1000 * cpu / calls, 2),
        "wall_ms_per_call": round(1000 * wall / calls, 2),
    }


def main() -> None:
    """Print the counts (JSON)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=250)
    parser.add_argument("--limit", type=int, default=300, help="points per window")
    parser.add_argument("--window", type=float, default=3600.0, help="seconds per window")
    args = parser.parse_args()
    print(json.dumps(measure(args.calls, args.limit, args.window), indent=2))


if __name__ == "__main__":
    main()
