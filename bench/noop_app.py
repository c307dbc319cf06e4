"""A bare Celery app for the baseline: one task that only counts itself in Redis.

`celery -A bench.noop_app worker` with the same broker, processes and pool as the dialer's
workers gives the rate Celery alone can deliver on this machine.
"""

from __future__ import annotations

import os

import redis
from celery import Celery

BROKER_URL = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/14")
COUNTER_URL = os.environ.get("BENCH_COUNTER_URL", "redis://127.0.0.1:6379/13")
COUNTER_KEY = "bench:noop:done"

app = Celery("bench_noop", broker=BROKER_URL)
app.conf.update(
    task_default_queue="bench-noop",
    task_ignore_result=True,
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    worker_hijack_root_logger=False,
)
_counter = redis.Redis.from_url(COUNTER_URL)


@app.task(name="bench.noop")
def noop() -> None:
    """Do nothing but say so (one INCR, about a tenth of a millisecond)."""
    _counter.incr(COUNTER_KEY)
