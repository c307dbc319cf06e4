"""A probe around the soak (`bench.soak_bench`): what each dispatcher pass saw and how long its
parts took, the database's autovacuum, and the points per simulator window, to find out why the
broker's queue runs low in stretches of a long run.

    REFILL_PROBE_OUT=/tmp/probe .venv/bin/python -m bench.refill_probe --contacts 100000 \
        --limit 300 --window 5 --timeout 560

Takes the soak's arguments. Writes to the directory `REFILL_PROBE_OUT`:
- `ticks.jsonl`: one line per dispatcher pass: when (epoch seconds), the seconds each part took,
  the budget row as read (points left, its reset), points counted, wake-ups waiting (`queued`
  contacts), the capacity, how many it claimed;
- `db.jsonl`: every second, the scratch database's autovacuum/analyze workers and the contacts'
  and attempts' live/dead rows, and the broker queue's depth;
- `windows.json`: the soak's per-window points, limit_exceeded and faults, with the first
  request's time (to line the windows up with the passes);
- `log.jsonl`: every request the simulator logged (time, method, outcome, fault), and
  `attempts.jsonl`: every attempt (reserved at, outcome, contact, the contact's
  `next_attempt_at`, answered at: a cut request's time to its cut), read before the scratch
  database is dropped.

It changes no behaviour: each part of `dispatch.tick` is wrapped, and `_capacity` is the same
arithmetic with its terms written down.
"""

from __future__ import annotations

import collections
import datetime as dt
import functools
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import create_engine, func, select, text

from bench import soak_bench
from dialer import dispatch, pacing
from dialer.db import normalize_url
from dialer.models import Budget, Contact, ContactStatus

OUT = Path(os.environ.get("REFILL_PROBE_OUT") or Path(tempfile.gettempdir()) / "refill_probe")
_local = threading.local()
_ticks: list[dict[str, Any]] = []


def _timed(name: str, fn: Any) -> Any:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            record = getattr(_local, "record", None)
            if record is not None:
                record[name] = round(time.perf_counter() - started, 4)

    return wrapper


def _capacity(session: Any, budget: Budget, now: dt.datetime, max_queued: int) -> int:
    """`dispatch._capacity`, its terms noted in the pass's record."""
    started = time.perf_counter()
    points = min(pacing.available(budget, 1, now), max_queued)
    _, reset_at = pacing.minute_window(budget, now)
    ahead = reset_at - now <= dispatch.LOOKAHEAD
    if ahead:
        day_left = pacing.day_remaining(budget, now)
        points = min(points + budget.minute_limit, day_left, max_queued)
    waiting = session.scalar(
        select(func.count()).select_from(Contact).where(Contact.status == ContactStatus.QUEUED)
    )
    capacity = max(0, points - int(waiting or 0))
    record = getattr(_local, "record", None)
    if record is not None:
        record.update(
            row_remaining=budget.minute_remaining,
            row_reset=budget.minute_reset_at.timestamp(),
            row_observed=budget.observed_at.timestamp() if budget.observed_at else None,
            to_reset=round((reset_at - now).total_seconds(), 3),
            ahead=ahead,
            points=points,
            waiting=int(waiting or 0),
            capacity=capacity,
            capacity_s=round(time.perf_counter() - started, 4),
        )
    return capacity


