"""Timing of every `dialer.db.transaction` in a process, for `bench.embedded_pace_bench --profile`.

On `PYTHONPATH`, Python imports this at start-up. It wraps `dialer.db.transaction` before any
other module imports it, and appends one JSON line per transaction to
`$DIALER_HOME/transactions-<pid>.jsonl`: who opened it (the calling function), how long it
waited for the database to begin it (on SQLite, the write lock) and how long it was open after;
and, at exit, the process's CPU seconds and command line to `$DIALER_HOME/cpu-<pid>.json`.
Works on any version of the code that has `dialer.db.transaction`, so a baseline can be profiled
the same way.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

if os.environ.get("DIALER_HOME"):
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    import dialer.db

    _opened = dialer.db.transaction
    _out = (Path(os.environ["DIALER_HOME"]) / f"transactions-{os.getpid()}.jsonl").open(
        "a", buffering=1, encoding="utf-8"
    )
    _local = threading.local()

    @event.listens_for(Session, "after_begin")
    def _begun(*_: Any) -> None:
        _local.begun = time.perf_counter()

    @contextmanager
    def _timed(engine: Any) -> Iterator[Any]:
        caller = sys._getframe(2).f_code.co_name
        started = time.perf_counter()
        _local.begun = None
        try:
            with _opened(engine) as session:
                yield session
        finally:
            ended = time.perf_counter()
            begun = _local.begun or ended
            _out.write(
                json.dumps(
                    {
                        "at": time.time(),
                        "caller": caller,
                        "thread": threading.current_thread().name,
                        "wait_ms": round(1000 * (begun - started), 3),
                        "held_ms": round(1000 * (ended - begun), 3),
                    }
                )
                + "\n"
            )

    dialer.db.transaction = _timed

    @atexit.register
    def _cpu() -> None:
        times = os.times()
        (Path(os.environ["DIALER_HOME"]) / f"cpu-{os.getpid()}.json").write_text(
            json.dumps({"argv": sys.argv, "cpu_seconds": times.user + times.system}),
            encoding="utf-8",
        )
