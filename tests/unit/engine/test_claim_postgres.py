"""The far-from-limit turn on PostgreSQL: with points in the process's lease, a contact is
claimed with its attempt row in one statement and a placed call recorded in another, neither in a
transaction of its own; a contact is still dialed once, whatever races it; and connections the
server has closed are replaced without a ping before every transaction."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, create_engine, event, select, text, update
from sqlalchemy.orm import Session

from dialer import attempts, dialing
from dialer.config import Settings, load_settings
from dialer.db import Base, autocommit, make_engine, normalize_url, transaction
from dialer.dialing import Dialer
from dialer.models import Attempt, AttemptOutcome, Campaign, Contact, ContactStatus
from dialer.simulator import DEFAULT_ACCESS_TOKEN
from dialer.turn import Plan
from tests.services import scratch_postgres_database
from tests.unit.engine.test_dialing import (  # the same turns, on the one-statement path
    test_a_campaign_fatal_error_pauses_the_campaign_and_loses_nothing,
    test_a_connection_cut_after_the_call_was_created_is_confirmed_by_lookup,
    test_a_contact_error_fails_only_that_contact,
    test_a_duplicate_or_stale_wakeup_sends_nothing,
    test_a_missing_template_column_fails_the_contact_before_any_request,
    test_a_paused_campaign_sends_nothing,
    test_a_provider_blacklist_answer_ends_the_contact_and_fills_the_local_blacklist,
    test_a_transient_error_is_retried_with_a_new_attempt,
    test_an_attempt_left_by_a_dead_worker_is_resolved_by_lookup,
    test_an_unconfirmable_call_becomes_unknown_and_is_not_redialed,
    test_outside_the_calling_window_the_contact_waits_for_the_opening,
    test_the_local_blacklist_is_checked_right_before_the_request,
    test_transient_errors_past_the_policy_reschedule_then_fail_the_contact,
)
from tests.unit.factories import dialable_campaign, phones
from tests.unit.factories import queue_contacts as queue

pytestmark = [pytest.mark.postgres, pytest.mark.simulator(minute_limit=10**6)]


@pytest.fixture
def postgres(tmp_path: object) -> Iterator[str]:
    """A scratch PostgreSQL database's URL."""
    with scratch_postgres_database() as url:
        yield url


@pytest.fixture
def sqlite_engine(postgres: str) -> Iterator[Engine]:
    """In this module, the engine every fixture uses is the scratch PostgreSQL database (the
    size of a worker's pool, so that killed connections are found idle in it)."""
    engine = make_engine(postgres, pool_size=16, max_overflow=16)
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def settings() -> Settings:
    """A budget far from its limit: the lease keeps points ahead."""
    return load_settings(
        callapi_url="http://simulator/v4.0",
        access_token=SecretStr(DEFAULT_ACCESS_TOKEN),
        minute_limit_guess=10**6,
        day_limit_guess=10**8,
        backoff_enabled=False,
    )


__all__ = [
    "test_a_campaign_fatal_error_pauses_the_campaign_and_loses_nothing",
    "test_a_connection_cut_after_the_call_was_created_is_confirmed_by_lookup",
    "test_a_contact_error_fails_only_that_contact",
    "test_a_duplicate_or_stale_wakeup_sends_nothing",
    "test_a_missing_template_column_fails_the_contact_before_any_request",
    "test_a_paused_campaign_sends_nothing",
    "test_a_provider_blacklist_answer_ends_the_contact_and_fills_the_local_blacklist",
    "test_a_transient_error_is_retried_with_a_new_attempt",
    "test_an_attempt_left_by_a_dead_worker_is_resolved_by_lookup",
    "test_an_unconfirmable_call_becomes_unknown_and_is_not_redialed",
    "test_outside_the_calling_window_the_contact_waits_for_the_opening",
    "test_the_local_blacklist_is_checked_right_before_the_request",
    "test_transient_errors_past_the_policy_reschedule_then_fail_the_contact",
]


@pytest.fixture(autouse=True)
def lease_with_points(dialer: Dialer, sqlite_engine: Engine) -> None:
    """The process's lease holds points before the test's first turn, as in a busy worker."""
    now = dialer.now()
    reservation = dialer.lease.take(sqlite_engine, 1, now)
    assert reservation.granted
    dialer.lease.refund(sqlite_engine, 1, reservation, now)


def _statements(engine: Engine) -> list[str]:
    """The statements `engine` sends from now on, by their first word."""
    sent: list[str] = []

    def note(*args: object) -> None:
        sent.append(str(args[2]).split(None, 1)[0].upper())

    event.listen(engine, "before_cursor_execute", note)
    return sent


