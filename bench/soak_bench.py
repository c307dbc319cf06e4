"""Soak benchmark: a long campaign through several worker processes on PostgreSQL and Redis against
a simulator that answers some `start.*` requests late and cuts some connections.

    .venv/bin/python -m bench.soak_bench --contacts 100000 --limit 125 --window 5
    .venv/bin/python -m bench.soak_bench --compare --contacts 600 --limit 30 --workers 1 \
        --concurrency 4

Each run takes a fresh PostgreSQL database, its own queue on Redis db 12 (`SOAK_BROKER_URL`; not
db 13, which `bench.pacing_bench` flushes as its counter's), the simulator in this
process (as `bench.pacing_bench` does), `--workers` Celery worker processes (threads pool) and
the dispatcher in a process of its own (`bench.dispatcher`; in this one with `--dispatch-here`),
so that the simulator's memory, which keeps every call placed, is not counted as the dialer's.
Every `--sample` seconds it records the resident memory of every process (VmRSS), the broker
queue's depth and the calls placed so far. At the end:

- memory first / last / max per process, and the queue depth at most;
- per full simulator window: points spent ÷ the limit (utilization) and calls placed ÷ the limit
  (pace; look-ups take points too), their median, minimum, and the share ≥ 0.97 after the first
  window; the share of requests answered `limit_exceeded`; windows with no call at all;
- the invariants of `tests.integration.fault_checks` (every contact final, nobody dialed twice,
  the database agreeing with the simulator's log, the limit held).

`--compare` runs the campaign twice in the same invocation, first with the `start.*` read timeout
fixed at `--read-timeout` (as before it was fitted), then fitted: the pace with hung answers,
side by side.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import logging
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from bench.pacing_bench import (
    ROOT,
    dialer_worker_command,
    machine,
    prepare_campaign,
    stop_processes,
    wait_until_done,
    workers,
)
from bench.scratch import fresh_database
from dialer.simulator import DEFAULT_ACCESS_TOKEN

BROKER_URL = os.environ.get("SOAK_BROKER_URL", "redis://127.0.0.1:6379/12")
LOOSE_DAY_LIMIT = 10**9


@dataclass
class Samples:
    """What the sampler saw, one row per sample."""

    rows: list[dict[str, Any]] = field(default_factory=list)

    def memory(self) -> dict[str, dict[str, float]]:
        """First, last and highest RSS (MiB) of every process sampled."""
        series: dict[str, list[float]] = collections.defaultdict(list)
        for row in self.rows:
            for name, mib in row["rss_mib"].items():
                series[name].append(mib)
        return {
            name: {"first": values[0], "last": values[-1], "max": max(values)}
            for name, values in series.items()
        }

    def cpu(self, names: Sequence[str]) -> float:
        """CPU seconds the named processes used between the first and the last sample."""
        if len(self.rows) < 2:
            return 0.0
        first: dict[str, float] = self.rows[0]["cpu_s"]
        last: dict[str, float] = self.rows[-1]["cpu_s"]
        return sum(last.get(n, 0.0) - first.get(n, 0.0) for n in names)

    def placed_between_first_and_last(self) -> int:
        """Calls placed between the first and the last sample."""
        if len(self.rows) < 2:
            return 0
        return int(self.rows[-1].get("placed", 0)) - int(self.rows[0].get("placed", 0))

    def queue_depth_max(self) -> int:
        """The most wake-ups waiting on the broker at one sample."""
        return max((row.get("queue_depth", 0) for row in self.rows), default=0)


def configure(args: argparse.Namespace, database_url: str, simulator_url: str, home: Path) -> str:
    """Point this process (and the workers it starts) at one run; returns the queue's name."""
    # One name per process: its Celery app learns its queue once, at the first run.
    queue = f"soak-{os.getpid()}"
    os.environ.update(
        DIALER_DATABASE_URL=database_url,
        DIALER_BROKER_URL=BROKER_URL,
        DIALER_QUEUE=queue,
        DIALER_CALLAPI_URL=simulator_url,
        DIALER_CALLAPI_ACCESS_TOKEN=DEFAULT_ACCESS_TOKEN,
        DIALER_MINUTE_LIMIT=str(args.limit),
        DIALER_WINDOW_SECONDS=str(args.window),
        DIALER_DAY_LIMIT=str(LOOSE_DAY_LIMIT),
        DIALER_DISPATCH_INTERVAL="0.25",
        DIALER_HOME=str(home),
        DIALER_OUTCOMES="off",  # dialing only: outcome collection has its own benchmark
        DIALER_CALLAPI_READ_TIMEOUT=str(args.read_timeout),
        DIALER_CALLAPI_FIT_START_TIMEOUT="on" if args.fit else "off",
    )
    from dialer.config import get_settings

    get_settings.cache_clear()
    return queue


