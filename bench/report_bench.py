"""Benchmark the CSV and JSON delivery reports against a plain SELECT dump of the same rows.

Builds one campaign of `--contacts` contacts (default 1,000,000; one attempt each) with bulk
inserts, on SQLite and on PostgreSQL, then times each report `--runs` times, each run in a fresh
child process so that its peak RSS can be read and shows whether the report streams.

    .venv/bin/python -m bench.report_bench --contacts 1000000 --runs 3

PostgreSQL comes from DIALER_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test);
a scratch database `dialer_report_bench` is created next to it and dropped at the end.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine, create_engine, insert, text

from dialer.campaigns import find_campaign
from dialer.db import Base, make_engine, normalize_url, transaction
from dialer.models import Attempt, Campaign, Contact
from dialer.reports.csv_report import write_csv
from dialer.reports.json_report import write_json
from dialer.reports.rows import contact_rows_query

OUT = Path(__file__).resolve().parent / "out"
PG_ADMIN_URL = os.environ.get(
    "DIALER_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
PG_DB = "dialer_report_bench"
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
CHUNK = 20_000
NAME = "bench"
KINDS = ("plain", "csv", "json")
# Status of contact i, and the attempt outcome and error that go with it.
MIX = (
    ("placed", "placed", None),
    ("placed", "placed", None),
    ("placed", "placed", None),
    ("failed", "contact_error", "invalid_contact"),
    ("blacklisted", "blacklisted", "contact_in_blacklist"),
    ("unknown", "unknown", None),
    ("placed", "placed", None),
    ("pending", None, None),
)
LIMITS = {
    "minute_limit": 120,
    "minute_remaining": 60,
    "minute_reset": 30,
    "day_limit": 2_000_000,
    "day_remaining": 1_000_000,
    "day_reset": 3600,
}


def _contact(i: int) -> dict[str, Any]:
    status, _, mnemonic = MIX[i % len(MIX)]
    tried = status != "pending"
    return {
        "id": i,
        "campaign_id": 1,
        "phone": f"7926{i:07d}",
        "variables": {"имя": f"Иван {i}", "сумма": f"-{i % 1000}", "заметка": "=1+1", "n": i},
        "line_no": i + 1,
        "status": status,
        "requests": int(tried),
        "rounds": int(tried),
        "last_attempt_at": T0 + dt.timedelta(seconds=i * 0.5) if tried else None,
        "error_mnemonic": mnemonic,
        "error_message": f"{mnemonic}: refused" if mnemonic else None,
        "updated_at": T0,
    }


def _attempt(i: int) -> dict[str, Any] | None:
    _, outcome, mnemonic = MIX[i % len(MIX)]
    if outcome is None:
        return None
    at = T0 + dt.timedelta(seconds=i * 0.5)
    return {
        "id": i,
        "external_id": f"bench-{i:08d}",
        "call_session_id": 10_000_000 + i if outcome == "placed" else None,
        "contact_id": i,
        "campaign_id": 1,
        "method": "start.informer_call",
        "params": {"access_token": "***", "contact": f"7926{i:07d}"},
        "requested_at": at,
        "answered_at": at + dt.timedelta(milliseconds=300),
        "outcome": outcome,
        "error_mnemonic": mnemonic,
        "limits": LIMITS,
    }


def _chunks(n: int) -> Iterator[range]:
    for start in range(1, n + 1, CHUNK):
        yield range(start, min(start + CHUNK, n + 1))


def build(engine: Engine, contacts: int) -> float:
    """Create the tables and one campaign of `contacts` contacts, one attempt each; seconds."""
    started = time.perf_counter()
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(Campaign),
            [
                {
                    "id": 1,
                    "name": NAME,
                    "method": "start.informer_call",
                    "params": {},
                    "state": "running",
                    "options": {},
                    "started_at": T0,
                    "created_at": T0,
                    "updated_at": T0,
                }
            ],
        )
    for ids in _chunks(contacts):
        with engine.begin() as conn:
            conn.execute(insert(Contact), [_contact(i) for i in ids])
            rows = [a for a in map(_attempt, ids) if a is not None]
            conn.execute(insert(Attempt), rows)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return time.perf_counter() - started


def plain_dump(engine: Engine, out: IO[str]) -> None:
    """The baseline: the same SELECT on the bare driver cursor, rows written as they come."""
    sql = str(contact_rows_query(1).compile(engine, compile_kwargs={"literal_binds": True}))
    raw = engine.raw_connection()
    try:
        dbapi: Any = raw.driver_connection
        # A named cursor is PostgreSQL's server-side cursor; SQLite cursors step lazily anyway.
        cursor = dbapi.cursor("plain") if engine.dialect.name == "postgresql" else dbapi.cursor()
        cursor.execute(sql)
        writer = csv.writer(out)
        while batch := cursor.fetchmany(2000):
            writer.writerows(batch)
        cursor.close()
        dbapi.rollback()
    finally:
        raw.close()


def measure(kind: str, url: str, target: Path) -> dict[str, float]:
    """Run one report in this process; its wall time and this process's peak RSS."""
    engine = make_engine(url)
    before = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = before.ru_utime + before.ru_stime
    started = time.perf_counter()
    with target.open("w", encoding="utf-8", newline="") as out:
        if kind == "plain":
            plain_dump(engine, out)
        else:
            with transaction(engine) as session:
                campaign = find_campaign(session, NAME)
                (write_csv if kind == "csv" else write_json)(session, campaign, out)
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "seconds": seconds,
        # This process's own CPU: steadier than wall time on a shared machine, but on PostgreSQL
        # it leaves out the server's share of the work.
        "cpu_seconds": usage.ru_utime + usage.ru_stime - cpu_before,
        "peak_rss_mb": peak_rss_mb(),
        "bytes": target.stat().st_size,
    }


