"""Benchmark of `dialer run` on the embedded default: how fully it uses the points limit.

    .venv/bin/python -m bench.embedded_pace_bench --repeat 3 --baseline main

Each run is what a user does, in child processes: `dialer fake-api --minute-limit 60
--window-seconds 2` on a free loopback port, then `dialer campaign create`, `dialer contacts
import` and `dialer run` (4 threads) on a fresh DIALER_HOME: a SQLite file, the embedded
file-system broker, one Celery worker process. The dialer is told nothing but the simulator's
address and key (its first guess of the limit is the default 60, of the window 60 s); outcome
collection is off, as in the end-to-end tests, so that the run ends with its last call.

From the simulator's JSONL request log: for every full window after the first (the first holds
the start-up, the last is partial), calls placed ÷ the limit; the most placed in one window; the
share of start.* requests answered `limit_exceeded`. From the worker's log: the share of its
threads' time spent in tasks. And the CPU of `dialer run` and its worker per call.

With `--baseline REF` (repeatable), the same runs of the code at git REF (exported to a
temporary folder) are interleaved with this checkout's, so that a busy neighbour slows every side
alike; `--concurrency 4 8` runs each side at both thread counts; `--profile` times every
transaction (`bench/pace_profile/sitecustomize.py`) and the CPU of each process.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.pacing_bench import CAMPAIGN, machine
from dialer.simulator import DEFAULT_ACCESS_TOKEN

ROOT = Path(__file__).resolve().parent.parent


def export(ref: str, folder: Path) -> Path:
    """The tree of git `ref` of this repository, written under `folder`."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", ref],
        check=True,
        capture_output=True,
    ).stdout
    target = folder / f"code-{ref.replace('/', '_')}"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


PROFILE = Path(__file__).resolve().parent / "pace_profile"