def rss_mib(pid: int) -> float | None:
    """The resident memory of a process in MiB, None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    line = next((x for x in status.splitlines() if x.startswith("VmRSS:")), None)
    return int(line.split()[1]) / 1024 if line else None


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a process has used so far, None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # After the command name: state is field 3, utime 14 and stime 15 (1-based, man 5 proc).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ResentCounter(logging.Handler):
    """Counts the wake-ups the dispatcher re-sent as lost (its `re-sending N` warnings): with no
    broker lost during a run, each is a duplicate task that finds its contact no longer queued."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.resent = 0

    def emit(self, record: logging.LogRecord) -> None:
        """Add up the N of each re-send warning."""
        if record.getMessage().startswith("re-sending") and isinstance(record.args, tuple):
            self.resent += int(str(record.args[0]))


def resent_in(log: Path) -> int:
    """The wake-ups a dispatcher running in its own process re-sent as lost, from its log."""
    if not log.exists():
        return 0
    return sum(int(n) for n in re.findall(r"re-sending (\d+) wake-ups", log.read_text()))


@contextlib.contextmanager
def dispatcher_process(here: bool, log: Path) -> Iterator[subprocess.Popen[bytes] | None]:
    """The dispatcher in a process of its own (`bench.dispatcher`), or None when `here`."""
    if here:
        yield None
        return
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.dispatcher", "0.25"],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    try:
        yield process
    finally:
        stop_processes([process])


def queue_depth(broker: redis.Redis, queue: str) -> int:
    """Messages waiting on the queue (Celery's Redis transport: a list per priority step)."""
    total = 0
    for key in broker.scan_iter(match=f"{queue}*"):
        if broker.type(key) == b"list":
            total += int(broker.llen(key))
    return total


def sample_forever(
    stop: threading.Event,
    every: float,
    pids: dict[str, int],
    queue: str,
    progress: Callable[[], dict[str, int]],
    samples: Samples,
) -> None:
    """Every `every` seconds until `stop`: memory, queue depth, and progress."""
    broker = redis.Redis.from_url(BROKER_URL)
    started = time.monotonic()
    while not stop.wait(every):
        memory = {name: rss_mib(pid) for name, pid in pids.items()}
        row: dict[str, Any] = {
            "t": round(time.monotonic() - started, 1),
            "utc": time.strftime("%H:%M:%S", time.gmtime()),
            "rss_mib": {k: round(v, 1) for k, v in memory.items() if v is not None},
            "cpu_s": {k: c for k, c in ((k, cpu_seconds(p)) for k, p in pids.items()) if c},
        }
        try:
            row.update(queue_depth=queue_depth(broker, queue), **progress())
        except (redis.RedisError, SQLAlchemyError) as exc:
            # A broker restarted under the run is part of what a soak meets: note it, go on.
            row["error"] = f"{type(exc).__name__}: {exc}"[:200]
        samples.rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)


def open_contacts(database_url: str) -> int:
    """Contacts not yet final."""
    from dialer.db import engine_for, transaction
    from dialer.models import FINAL_STATUSES, Contact

    with transaction(engine_for(database_url)) as session:
        query = select(func.count()).where(Contact.status.not_in(list(FINAL_STATUSES)))
        return int(session.execute(query).scalar_one())


