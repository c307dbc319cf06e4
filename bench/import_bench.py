"""Benchmark of the contacts CSV import against a plain `csv` read + bulk insert of the same rows.

    .venv/bin/python -m bench.import_bench --rows 1000000 --backends sqlite,postgres --repeat 3

Generates an Excel-like CSV (cp1251, `;`, mixed phone shapes, 5% invalid, 5% duplicates, Cyrillic
columns), then for each backend and each repeat, in a fresh database and a fresh child process:
- `import`: `dialer.contacts.import_contacts` (detection, normalization, dedupe, rejects);
- `baseline`: `csv.reader` over the same file and Core `insert()` of the same rows in batches of
  5,000, with no normalization and no dedupe.
Each child reports its wall time and peak RSS (`resource.getrusage`); medians are printed.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.scratch import fresh_database, run_child

HEADER = ["Телефон", "Имя", "Город", "Номер заказа"]
NAMES = ["Анна", "Борис", "Виктория", "Григорий", "Дарья", "Евгений", "Жанна", "Зоя"]
CITIES = ["Москва", "Санкт-Петербург", "Казань", "Нижний Новгород", "Тверь"]
BATCH = 5_000


def _shape(digits: str, style: int) -> str:
    # digits: ten national digits, e.g. 9260000001
    a, b, c, d = digits[:3], digits[3:6], digits[6:8], digits[8:]
    return [
        f"8 ({a}) {b}-{c}-{d}",
        f"+7 {a} {b} {c} {d}",
        digits,
        f"7{digits}",
        f"8-{a}-{b}-{c}-{d}",
    ][style % 5]


def generate(path: Path, rows: int, seed: int = 7) -> None:
    """Write `rows` rows: 5% invalid numbers, 5% repeats of an earlier number in another shape."""
    rng = random.Random(seed)
    # Numbers not repeated yet: each is repeated at most once, in another shape, so that every
    # phone string in the file is unique and the baseline can store them as they are.
    unrepeated: list[int] = []
    with path.open("w", encoding="cp1251", newline="") as f:
        writer = csv.writer(f, delimiter=";", lineterminator="\r\n")
        writer.writerow(HEADER)
        for i in range(rows):
            kind = rng.random()
            if kind < 0.05:
                phone = f"12-{i}"  # too short to be valid
            elif kind < 0.10 and unrepeated:
                pick = rng.randrange(len(unrepeated))
                earlier = unrepeated[pick]
                unrepeated[pick] = unrepeated[-1]
                unrepeated.pop()
                phone = _shape(f"9{earlier:09d}", earlier % 5 + 1)
            else:
                phone = _shape(f"9{i:09d}", i % 5)
                unrepeated.append(i)
            writer.writerow([phone, rng.choice(NAMES), rng.choice(CITIES), f"A-{i}"])


# --- child processes: one measurement each, so that peak RSS is its own --------------------------


def _child(mode: str, url: str, csv_path: Path, workers: int | None) -> dict[str, Any]:
    from dialer import migrate
    from dialer.campaigns import create_campaign, parse_campaign
    from dialer.db import make_engine, transaction

    migrate.upgrade(url)
    engine = make_engine(url)
    spec = parse_campaign(
        'name = "bench"\nmethod = "start.informer_call"\n[params]\n'
        'virtual_phone_number = "74993720692"\n'
        'contact_message = { type = "tts", value = "Здравствуйте, {Имя}! Заказ {Номер заказа}." }\n'
    )
    with transaction(engine) as session:
        campaign = create_campaign(session, spec)
    started = time.perf_counter()
    if mode == "import":
        from dialer.contacts import import_contacts

        rejects = csv_path.with_name(f"rejects-{uuid.uuid4().hex[:6]}.csv")
        with transaction(engine) as session:
            summary = import_contacts(
                session,
                session.get_one(type(campaign), campaign.id),
                csv_path,
                rejects_path=rejects,
                workers=workers,
            )
        result: dict[str, Any] = {
            "imported": summary.imported,
            "duplicates": summary.duplicates,
            "rejected": summary.rejected,
        }
        rejects.unlink(missing_ok=True)
    else:
        result = {"imported": _baseline(engine, campaign.id, csv_path)}
    result["seconds"] = time.perf_counter() - started
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    engine.dispose()
    return result


def _baseline(engine: Any, campaign_id: int, csv_path: Path) -> int:
    from sqlalchemy import insert

    from dialer.db import utcnow
    from dialer.models import Contact, ContactStatus

    table = Contact.metadata.tables["contacts"]
    now = utcnow()
    count = 0
    with engine.begin() as conn, csv_path.open(encoding="cp1251", newline="") as f:
        reader = csv.reader(f, delimiter=";")
        header = next(reader)
        batch: list[dict[str, Any]] = []
        for row in reader:
            batch.append(
                {
                    "campaign_id": campaign_id,
                    "phone": row[0],
                    "variables": dict(zip(header, row, strict=True)),
                    "line_no": reader.line_num,
                    "timezone": None,
                    "status": ContactStatus.PENDING,
                    "requests": 0,
                    "rounds": 0,
                    "updated_at": now,
                }
            )
            if len(batch) == BATCH:
                conn.execute(insert(table), batch)
                count += len(batch)
                batch = []
        if batch:
            conn.execute(insert(table), batch)
            count += len(batch)
    return count


# --- the parent: databases, repeats, medians -----------------------------------------------------


def _measure(
    mode: str, backend: str, csv_path: Path, workdir: Path, workers: int | None
) -> dict[str, Any]:
    with fresh_database(backend, workdir) as url:
        args = ["--child", mode, "--url", url, "--csv", str(csv_path)]
        args += [] if workers is None else ["--workers", str(workers)]
        return run_child("bench.import_bench", args, f"{mode} on {backend}")


def main() -> None:
    """Generate the file, run every measurement, print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--child", choices=["import", "baseline"])
    parser.add_argument("--url")
    parser.add_argument("--csv")
    parser.add_argument("--workers", type=int, help="phone-parsing processes (default: automatic)")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.url, Path(args.csv), args.workers)))
        return

    with tempfile.TemporaryDirectory(prefix="dialer-bench-") as tmp:
        workdir = Path(tmp)
        csv_path = workdir / "contacts.csv"
        generate(csv_path, args.rows)
        size_mb = csv_path.stat().st_size / 2**20
        workers = "automatic" if args.workers is None else args.workers
        print(f"{args.rows:,} rows, {size_mb:.0f} MB, repeat {args.repeat}, workers {workers}")
        print("| backend | what | median s | rows/s | peak RSS MB | import / baseline |")
        print("| --- | --- | --- | --- | --- | --- |")
        for backend in args.backends.split(","):
            medians: dict[str, float] = {}
            for mode in ("baseline", "import"):
                runs = [
                    _measure(mode, backend, csv_path, workdir, args.workers)
                    for _ in range(args.repeat)
                ]
                seconds = statistics.median(r["seconds"] for r in runs)
                rss = statistics.median(r["peak_rss_mb"] for r in runs)
                medians[mode] = seconds
                ratio = f"{seconds / medians['baseline']:.2f}×" if mode == "import" else ""
                extra = {k: v for k, v in runs[0].items() if k not in {"seconds", "peak_rss_mb"}}
                print(
                    f"| {backend} | {mode} {extra} | {seconds:.1f} | {args.rows / seconds:,.0f} "
                    f"| {rss:.0f} | {ratio} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
