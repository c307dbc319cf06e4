"""Benchmark of the embedded broker: messages put and taken per second, next to kombu's own
file-system transport and kombu's SQLAlchemy transport on a SQLite file (the alternatives).

    .venv/bin/python -m bench.embedded_broker_bench --messages 2000

Each transport gets a fresh folder; `put` writes `--messages` messages of the size of a Celery
wake-up, `get` takes them all back from one channel.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from queue import Empty
from typing import Any

from kombu.connection import Connection

from dialer.embedded_broker import TRANSPORT, folders

PAYLOAD = {"body": "x" * 600, "headers": {"task": "dialer.place_call"}}


def connection(kind: str, root: Path) -> Any:
    """A kombu connection of the transport `kind` with its storage under `root`."""
    if kind == "sqlalchemy-sqlite":
        return Connection(f"sqla+sqlite:///{root / 'broker.db'}")  # type: ignore[no-untyped-call]
    options = folders(root)
    # kombu's own transport claims messages into the temp folder: keep it on the same disk.
    tempfile.tempdir = options["processing_folder"]
    transport = TRANSPORT if kind == "dialer" else "kombu.transport.filesystem:Transport"
    return Connection(  # type: ignore[no-untyped-call]
        "filesystem://", transport=transport, transport_options=options
    )


def measure(kind: str, messages: int) -> tuple[float, float]:
    """(puts per second, gets per second) for one transport."""
    try:
        return _measure(kind, messages)
    finally:
        tempfile.tempdir = None


def _measure(kind: str, messages: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as folder, connection(kind, Path(folder)) as conn:
        channel = conn.default_channel
        if kind == "sqlalchemy-sqlite":
            channel._new_queue("q")
        started = time.perf_counter()
        for _ in range(messages):
            channel._put("q", PAYLOAD)
        put = messages / (time.perf_counter() - started)
        started, taken = time.perf_counter(), 0
        while True:
            try:
                channel._get("q")
            except Empty:
                break
            taken += 1
        assert taken == messages, (kind, taken)
        return put, taken / (time.perf_counter() - started)


def main() -> None:
    """Print one line per transport."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    args = parser.parse_args()
    for kind in ("dialer", "kombu-filesystem", "sqlalchemy-sqlite"):
        put, get = measure(kind, args.messages)
        print(f"{kind:18} put {put:7.0f}/s  get {get:7.0f}/s")


if __name__ == "__main__":
    main()