def windows(log: Sequence[Any], window: float, limit: int) -> dict[str, Any]:
    """Points and calls per full simulator window (they start at the first request), ÷ limit."""
    from tests.integration.engine_harness import created_calls

    first = log[0].time
    points: collections.Counter[int] = collections.Counter()
    calls: collections.Counter[int] = collections.Counter()
    for entry in log:
        if entry.outcome == "ok":
            points[int((entry.time - first) // window)] += 1
    for entry in created_calls(log):
        calls[int((entry.time - first) // window)] += 1
    # The full windows while first requests were still going out: the last one, where the
    # campaign runs dry, is partial.
    last = max(calls)
    used = [points[i] / limit for i in range(last)]
    pace = [calls[i] / limit for i in range(last)]
    after_first = used[1:] or used
    # Where in the window the points went: the mean share of the limit spent in each fifth of it.
    fifths: collections.Counter[int] = collections.Counter()
    for entry in log:
        offset = (entry.time - first) / window
        if entry.outcome == "ok" and int(offset) < last:
            fifths[min(4, int(5 * (offset % 1)))] += 1
    return {
        "windows": last,
        "points_by_fifth_of_window": [round(fifths[i] / last / limit, 3) for i in range(5)],
        "utilization_median": statistics.median(used),
        "utilization_min": min(used),
        "utilization_share_ge_097": sum(u >= 0.97 for u in after_first) / len(after_first),
        # Which windows fell short, to line them up with the 5-second samples.
        "windows_below_097": {i: round(u, 3) for i, u in enumerate(used) if i and u < 0.97},
        "pace_median": statistics.median(pace),
        "pace_mean": statistics.fmean(pace),
        "pace_min": min(pace),
        "windows_without_calls": sum(calls[i] == 0 for i in range(1, last)),
        "max_points_in_a_window": max(points.values()),
    }


def invariants(
    database_url: str, server: Any, queue: str, limit: int, window: float, *, finished: bool
) -> dict[str, Any]:
    """`fault_checks.check_run` on this run: every invariant, or the first that failed. A run
    stopped early is checked for all but "every contact final"."""
    from dialer.db import engine_for, transaction
    from dialer.models import Campaign
    from tests.integration import fault_checks
    from tests.integration.engine_harness import REDIS, EngineRun

    engine = engine_for(database_url)
    with transaction(engine) as session:
        campaign_ids = list(session.scalars(select(Campaign.id)))
    run = EngineRun(Path("."), REDIS, queue, database_url, engine, server, {})
    try:
        if finished:
            fault_checks.check_run(run, campaign_ids, minute_limit=limit, window_seconds=window)
        else:
            fault_checks.check_dialed_once(run)
            fault_checks.check_database_agrees_with_log(run, campaign_ids)
            fault_checks.check_points_kept(run, limit, window)
    except AssertionError as exc:
        return {"held": False, "failed": str(exc)[:2000]}
    return {"held": True, "checked": "all" if finished else "all but every contact final"}


def stop_early(database_url: str, grace: float) -> None:
    """Pause the campaign and wait (workers still running) until no request is in flight."""
    from dialer import lifecycle
    from dialer.db import engine_for, transaction
    from dialer.models import Attempt, AttemptOutcome

    engine = engine_for(database_url)
    with transaction(engine) as session:
        lifecycle.pause(session, "bench")
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        with transaction(engine) as session:
            query = select(func.count()).where(Attempt.outcome == AttemptOutcome.REQUESTING)
            if not session.execute(query).scalar_one():
                return
        time.sleep(1.0)


def run_campaign(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """One campaign through the whole pipeline, sampled; what it came to."""
    from dialer.simulator import FakeCallApi, SimulatorServer
    from dialer.simulator import simulator as simulator_module

    # The invariants need every request the run made; the simulator keeps only the latest
    # 100,000 by default.
    simulator_module.MAX_LOG_ENTRIES = 10 * args.contacts + 100_000
    config = FakeCallApi(
        minute_limit=args.limit,
        day_limit=LOOSE_DAY_LIMIT,
        window_seconds=args.window,
        call_duration=args.call_duration,
        slow_rate=args.slow_rate,
        slow_seconds=args.slow_seconds,
        cut_after_create_rate=args.cut_rate,
        seed=args.seed,
    )
    samples = Samples()
    resent = ResentCounter()
    logging.getLogger("dialer.dispatch").addHandler(resent)
    with fresh_database("postgres", workdir) as url, SimulatorServer(config) as server:
        queue = configure(args, url, server.url, workdir / "home")
        prepare_campaign(url, args.contacts)
        command = dialer_worker_command(args.concurrency)
        with (
            workers(command, args.workers, workdir / "w.log") as processes,
            dispatcher_process(args.dispatch_here, workdir / "dispatcher.log") as dispatcher,
        ):
            if dispatcher is None:
                pids = {"bench (simulator, dispatcher)": os.getpid()}
            else:
                pids = {"bench (simulator)": os.getpid(), "dispatcher": dispatcher.pid}
            pids.update({f"worker {i}": p.pid for i, p in enumerate(processes)})

            def progress() -> dict[str, int]:
                return {"placed": server.stats().calls_placed, "open": open_contacts(url)}

            stop = threading.Event()
            sampler = threading.Thread(
                target=sample_forever,
                args=(stop, args.sample, pids, queue, progress, samples),
                daemon=True,
            )
            sampler.start()
            started = time.monotonic()
            try:
                elapsed = wait_until_done(
                    url, timeout=args.timeout, poll=1.0, dispatch=args.dispatch_here
                )
                finished = True
            except (TimeoutError, KeyboardInterrupt):
                # Out of time (or stopped by hand): what it did so far is still worth checking.
                elapsed, finished = time.monotonic() - started, False
                stop_early(url, grace=args.read_timeout + 15)
            finally:
                stop.set()
                sampler.join()
        logging.getLogger("dialer.dispatch").removeHandler(resent)
        log = server.request_log()
        stats = server.stats()
        worker_names = [name for name in pids if name.startswith("worker")]
        placed = max(1, samples.placed_between_first_and_last())
        result = {
            "finished": finished,
            "fit_start_timeout": args.fit,
            "elapsed_seconds": elapsed,
            "requests": stats.requests,
            "calls_placed": stats.calls_placed,
            "limit_exceeded_share": stats.limit_exceeded / stats.requests,
            "faults": dict(collections.Counter(e.fault for e in log if e.fault)),
            **windows(log, args.window, args.limit),
            "memory_mib": samples.memory(),
            "queue_depth_max": samples.queue_depth_max(),
            "wakeups_resent": resent.resent + resent_in(workdir / "dispatcher.log"),
            # Between the first and last samples, so that start-up and shutdown are not counted.
            "worker_cpu_ms_per_call": round(1000 * samples.cpu(worker_names) / placed, 2),
            "bench_cpu_ms_per_call": round(1000 * samples.cpu(list(pids)[:1]) / placed, 2),
            "dispatcher_cpu_ms_per_call": round(1000 * samples.cpu(["dispatcher"]) / placed, 2),
            "open_contacts": open_contacts(url),
            "invariants": invariants(
                url, server, queue, args.limit, args.window, finished=finished
            ),
        }
        # Shown before the scratch database is dropped, so that a failed drop loses nothing.
        print(json.dumps(result), file=sys.stderr, flush=True)
        with contextlib.suppress(redis.RedisError):
            redis.Redis.from_url(BROKER_URL).delete(queue)
    return result


def parse_args() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--limit", type=int, default=125, help="points per window")
    parser.add_argument("--window", type=float, default=5.0, help="seconds in the 'minute'")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=8, help="threads per worker")
    parser.add_argument("--slow-rate", type=float, default=0.03)
    parser.add_argument("--slow-seconds", type=float, default=20.0)
    parser.add_argument("--cut-rate", type=float, default=0.01, help="cut after create")
    parser.add_argument("--read-timeout", type=float, default=30.0)
    parser.add_argument("--call-duration", type=float, default=30.0)
    parser.add_argument("--sample", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--timeout", type=float, default=6 * 3600.0, help="stop early (paused) after this long"
    )
    parser.add_argument("--no-fit", dest="fit", action="store_false")
    parser.add_argument(
        "--dispatch-here",
        action="store_true",
        help="run the dispatcher in this process, beside the simulator (bench.refill_probe does)",
    )
    parser.add_argument("--compare", action="store_true", help="fixed, then fitted timeout")
    return parser.parse_args()


def main() -> None:
    """Run the soak (or the comparison) and print JSON to stdout."""
    args = parse_args()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, fit in enumerate([False, True] if args.compare else [args.fit]):
            args.fit = fit
            runs.append(run_campaign(args, Path(tmp) / f"run{i}"))
    print(json.dumps({"machine": machine(), "args": vars(args), "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
