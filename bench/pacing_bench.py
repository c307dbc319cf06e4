"""Benchmark of the dialing pipeline: how fully it uses the points limit, and how fast it goes
when the limit is out of the way, next to a bare Celery no-op task rate measured in the same run.

    .venv/bin/python -m bench.pacing_bench --repeat 3

Each repeat runs, on a fresh PostgreSQL database and a flushed Redis broker, with `--workers`
Celery worker processes against the built-in simulator on loopback:
- utilization: a campaign of `limit × (windows + 1)` contacts at `--limit` points per
  `--window` seconds; per full simulator window, calls placed ÷ the limit, and the share of
  requests answered `limit_exceeded`;
- throughput: `--contacts` contacts with an unreachable limit; calls placed per second from the
  first request to the last;
- baseline: the same number of no-op tasks through `bench.noop_app` (same broker, processes, pool).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis
from sqlalchemy.exc import SQLAlchemyError

from bench.scratch import fresh_database
from dialer.simulator import DEFAULT_ACCESS_TOKEN

ROOT = Path(__file__).resolve().parent.parent
BROKER_URL = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/14")
COUNTER_URL = os.environ.get("BENCH_COUNTER_URL", "redis://127.0.0.1:6379/13")
CAMPAIGN = """
name = "bench"
method = "start.informer_call"
[params]
virtual_phone_number = "74993720692"
direction = "out"
contact_message = { type = "tts", value = "Здравствуйте, {name}!" }
"""


def configure(database_url: str, simulator_url: str, limit: int, home: Path) -> None:
    """Point this process (and the workers it starts) at one run's database and simulator."""
    os.environ.update(
        DIALER_DATABASE_URL=database_url,
        DIALER_BROKER_URL=BROKER_URL,
        DIALER_CALLAPI_URL=simulator_url,
        DIALER_CALLAPI_ACCESS_TOKEN=DEFAULT_ACCESS_TOKEN,
        DIALER_MINUTE_LIMIT=str(limit),
        DIALER_DAY_LIMIT=str(min(max(limit * 10, 100_000), 10**9)),
        DIALER_DISPATCH_INTERVAL="0.25",
        # Dialing is measured: a campaign completes when its contacts are final, without waiting
        # for the calls' results from the Data API (as in the engine's integration runs).
        DIALER_OUTCOMES="off",
        DIALER_HOME=str(home),
        # A queue of its own, so that nothing else on the same broker can take its messages.
        DIALER_QUEUE=f"bench-{os.getpid()}",
    )
    from dialer.config import get_settings

    get_settings.cache_clear()


def prepare_campaign(database_url: str, contacts: int) -> None:
    """Migrate the database, create the campaign, bulk-insert its contacts, and start it."""
    from sqlalchemy import insert

    from dialer import lifecycle
    from dialer.campaigns import create_campaign, parse_campaign
    from dialer.db import engine_for, transaction
    from dialer.migrate import ensure_schema
    from dialer.models import Contact

    engine = engine_for(database_url)
    ensure_schema(engine)
    with transaction(engine) as session:
        campaign = create_campaign(session, parse_campaign(CAMPAIGN))
        rows = [
            {"campaign_id": campaign.id, "phone": f"7926{i:07d}", "variables": {"name": str(i)}}
            for i in range(contacts)
        ]
        session.execute(insert(Contact), rows)
        lifecycle.start(session, "bench")


