"""Several dispatchers at once on PostgreSQL: they take turns under the budget row's lock, never
claim a contact twice, never claim past the budget, and never wait on a row a worker holds."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator, Sequence

import pytest
from sqlalchemy import Engine, update

from dialer import dispatch, pacing
from dialer.config import Settings, load_settings
from dialer.db import make_engine, transaction
from dialer.migrate import ensure_schema
from dialer.models import Contact, ContactStatus
from tests.integration.engine_harness import phones
from tests.services import scratch_postgres_database
from tests.unit.factories import dialable_campaign

pytestmark = pytest.mark.postgres

BUDGET = 25
DUE = 120
DISPATCHERS = 8


@pytest.fixture
def engine() -> Iterator[Engine]:
    """A scratch PostgreSQL database of this test's own, migrated."""
    with scratch_postgres_database() as url:
        ensure_schema(url)
        # Enough connections for every dispatcher thread at once, so they truly contend.
        engine = make_engine(url, pool_size=DISPATCHERS + 2)
        yield engine
        engine.dispose()


@pytest.fixture
def settings() -> Settings:
    """A budget of BUDGET points in a minute window, wake-ups lost after 60 s."""
    return load_settings(minute_limit_guess=BUDGET, window_seconds_guess=60.0, stuck_after=60.0)


class Sent:
    """What the dispatchers sent, from every thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.wakeups: list[int] = []

    def send(self, ids: Sequence[int]) -> None:
        """Record wake-ups."""
        with self.lock:
            self.wakeups.extend(ids)

    def resolve(self, ids: Sequence[int]) -> None:
        """No attempt is ever stuck here."""
        raise AssertionError(f"unexpected stuck attempts {list(ids)}")


def test_concurrent_dispatchers_claim_each_contact_once_and_no_more_than_the_budget(
    engine: Engine, settings: Settings
) -> None:
    _, contact_ids = dialable_campaign(engine, phones(DUE))
    sent = Sent()
    start = threading.Barrier(DISPATCHERS)
    results: list[dispatch.TickResult] = []
    errors: list[BaseException] = []

    def dispatcher() -> None:
        start.wait()
        try:
            results.append(dispatch.tick(engine, settings, sent.send, sent.resolve))
        except BaseException as exc:  # reported below, with the assertion
            errors.append(exc)

    threads = [threading.Thread(target=dispatcher) for _ in range(DISPATCHERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    claimed = [i for result in results for i in result.queued]
    assert len(claimed) == len(set(claimed)), "a contact was claimed twice"
    assert len(claimed) == BUDGET  # the whole budget is used, and not one more
    assert sorted(sent.wakeups) == sorted(claimed)
    assert set(claimed) <= set(contact_ids)
    with transaction(engine) as session:
        queued = session.query(Contact).filter(Contact.status == ContactStatus.QUEUED).count()
    assert queued == BUDGET


def test_a_dispatcher_never_waits_on_a_contact_row_a_worker_holds(
    engine: Engine, settings: Settings
) -> None:
    """A worker locks its contact, then the budget row; the dispatcher locks the budget row, then
    re-sends stale wake-ups. Were it to wait for the worker's contact, the two would deadlock."""
    _, (held, other) = dialable_campaign(engine, phones(2))
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    with transaction(engine) as session:
        session.execute(update(Contact).values(status=ContactStatus.QUEUED, queued_at=long_ago))
    sent = Sent()
    results: list[dispatch.TickResult] = []
    with transaction(engine) as worker:
        # The worker's `_begin`: the contact's row first ...
        worker.get(Contact, held, with_for_update=True)
        thread = threading.Thread(
            target=lambda: results.append(dispatch.tick(engine, settings, sent.send, sent.resolve))
        )
        thread.start()
        thread.join(timeout=10)
        finished = not thread.is_alive()
        # ... then the budget row, which the dispatcher must have let go of by now.
        pacing.load(worker, settings, dt.datetime.now(dt.UTC))
    thread.join(timeout=30)

    assert finished, "the dispatcher waited on the row the worker holds"
    assert results[0].requeued == [other]
