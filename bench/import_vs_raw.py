"""The contacts import against the fastest plain load of the same rows into SQLite.

    .venv/bin/python -m bench.import_vs_raw --rows 200000 --repeat 3

Generates a CSV file as a CRM exports it (UTF-8, `,`, the four usual shapes of a Russian mobile:
`+7 926 …`, `8 (926) …`, `926…`, `7926…`, every number distinct), then, each repeat in a fresh
SQLite file and a fresh child process:
- `import`: `dialer.contacts.import_contacts`, what `dialer contacts import` runs (detection,
  normalization, dedupe, rejects), with its default worker processes;
- `raw`: `csv.reader` over the same file and one `sqlite3` `executemany("insert or ignore …")` of
  the same rows (the phone as written, the row's cells as JSON) in one transaction.
Each child reports its wall time and peak RSS; the medians and their ratio are printed.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.scratch import fresh_database, run_child

HEADER = ["phone", "name", "city", "order"]
NAMES = ["Анна", "Борис", "Виктория", "Григорий", "Дарья", "Евгений", "Жанна", "Зоя"]
CITIES = ["Москва", "Санкт-Петербург", "Казань", "Нижний Новгород", "Тверь"]


def shape(national: str, style: int) -> str:
    """One of the four shapes of a ten-digit Russian national number."""
    a, b, c, d = national[:3], national[3:6], national[6:8], national[8:]
    return (f"+7 {a} {b} {c} {d}", f"8 ({a}) {b}-{c}-{d}", national, f"7{national}")[style % 4]


def generate(path: Path, rows: int, seed: int = 7) -> None:
    """Write `rows` rows with distinct mobile numbers in the four shapes, in turn."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\r\n")
        writer.writerow(HEADER)
        for i in range(rows):
            national = f"9{(i * 7919 + 1234) % 10**9:09d}"  # 7919 is prime: all distinct
            writer.writerow([shape(national, i), rng.choice(NAMES), rng.choice(CITIES), f"A-{i}"])


# --- child processes: one measurement each, so that peak RSS is its own --------------------------


def _child(mode: str, url: str, csv_path: Path) -> dict[str, Any]:
    from dialer import migrate
    from dialer.campaigns import create_campaign, parse_campaign
    from dialer.db import make_engine, transaction

    migrate.upgrade(url)
    engine = make_engine(url)
    spec = parse_campaign(
        'name = "bench"\nmethod = "start.informer_call"\n[params]\n'
        'virtual_phone_number = "74993720692"\n'
        'contact_message = { type = "tts", value = "Здравствуйте, {name}! Заказ {order}." }\n'
    )
    with transaction(engine) as session:
        campaign_id = create_campaign(session, spec).id
    engine.dispose()
    started = time.perf_counter()
    if mode == "import":
        result = _import(url, campaign_id, csv_path)
    else:
        result = {"imported": _raw(url.removeprefix("sqlite:///"), campaign_id, csv_path)}
    result["seconds"] = time.perf_counter() - started
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def _import(url: str, campaign_id: int, csv_path: Path) -> dict[str, Any]:
    from dialer.contacts import import_contacts
    from dialer.db import make_engine, transaction
    from dialer.models import Campaign

    engine = make_engine(url)
    rejects = csv_path.with_name(f"rejects-{time.time_ns()}.csv")
    with transaction(engine) as session:
        summary = import_contacts(
            session, session.get_one(Campaign, campaign_id), csv_path, rejects_path=rejects
        )
    rejects.unlink(missing_ok=True)
    engine.dispose()
    return {"imported": summary.imported, "duplicates": summary.duplicates}


def _raw(db_path: str, campaign_id: int, csv_path: Path) -> int:
    from dialer.db import utcnow

    now = utcnow().isoformat(sep=" ")
    conn = sqlite3.connect(db_path, isolation_level=None)
    with csv_path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        conn.execute("begin")
        conn.executemany(
            "insert or ignore into contacts (campaign_id, phone, variables, line_no, status,"
            " requests, rounds, updated_at) values (?, ?, ?, ?, 'pending', 0, 0, ?)",
            (
                (campaign_id, row[0], json.dumps(dict(zip(header, row, strict=True))), n, now)
                for n, row in enumerate(reader, start=2)
            ),
        )
        conn.execute("commit")
    count: int = conn.execute("select count(*) from contacts").fetchone()[0]
    conn.close()
    return count


# --- the parent: databases, repeats, medians -----------------------------------------------------


def _measure(mode: str, csv_path: Path, workdir: Path) -> dict[str, Any]:
    with fresh_database("sqlite", workdir) as url:
        args = ["--child", mode, "--csv", str(csv_path), "--url", url]
        return run_child("bench.import_vs_raw", args, mode)


def main() -> None:
    """Generate the file, run raw and import in turn, print a Markdown table and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", choices=["import", "raw"])
    parser.add_argument("--url")
    parser.add_argument("--csv")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.url, Path(args.csv))))
        return

    with tempfile.TemporaryDirectory(prefix="dialer-bench-") as tmp:
        workdir = Path(tmp)
        csv_path = workdir / "contacts.csv"
        generate(csv_path, args.rows)
        size_mb = csv_path.stat().st_size / 2**20
        print(f"{args.rows:,} rows, {size_mb:.1f} MB, SQLite, repeat {args.repeat} (interleaved)")
        runs: dict[str, list[dict[str, Any]]] = {"raw": [], "import": []}
        for _ in range(args.repeat):  # interleaved, so that a noisy neighbour hits both alike
            for mode, measured in runs.items():
                measured.append(_measure(mode, csv_path, workdir))
        print("| what | seconds (each) | median s | rows/s | peak RSS MB |")
        print("| --- | --- | ---: | ---: | ---: |")
        medians = {}
        for mode, results in runs.items():
            medians[mode] = statistics.median(r["seconds"] for r in results)
            each = ", ".join(f"{r['seconds']:.2f}" for r in results)
            rss = statistics.median(r["peak_rss_mb"] for r in results)
            print(
                f"| {mode} | {each} | {medians[mode]:.2f} | {args.rows / medians[mode]:,.0f} "
                f"| {rss:.0f} |"
            )
        print(f"imported: {runs['import'][0]['imported']:,} (raw: {runs['raw'][0]['imported']:,})")
        print(f"import / raw: {medians['import'] / medians['raw']:.2f}×")


if __name__ == "__main__":
    main()