@contextmanager
def workers(command: list[str], count: int, log: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`count` worker processes running `command`, stopped (warm, then killed) afterwards."""
    log.parent.mkdir(parents=True, exist_ok=True)
    processes = []
    with log.open("ab") as out:
        for i in range(count):
            named = [*command, f"--hostname=bench{i}-{os.getpid()}@%h"]
            processes.append(
                subprocess.Popen(named, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
            )
    try:
        yield processes
    finally:
        stop_processes(processes)


def stop_processes(processes: list[subprocess.Popen[bytes]]) -> None:
    """Stop `processes`: SIGTERM to all, then SIGKILL to any still running 20 s later."""
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def cpu_seconds(processes: list[subprocess.Popen[bytes]]) -> float:
    """The CPU time (user + system) the running `processes` have used so far (Linux /proc;
    0 elsewhere): a cost per call that depends less on the machine's load than a rate does."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0
    for process in processes:
        try:
            fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def _at_first_call(
    server: Any, processes: list[subprocess.Popen[bytes]], first: list[tuple[float, int]]
) -> None:
    """Note the workers' CPU and the calls placed once the first call is placed."""
    while not first:
        placed = server.stats().calls_placed
        if placed:
            first.append((cpu_seconds(processes), placed))
            return
        time.sleep(0.005)


def dialer_worker_command(concurrency: int) -> list[str]:
    """A dialer worker process, as `dialer run` starts them (minus its hostname)."""
    from dialer.runner import worker_command

    return [
        a
        for a in worker_command(concurrency, "threads", "x", loglevel="WARNING")
        if not a.startswith("--host")
    ]


def wait_until_done(
    database_url: str, timeout: float, poll: float = 0.2, *, dispatch: bool = True
) -> float:
    """Run the dispatcher here (unless `dispatch` is off: another process does) until the
    campaign completes; returns the seconds it took. A database restarted under the run is ridden
    out (said on stderr)."""
    from dialer.db import engine_for, transaction
    from dialer.models import Campaign, CampaignState
    from dialer.runner import dispatch_forever

    stop = threading.Event()
    thread = threading.Thread(target=dispatch_forever, args=(stop, 0.25), daemon=True)
    started = time.monotonic()
    if dispatch:
        thread.start()
    try:
        while time.monotonic() - started < timeout:
            try:
                with transaction(engine_for(database_url)) as session:
                    state = session.query(Campaign.state).scalar()
            except SQLAlchemyError as exc:
                print(f"database unreachable: {type(exc).__name__}", file=sys.stderr, flush=True)
                state = None
            if state == CampaignState.COMPLETED:
                return time.monotonic() - started
            time.sleep(poll)
        raise TimeoutError(f"the campaign did not complete in {timeout} s")
    finally:
        stop.set()
        if dispatch:
            thread.join()


def flush_broker() -> None:
    """Start from an empty broker and counter."""
    redis.Redis.from_url(BROKER_URL).flushdb()
    redis.Redis.from_url(COUNTER_URL).flushdb()


def placed_times(server: Any) -> list[float]:
    """When each successful start.* request reached the simulator."""
    return sorted(
        e.time
        for e in server.request_log()
        if e.method and e.method.startswith("start.") and e.outcome == "ok"
    )


def run_dialer(
    args: argparse.Namespace, workdir: Path, contacts: int, limit: int, window: float
) -> dict[str, Any]:
    """One campaign through the whole pipeline; what the simulator saw."""
    from dialer.simulator import FakeCallApi, SimulatorServer

    flush_broker()
    config = FakeCallApi(
        minute_limit=limit,
        day_limit=min(max(limit * 10, 100_000), 10**9),
        window_seconds=window,
        call_duration=1.0,
    )
    with fresh_database("postgres", workdir) as url, SimulatorServer(config) as server:
        configure(url, server.url, limit, workdir / "home")
        prepare_campaign(url, contacts)
        with workers(
            dialer_worker_command(args.concurrency), args.workers, workdir / "w.log"
        ) as processes:
            # The workers' CPU from their first placed call on (their start-up left out),
            # seen from a thread while `wait_until_done` drives the campaign.
            first: list[tuple[float, int]] = []
            watcher = threading.Thread(target=_at_first_call, args=(server, processes, first))
            watcher.start()
            try:
                elapsed = wait_until_done(url, timeout=args.timeout)
            finally:
                first.append((0.0, 0))  # stops the watcher if no call was ever placed
                watcher.join()
            cpu, placed = first[0]
            cpu = cpu_seconds(processes) - cpu
        stats = server.stats()
        times = placed_times(server)
    return {
        "elapsed": elapsed,
        "times": times,
        "requests": stats.requests,
        "limit_exceeded": stats.limit_exceeded,
        "placed": stats.calls_placed,
        "worker_cpu_ms_per_call": 1000 * cpu / max(stats.calls_placed - placed, 1),
    }


def utilization(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Placed calls per full window ÷ the limit, and the limit_exceeded share."""
    contacts = args.limit * (args.windows + 1)
    run = run_dialer(args, workdir, contacts, args.limit, args.window)
    start = run["times"][0]  # the simulator's window starts at the first counted request
    per_window = collections.Counter(int((t - start) // args.window) for t in run["times"])
    full = [per_window[i] / args.limit for i in range(max(per_window))]  # the last is partial
    return {
        "utilization_per_window": full,
        "utilization_median": statistics.median(full),
        "utilization_min": min(full),
        "max_per_window": max(per_window.values()),
        "requests": run["requests"],
        "limit_exceeded": run["limit_exceeded"],
        "limit_exceeded_share": run["limit_exceeded"] / run["requests"],
    }


def throughput(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Calls per second with the limit out of the way."""
    run = run_dialer(args, workdir, args.contacts, 10**8, 60.0)
    span = run["times"][-1] - run["times"][0]
    return {
        "calls": run["placed"],
        "calls_per_second": (run["placed"] - 1) / span,
        "end_to_end_seconds": run["elapsed"],
        "worker_cpu_ms_per_call": run["worker_cpu_ms_per_call"],
    }


def noop_baseline(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """The same number of do-nothing tasks through bare Celery, same broker and processes."""
    flush_broker()
    os.environ.update(BENCH_BROKER_URL=BROKER_URL, BENCH_COUNTER_URL=COUNTER_URL)
    from bench.noop_app import COUNTER_KEY, noop

    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "bench.noop_app",
        "worker",
        f"--concurrency={args.concurrency}",
        "--pool=threads",
        "--loglevel=WARNING",
        "--without-mingle",
        "--without-gossip",
        "--without-heartbeat",
    ]
    counter = redis.Redis.from_url(COUNTER_URL)
    with workers(command, args.workers, workdir / "noop.log") as processes:
        time.sleep(2)  # let the workers connect, as the dialer's have while its campaign is set up
        cpu = cpu_seconds(processes)
        started = time.monotonic()
        with noop.app.producer_or_acquire() as producer:
            for _ in range(args.contacts):
                noop.apply_async(producer=producer)
        while int(counter.get(COUNTER_KEY) or 0) < args.contacts:
            if time.monotonic() - started > args.timeout:
                raise TimeoutError("the no-op tasks did not finish")
            time.sleep(0.01)
        elapsed = time.monotonic() - started
        cpu = cpu_seconds(processes) - cpu
    return {
        "tasks": args.contacts,
        "tasks_per_second": args.contacts / elapsed,
        "worker_cpu_ms_per_task": 1000 * cpu / args.contacts,
    }


def machine() -> dict[str, Any]:
    """What this ran on."""
    return {
        "date": time.strftime("%Y-%m-%d"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def main() -> None:
    """Run the benchmark and print JSON (and a Markdown summary) to stdout."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--limit", type=int, default=60, help="points per window")
    parser.add_argument("--window", type=float, default=3.0, help="seconds in the 'minute'")
    parser.add_argument("--windows", type=int, default=8, help="full windows to measure")
    parser.add_argument("--contacts", type=int, default=3000, help="for the throughput run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument(
        "--parts",
        default="utilization,throughput,noop",
        help="which parts to run, comma-separated (the ratio needs throughput and noop)",
    )
    args = parser.parse_args()
    parts = {"utilization": utilization, "throughput": throughput, "noop": noop_baseline}
    chosen = [name.strip() for name in args.parts.split(",")]
    results: dict[str, list[dict[str, Any]]] = {"utilization": [], "throughput": [], "noop": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            workdir = Path(tmp) / f"run{i}"
            for name in chosen:
                results[name].append(parts[name](args, workdir))
            print(json.dumps({k: v[-1] for k, v in results.items() if v}), file=sys.stderr)
    summary = summarize(results)
    print(
        json.dumps(
            {"machine": machine(), "args": vars(args), "summary": summary, "runs": results},
            indent=2,
        )
    )


def summarize(results: dict[str, list[dict[str, Any]]]) -> dict[str, float]:
    """Medians over the repeats of the parts that ran, and the ratio of pipeline to bare Celery."""
    med = statistics.median
    summary: dict[str, float] = {}
    if runs := results["utilization"]:
        summary["utilization_median"] = med(r["utilization_median"] for r in runs)
        summary["utilization_min"] = min(r["utilization_min"] for r in runs)
        summary["limit_exceeded_share_median"] = med(r["limit_exceeded_share"] for r in runs)
    if runs := results["throughput"]:
        summary["calls_per_second_median"] = med(r["calls_per_second"] for r in runs)
    if runs := results["noop"]:
        summary["noop_tasks_per_second_median"] = med(r["tasks_per_second"] for r in runs)
    if results["throughput"] and results["noop"]:
        summary["pipeline_to_noop_ratio"] = (
            summary["calls_per_second_median"] / summary["noop_tasks_per_second_median"]
        )
        # The same ratio from the workers' CPU per call and per task: what the rates' ratio
        # would be if the workers alone bounded both, and far less moved by other load.
        call_cpu = med(r["worker_cpu_ms_per_call"] for r in results["throughput"])
        task_cpu = med(r["worker_cpu_ms_per_task"] for r in results["noop"])
        summary["worker_cpu_ms_per_call_median"] = call_cpu
        summary["worker_cpu_ms_per_task_median"] = task_cpu
        summary["worker_cpu_ratio"] = task_cpu / call_cpu if call_cpu else 0.0
    return summary


if __name__ == "__main__":
    main()