def peak_rss_mb() -> float:
    """This process's peak resident set size, in MiB."""
    # VmHWM belongs to this program's own address space; ru_maxrss on Linux also counts the
    # forked parent's pages from before exec, which would hide the report's own footprint.
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(kind: str, url: str) -> dict[str, float]:
    target = OUT / f"report.{kind}"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.report_bench",
            "--measure",
            kind,
            "--url",
            url,
            "--target",
            str(target),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(result.stdout))


def bench_backend(label: str, url: str, contacts: int, runs: int) -> dict[str, Any]:
    """Build the campaign on one backend and time every kind `runs` times, interleaved."""
    engine = make_engine(url)
    build_seconds = build(engine, contacts)
    engine.dispose()
    print(f"{label}: built {contacts:,} contacts in {build_seconds:.1f} s", flush=True)
    samples: dict[str, list[dict[str, float]]] = {k: [] for k in KINDS}
    for run in range(runs):
        for kind in KINDS:
            sample = _child(kind, url)
            samples[kind].append(sample)
            print(
                f"  run {run + 1} {kind:5} {sample['seconds']:7.2f} s  "
                f"cpu {sample['cpu_seconds']:6.2f} s  {sample['peak_rss_mb']:6.0f} MB",
                flush=True,
            )
    medians = {k: statistics.median(s["seconds"] for s in v) for k, v in samples.items()}
    cpu = {k: statistics.median(s["cpu_seconds"] for s in v) for k, v in samples.items()}
    return {
        "backend": label,
        "build_seconds": build_seconds,
        "median_seconds": medians,
        "ratio_to_plain": {k: medians[k] / medians["plain"] for k in KINDS},
        "median_cpu_seconds": cpu,
        "cpu_ratio_to_plain": {k: cpu[k] / cpu["plain"] for k in KINDS},
        "peak_rss_mb": {k: max(s["peak_rss_mb"] for s in v) for k, v in samples.items()},
        "bytes": {k: v[0]["bytes"] for k, v in samples.items()},
    }


def _postgres() -> tuple[str, Engine]:
    admin = create_engine(normalize_url(PG_ADMIN_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{PG_DB}"'))
    return PG_ADMIN_URL.rpartition("/")[0] + "/" + PG_DB, admin


def main() -> None:
    """Parse the arguments; either run one measurement (child) or the whole benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--measure", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--target", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.url, args.target)))
        return
    OUT.mkdir(exist_ok=True)
    results = []
    for backend in args.backends.split(","):
        if backend == "sqlite":
            db = OUT / "report_bench.db"
            results.append(bench_backend("SQLite", f"sqlite:///{db}", args.contacts, args.runs))
        else:
            url, admin = _postgres()
            try:
                results.append(bench_backend("PostgreSQL", url, args.contacts, args.runs))
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)'))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