def install() -> None:
    """Wrap the dispatcher's parts."""
    for name in (
        "_stale_queued",
        "_stuck_attempts",
        "_release_abandoned",
        "_running",
        "_claim_fairly",
        "_note_waiting",
        "_complete_finished",
    ):
        setattr(dispatch, name, _timed(name, getattr(dispatch, name)))
    dispatch._capacity = _capacity
    original_tick = dispatch.tick

    @functools.wraps(original_tick)
    def tick(*args: Any, **kwargs: Any) -> dispatch.TickResult:
        _local.record = record = {"t": time.time()}
        started = time.perf_counter()
        try:
            result = original_tick(*args, **kwargs)
            record.update(
                claimed=len(result.queued), requeued=len(result.requeued), released=result.released
            )
            return result
        finally:
            record["tick_s"] = round(time.perf_counter() - started, 4)
            _local.record = None
            _ticks.append(record)

    dispatch.tick = tick
    original_windows = soak_bench.windows

    def windows(log: Any, window: float, limit: int) -> dict[str, Any]:
        first = log[0].time
        per: dict[int, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        for entry in log:
            i = int((entry.time - first) // window)
            per[i][f"{entry.method}:{entry.outcome}"] += 1
            if entry.fault:
                per[i][f"fault:{entry.fault}"] += 1
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "windows.json").write_text(
            json.dumps({"first": first, "window": window, "per": {i: per[i] for i in sorted(per)}})
        )
        with (OUT / "log.jsonl").open("w") as out:
            for entry in log:
                row = [entry.time, entry.method, entry.outcome, entry.fault]
                out.write(json.dumps(row) + "\n")
        return original_windows(log, window, limit)

    soak_bench.windows = windows
    original_invariants = soak_bench.invariants

    def invariants(database_url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        engine = create_engine(normalize_url(database_url))
        with engine.connect() as conn, (OUT / "attempts.jsonl").open("w") as out:
            for r in conn.execute(
                text(
                    "SELECT a.requested_at, a.outcome, a.contact_id, c.next_attempt_at,"
                    " a.answered_at"
                    " FROM attempts a JOIN contacts c ON c.id = a.contact_id"
                )
            ):
                out.write(
                    json.dumps(
                        [
                            r[0].timestamp(),
                            str(r[1]),
                            r[2],
                            r[3].timestamp() if r[3] else None,
                            r[4].timestamp() if r[4] else None,
                        ]
                    )
                    + "\n"
                )
        engine.dispose()
        return original_invariants(database_url, *args, **kwargs)

    soak_bench.invariants = invariants


def watch_database(stop: threading.Event) -> None:
    """Every second: autovacuum workers on the run's database, live/dead rows, queue depth."""
    url = None
    while url is None and not stop.wait(0.5):
        url = os.environ.get("DIALER_DATABASE_URL")
    if url is None:
        return
    engine = create_engine(normalize_url(url), isolation_level="AUTOCOMMIT")
    broker = redis.Redis.from_url(soak_bench.BROKER_URL)
    name = url.rpartition("/")[2]
    with (OUT / "db.jsonl").open("w") as out:
        while not stop.wait(1.0):
            row: dict[str, Any] = {"t": time.time()}
            try:
                with engine.connect() as conn:
                    row["autovacuum"] = [
                        r[0]
                        for r in conn.execute(
                            text(
                                "SELECT query FROM pg_stat_activity WHERE datname = :d"
                                " AND backend_type = 'autovacuum worker'"
                            ),
                            {"d": name},
                        )
                    ]
                    row["tables"] = {
                        r.relname: [
                            r.n_live_tup,
                            r.n_dead_tup,
                            r.autovacuum_count,
                            r.autoanalyze_count,
                        ]
                        for r in conn.execute(
                            text(
                                "SELECT relname, n_live_tup, n_dead_tup, autovacuum_count,"
                                " autoanalyze_count FROM pg_stat_user_tables"
                                " WHERE relname IN ('contacts', 'attempts')"
                            )
                        )
                    }
                row["queue"] = soak_bench.queue_depth(broker, os.environ.get("DIALER_QUEUE", ""))
            except Exception as exc:  # a probe notes what failed and goes on
                row["error"] = str(exc)[:200]
            out.write(json.dumps(row) + "\n")
            out.flush()
    engine.dispose()


def main() -> None:
    """Run the soak with the probe installed; write the passes when it ends."""
    OUT.mkdir(parents=True, exist_ok=True)
    # The probe wraps the dispatcher's functions, so the dispatcher must run in this process.
    sys.argv.append("--dispatch-here")
    install()
    stop = threading.Event()
    watcher = threading.Thread(target=watch_database, args=(stop,), daemon=True)
    watcher.start()
    try:
        soak_bench.main()
    finally:
        stop.set()
        watcher.join(timeout=5)
        with (OUT / "ticks.jsonl").open("w") as out:
            for record in _ticks:
                out.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