def test_far_from_the_limit_a_call_is_a_read_and_two_statements(
    dialer: Dialer, sqlite_engine: Engine
) -> None:
    _, cids = dialable_campaign(sqlite_engine, phones(3))
    queue(sqlite_engine, *cids)
    dialing.place_call(dialer, cids[0])  # the lease takes its points ahead
    sent = _statements(sqlite_engine)

    for cid in cids[1:]:
        assert dialing.place_call(dialer, cid).status == "placed"

    # Per call: the unlocked read, the claim with its attempt, the answer with its contact.
    assert sent == ["SELECT", "WITH", "WITH"] * 2
    with transaction(sqlite_engine) as session:
        for cid in cids:
            contact = session.get_one(Contact, cid)
            assert (contact.status, contact.requests, contact.rounds) == (
                ContactStatus.PLACED,
                1,
                1,
            )
            assert contact.error_mnemonic is None
            [attempt] = session.scalars(select(Attempt).where(Attempt.contact_id == cid))
            assert attempt.outcome == AttemptOutcome.PLACED
            assert attempt.call_session_id is not None
            assert attempt.external_id.startswith(f"dialer-{cid}-1-")
            assert attempt.answered_at is not None
            assert "access_token" not in attempt.params


def test_a_contact_that_moved_on_after_it_was_read_is_not_claimed(
    dialer: Dialer, sqlite_engine: Engine
) -> None:
    _, [cid] = dialable_campaign(sqlite_engine, phones(1))
    queue(sqlite_engine, cid)
    with Session(bind=autocommit(sqlite_engine)) as session:
        seen = session.get_one(Contact, cid)
        its_campaign = session.get_one(Campaign, seen.campaign_id)
        plan = dialing._plan(dialer, its_campaign, seen, False, dialer.now())
        assert isinstance(plan, Plan)
        # Another worker's wake-up for the same contact claims it first.
        with transaction(sqlite_engine) as other:
            other.execute(
                update(Contact)
                .where(Contact.id == cid)
                .values(status=ContactStatus.DIALING, requests=Contact.requests + 1)
            )
        claimed = attempts.claim_attempt(
            session.connection(), seen, ContactStatus.QUEUED, plan, dialer.now()
        )
    assert claimed is None
    with transaction(sqlite_engine) as session:
        assert session.scalars(select(Attempt)).all() == []


def test_duplicate_wakeups_at_once_dial_a_contact_once(
    dialer: Dialer, sqlite_engine: Engine
) -> None:
    _, cids = dialable_campaign(sqlite_engine, phones(9))
    queue(sqlite_engine, *cids)
    dialing.place_call(dialer, cids[0])  # the lease takes its points ahead
    wakeups = 8
    for cid in cids[1:]:
        start = threading.Barrier(wakeups)
        results: list[str] = []

        def wake(
            cid: int = cid, start: threading.Barrier = start, results: list[str] = results
        ) -> None:
            start.wait()
            results.append(dialing.place_call(dialer, cid).status)

        threads = [threading.Thread(target=wake) for _ in range(wakeups)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(results) == ["placed"] + ["skipped"] * (wakeups - 1)
    with transaction(sqlite_engine) as session:
        per_contact = session.execute(
            select(Attempt.contact_id).group_by(Attempt.contact_id).having(text("count(*) > 1"))
        ).all()
    assert per_contact == []


def _kill_connections(url: str) -> int:
    """Terminate every server session of the database at `url`; how many there were."""
    admin = create_engine(normalize_url(url), isolation_level="AUTOCOMMIT", poolclass=None)
    try:
        with admin.connect() as conn:
            return len(
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                ).all()
            )
    finally:
        admin.dispose()


def test_the_next_turn_succeeds_after_the_server_closed_every_connection(
    dialer: Dialer, sqlite_engine: Engine, postgres: str
) -> None:
    _, cids = dialable_campaign(sqlite_engine, phones(12))
    queue(sqlite_engine, *cids)
    # Several connections idle in the pool, as in a worker whose threads all dialed at once.
    threads = [threading.Thread(target=dialing.place_call, args=(dialer, cid)) for cid in cids[:6]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sqlite_engine.pool.checkedin() >= 2  # type: ignore[attr-defined]

    assert _kill_connections(postgres) >= 2
    # The server's word has reached the sockets by the time the next turn checks them out.
    time.sleep(0.2)
    for cid in cids[6:]:
        assert dialing.place_call(dialer, cid).status == "placed"
    assert _kill_connections(postgres) >= 1
    time.sleep(0.2)
    with transaction(sqlite_engine) as session:
        placed = session.scalars(
            select(Contact.id).where(Contact.status == ContactStatus.PLACED)
        ).all()
    assert sorted(placed) == sorted(cids)