def environment(code: Path, home: Path, url: str, *, profile: bool = False) -> dict[str, str]:
    """The environment of every `dialer` child: the code at `code`, its own home, the simulator;
    with `profile`, every transaction timed (`bench/pace_profile/sitecustomize.py`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIALER_")}
    env.update(
        PYTHONPATH=os.pathsep.join([str(PROFILE), str(code)] if profile else [str(code)]),
        DIALER_HOME=str(home),
        DIALER_OUTCOMES="off",
        DIALER_CALLAPI_URL=url,
        DIALER_CALLAPI_ACCESS_TOKEN=DEFAULT_ACCESS_TOKEN,
    )
    return env


@contextmanager
def simulator(args: argparse.Namespace, code: Path, log: Path) -> Iterator[str]:
    """`dialer fake-api` in a child process; yields its Call API URL once it listens."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "dialer",
        "fake-api",
        "--port",
        str(port),
        "--minute-limit",
        str(args.limit),
        "--window-seconds",
        str(args.window),
        "--day-limit",
        str(10**9),
        "--call-duration",
        "1",
        "--answer-after",
        "0.5",
        "--log",
        str(log),
    ]
    env = environment(code, log.parent, "")
    process = subprocess.Popen(
        command, cwd=code, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the simulator did not start") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/v4.0"
    finally:
        process.terminate()
        process.wait(timeout=20)


def dialer(code: Path, env: dict[str, str], *args: str, timeout: float = 120) -> float:
    """Run `dialer ARGS` from `code`; returns the seconds it took."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "dialer", *args],
        cwd=code,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"dialer {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return time.monotonic() - started


def one_run(args: argparse.Namespace, code: Path, threads: int, workdir: Path) -> dict[str, Any]:
    """One campaign of `limit × (windows + 2)` contacts run to its end; what the simulator saw."""
    workdir.mkdir(parents=True)
    log = workdir / "requests.jsonl"
    contacts = args.limit * (args.windows + 2)
    campaign = workdir / "bench.toml"
    campaign.write_text(CAMPAIGN, encoding="utf-8")
    csv = workdir / "contacts.csv"
    csv.write_text(
        "phone,name\n" + "".join(f"7926{i:07d},{i}\n" for i in range(contacts)), encoding="utf-8"
    )
    with simulator(args, code, log) as url:
        env = environment(code, workdir / "home", url)
        dialer(code, env, "campaign", "create", str(campaign))
        dialer(code, env, "contacts", "import", "bench", str(csv))
        env = environment(code, workdir / "home", url, profile=args.profile)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        elapsed = dialer(code, env, "run", "bench", "--concurrency", str(threads))
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # `dialer run` and its worker process (waited for by it), not the simulator.
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    result = {
        "seconds": elapsed,
        "cpu_ms_per_call": 1000 * cpu / contacts,
        "thread_busy": thread_busy(workdir / "home" / "worker.log", threads),
        **utilization(log, args.limit, args.window),
    }
    if args.profile:
        result["transactions"] = transactions(workdir / "home", contacts)
        result["cpu_ms_per_call_by_process"] = {
            process_name(data["argv"]): 1000 * data["cpu_seconds"] / contacts
            for data in (
                json.loads(file.read_text(encoding="utf-8"))
                for file in (workdir / "home").glob("cpu-*.json")
            )
        }
    return result


def process_name(argv: list[str]) -> str:
    """`worker` for the Celery worker, else the `dialer` command (`run`, `import`, ...)."""
    return "worker" if "worker" in argv else " ".join(argv[1:2]) or "?"


def transactions(home: Path, calls: int) -> dict[str, Any]:
    """Per process and calling function: transactions, and milliseconds per call spent waiting
    for the database to begin them (SQLite: the write lock) and holding them open."""
    table: dict[str, Any] = {}
    for file in sorted(home.glob("transactions-*.jsonl")):
        rows = [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines()]
        process = "dispatcher" if any(r["thread"] == "MainThread" for r in rows) else "worker"
        for row in rows:
            entry = table.setdefault(f"{process}:{row['caller']}", [0, 0.0, 0.0])
            entry[0] += 1
            entry[1] += row["wait_ms"]
            entry[2] += row["held_ms"]
    return {
        key: {"n": n, "wait_ms_per_call": wait / calls, "held_ms_per_call": held / calls}
        for key, (n, wait, held) in sorted(table.items())
    }


TASK_LINE = re.compile(
    r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}): INFO/MainProcess\] "
    r"Task dialer\.place_call\[[^\]]+\] (received|succeeded in ([\d.]+)s)"
)


def thread_busy(worker_log: Path, threads: int) -> float:
    """Seconds the worker's threads spent in tasks ÷ (threads × the span from the first task
    received to the last one done), from Celery's log lines; waiting for a reset counts."""
    stamps, busy = [], 0.0
    for match in TASK_LINE.finditer(worker_log.read_text(encoding="utf-8", errors="replace")):
        stamps.append(dt.datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S,%f"))
        busy += float(match[3] or 0)
    span = (max(stamps) - min(stamps)).total_seconds()
    return busy / (threads * span)


def utilization(log: Path, limit: int, window: float) -> dict[str, Any]:
    """Calls per full window after the first ÷ the limit, from the simulator's request log."""
    entries = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    starts = [e for e in entries if (e["method"] or "").startswith("start.")]
    # The simulator's windows are fixed: the first reply's reset names where the first ends.
    first = next(e for e in starts if e["limits"])
    opened = first["time"] + first["limits"]["minute_reset"] - window
    per_window = Counter(
        int((e["time"] - opened) // window) for e in starts if e["outcome"] == "ok"
    )
    measured = range(1, max(per_window))
    full = [per_window[i] / limit for i in measured]
    refused = sum(e["outcome"] == "limit_exceeded" for e in starts)
    # Where a short window lost its calls: late after the reset, or too slow within it.
    offsets: dict[int, list[float]] = {}
    for e in starts:
        if e["outcome"] == "ok":
            index = int((e["time"] - opened) // window)
            offsets.setdefault(index, []).append(e["time"] - opened - index * window)
    return {
        "utilization_per_window": full,
        "first_call_ms": [round(1000 * min(offsets[i]), 1) for i in measured if i in offsets],
        "last_call_ms": [round(1000 * max(offsets[i]), 1) for i in measured if i in offsets],
        "utilization_median": statistics.median(full),
        "utilization_min": min(full),
        "max_per_window": max(per_window.values()),
        "requests": len(starts),
        "limit_exceeded": refused,
        "limit_exceeded_share": refused / len(starts),
    }


def summarize(runs: list[dict[str, Any]]) -> dict[str, float]:
    """Medians over the repeats of one side, and the worst window of all."""
    return {
        "utilization_median": statistics.median(r["utilization_median"] for r in runs),
        "utilization_min": min(r["utilization_min"] for r in runs),
        "max_per_window": max(r["max_per_window"] for r in runs),
        "limit_exceeded_share_median": statistics.median(r["limit_exceeded_share"] for r in runs),
        "run_seconds_median": statistics.median(r["seconds"] for r in runs),
        "cpu_ms_per_call_median": statistics.median(r["cpu_ms_per_call"] for r in runs),
        "thread_busy_median": statistics.median(r["thread_busy"] for r in runs),
    }


def main() -> None:
    """Run the benchmark; print each run on stderr, then JSON and a Markdown table on stdout."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=60, help="points per window")
    parser.add_argument("--window", type=float, default=2.0, help="seconds in the 'minute'")
    parser.add_argument("--windows", type=int, default=10, help="full windows to measure")
    parser.add_argument(
        "--concurrency",
        type=int,
        nargs="+",
        default=[4],
        help="threads of `dialer run`; several values are run side by side",
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--baseline",
        metavar="REF",
        action="append",
        default=[],
        help="git ref to compare with, e.g. main (repeatable)",
    )
    parser.add_argument("--keep", type=Path, help="keep each run's folder (logs) under this one")
    parser.add_argument(
        "--profile", action="store_true", help="time every transaction (adds its own overhead)"
    )
    args = parser.parse_args()
    results: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        tmp = args.keep or Path(scratch)
        codes = {f"baseline {ref}": export(ref, tmp) for ref in args.baseline}
        codes["this checkout"] = ROOT
        sides = {
            f"{name}, {threads} threads" if len(args.concurrency) > 1 else name: (code, threads)
            for name, code in codes.items()
            for threads in args.concurrency
        }
        for i in range(args.repeat):
            for side, (code, threads) in sides.items():
                run = one_run(args, code, threads, tmp / f"{i}-{code.name}-{threads}")
                results.setdefault(side, []).append(run)
                shown = " ".join(f"{u:.2f}" for u in run["utilization_per_window"])
                print(
                    f"{side} #{i + 1}: {shown} · limit_exceeded {run['limit_exceeded']}"
                    f" · {run['cpu_ms_per_call']:.1f} CPU ms a call",
                    file=sys.stderr,
                    flush=True,
                )
    summary = {side: summarize(runs) for side, runs in results.items()}
    report = {"machine": machine(), "args": vars(args), "summary": summary, "runs": results}
    print(json.dumps(report, indent=2, default=str))
    print(table(summary))


def table(summary: dict[str, dict[str, float]]) -> str:
    """The summary as a Markdown table."""
    lines = [
        "| code | utilization, median | minimum window | most in a window | limit_exceeded "
        "| run s | CPU ms a call | thread busy |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for side, s in summary.items():
        lines.append(
            f"| {side} | {s['utilization_median']:.3f} | {s['utilization_min']:.3f} "
            f"| {s['max_per_window']:.0f} | {s['limit_exceeded_share_median']:.1%} "
            f"| {s['run_seconds_median']:.1f} | {s['cpu_ms_per_call_median']:.1f} "
            f"| {s['thread_busy_median']:.2f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
