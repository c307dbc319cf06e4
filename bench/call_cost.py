"""What one call costs the dialer's worker, measured without a broker or other threads: one
thread runs `place_call` for queued contacts of a PostgreSQL campaign against the simulator in
this process, counting transactions and SQL statements per call, and optionally profiling.

    .venv/bin/python -m bench.call_cost --calls 500 [--profile 30]

The figures do not depend on how busy the machine is (counts), or depend less than a throughput
does (CPU milliseconds per call of this process); the profile says where those go.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

from bench.pacing_bench import configure, prepare_campaign
from bench.scratch import fresh_database


def count_statements(engine: Engine) -> Counter[str]:
    """A counter of the statements `engine` sends, by their first word, and of its commits."""
    counts: Counter[str] = Counter()

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(*args: Any) -> None:
        counts[args[2].split(None, 1)[0].upper()] += 1

    @event.listens_for(engine, "commit")
    def _commit(_conn: Any) -> None:
        counts["COMMIT"] += 1

    @event.listens_for(engine, "rollback")
    def _rollback(_conn: Any) -> None:
        counts["ROLLBACK"] += 1

    return counts


def count_round_trips(counts: Counter[str]) -> None:
    """Count psycopg's round trips as `ROUND_TRIPS` in `counts`: the operations on a connection
    that waited for the server to answer (setting `autocommit`, or a ROLLBACK with no
    transaction open, send nothing and are not counted)."""
    import psycopg
    from psycopg._enums import Wait

    wait = psycopg.Connection.wait

    def watched(gen: Any) -> Any:
        read = False
        try:
            step = next(gen)
            while True:
                read = read or bool(step & Wait.R)
                step = gen.send((yield step))
        except StopIteration as done:
            return done.value
        finally:
            counts["ROUND_TRIPS"] += read

    def counted(self: Any, gen: Any, *args: Any, **kwargs: Any) -> Any:
        return wait(self, watched(gen), *args, **kwargs)

    psycopg.Connection.wait = counted  # type: ignore[method-assign]


def measure(calls: int, profile_lines: int, sort: str = "cumulative") -> dict[str, Any]:
    """Place `calls` calls one after the other; counts and CPU time per call."""
    from dialer import dialing, dispatch
    from dialer.callapi.client import CallApiClient
    from dialer.config import get_settings
    from dialer.db import engine_for
    from dialer.simulator import FakeCallApi
    from dialer.simulator.inprocess import in_process_transport
    from dialer.simulator.simulator import Simulator

    with tempfile.TemporaryDirectory() as tmp, fresh_database("postgres", Path(tmp)) as url:
        configure(url, "http://simulator/v4.0", 10**8, Path(tmp) / "home")
        prepare_campaign(url, calls + 1)
        settings = get_settings()
        engine = engine_for(url)
        queued: list[int] = []
        dispatch.tick(engine, settings, queued.extend, lambda _ids: None)
        simulator = Simulator(FakeCallApi(minute_limit=10**8, day_limit=10**9))
        client = CallApiClient.from_settings(settings, transport=in_process_transport(simulator))
        dialer = dialing.Dialer(settings, engine, client)
        dialing.place_call(dialer, queued.pop())  # warm: connections, caches, first budget row
        counts = count_statements(engine)
        count_round_trips(counts)
        profiler = cProfile.Profile() if profile_lines else None
        cpu, wall = time.process_time(), time.perf_counter()
        if profiler:
            profiler.enable()
        turns = Counter(dialing.place_call(dialer, queued.pop()).status for _ in range(calls))
        if profiler:
            profiler.disable()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        client.close()
        engine.dispose()
    result = {
        "calls": calls,
        "turns": dict(turns),
        "per_call": {k: round(v / calls, 2) for k, v in sorted(counts.items())},
        "cpu_ms_per_call": round(1000 * cpu / calls, 2),
        "wall_ms_per_call": round(1000 * wall / calls, 2),
    }
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(sort).print_stats(profile_lines)
        result["profile"] = out.getvalue()
    return result


def main() -> None:
    """Print the counts (JSON), and the profile when asked."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--profile", type=int, default=0, help="lines of cProfile output")
    args = parser.parse_args()
    result = measure(args.calls, args.profile)
    profile = result.pop("profile", "")
    print(json.dumps(result, indent=2))
    print(profile)


if __name__ == "__main__":
    main()
