"""The invariants a run must hold whatever the provider did, read from the simulator's own request
log and the database:

- every contact is final and no attempt is left mid-request;
- nobody is dialed twice: at most one created call per number (a created call is a start.*
  request the simulator answered `ok`, i.e. it issued a `call_session_id`, even if the answer was
  then cut or came too late), and no start.* for a number after its call was created; a number
  may be requested again only after requests that created nothing;
- a number on the local blacklist is never requested; one on the provider's never again after
  the provider said `contact_in_blacklist` (a transient failure before that may repeat it);
- the database agrees with the log call by call: every created call's `call_session_id` is held
  by the attempt with its `external_id`, or that attempt and its contact are `unknown`; no attempt
  holds a session id the log never issued;
- the points budget held: no window spent more than its limit, and limit_exceeded (other than
  the simulator's injected bursts) came back for under `rare` of the requests.

And one about pace, for runs whose provider answers some requests late: no window stalls, i.e.
every simulator window between the first and the last call's saw a call created.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Collection, Sequence

from dialer.callapi.methods import START_METHODS
from dialer.models import FINAL_STATUSES, AttemptOutcome, ContactStatus
from dialer.simulator import LogEntry
from tests.integration.engine_harness import (
    EngineRun,
    created_calls,
    external_id_of,
    phone_of,
    points_per_window,
)


def calls_per_window(log: Sequence[LogEntry], window_seconds: float) -> list[int]:
    """Calls created in each of the simulator's fixed windows (they start at the first request),
    up to the window of the last call."""
    if not log:
        return []
    first = log[0].time
    created = collections.Counter(
        math.floor((e.time - first) / window_seconds) for e in created_calls(log)
    )
    return [created[i] for i in range(max(created, default=-1) + 1)]


def check_no_stalled_window(run: EngineRun, window_seconds: float) -> list[int]:
    """Every window after the first, while contacts remained, created a call; returns the calls
    per window."""
    calls = calls_per_window(run.server.request_log(), window_seconds)
    stalled = [i for i, n in enumerate(calls) if i > 0 and n == 0]
    assert not stalled, f"windows {stalled} created no call: {calls}"
    return calls


def check_all_final(run: EngineRun, campaign_ids: Collection[int]) -> None:
    """Every contact final; no attempt still `requesting`."""
    for campaign_id in campaign_ids:
        open_contacts = [
            c.phone for c in run.contacts(campaign_id) if c.status not in FINAL_STATUSES
        ]
        assert not open_contacts, f"contacts not final: {open_contacts[:10]}"
    requesting = [a.external_id for a in run.attempts() if a.outcome == AttemptOutcome.REQUESTING]
    assert not requesting, f"attempts left mid-request: {requesting[:10]}"


def check_dialed_once(run: EngineRun) -> None:
    """At most one created call per number, and no request for a number after its call.

    The same `external_id` may go out twice only when the first answer created nothing (a
    session token refused, then the request sent again after a new login).
    """
    log = run.server.request_log()
    called_at: dict[str, int] = {}
    for index, entry in enumerate(log):
        if entry.method not in START_METHODS:
            continue
        phone = phone_of(entry)
        assert phone not in called_at, (
            f"{phone} requested again after its call {log[called_at[phone]].call_session_id} "
            f"was created: {entry}"
        )
        if entry.outcome == "ok" and entry.call_session_id is not None:
            called_at[phone] = index


def check_blacklists_kept(
    run: EngineRun, local: Collection[str], provider: Collection[str] = ()
) -> None:
    """Local blacklist: never requested; the provider's: never again once it said so."""
    log = [e for e in run.server.request_log() if e.method in START_METHODS]
    requested = collections.Counter(phone_of(e) for e in log)
    asked = {p: requested[p] for p in local if requested[p]}
    assert not asked, f"blacklisted numbers requested: {asked}"
    refused: set[str] = set()
    for entry in log:
        phone = phone_of(entry)
        assert phone not in refused, f"{phone} requested again after contact_in_blacklist"
        if entry.outcome == "contact_in_blacklist":
            refused.add(phone)
    assert set(provider) <= refused | set(local)


def check_database_agrees_with_log(run: EngineRun, campaign_ids: Collection[int]) -> None:
    """Call by call: `external_id` ↔ `call_session_id` between the log and the attempts."""
    created = {
        external_id_of(e): e.call_session_id for e in created_calls(run.server.request_log())
    }
    attempts = {a.external_id: a for a in run.attempts()}
    contacts = {c.id: c for campaign_id in campaign_ids for c in run.contacts(campaign_id)}
    for external_id, session_id in created.items():
        attempt = attempts.get(external_id)
        assert attempt is not None, (
            f"a call was created for an attempt not in the database: {external_id}"
        )
        if attempt.call_session_id == session_id:
            assert attempt.outcome == AttemptOutcome.PLACED, attempt.outcome
            assert contacts[attempt.contact_id].status == ContactStatus.PLACED
            continue
        assert attempt.call_session_id is None, (external_id, attempt.call_session_id, session_id)
        assert attempt.outcome == AttemptOutcome.UNKNOWN, (external_id, attempt.outcome)
        assert contacts[attempt.contact_id].status == ContactStatus.UNKNOWN
    for attempt in attempts.values():
        if attempt.call_session_id is not None:
            assert created.get(attempt.external_id) == attempt.call_session_id, (
                f"attempt {attempt.external_id} holds session {attempt.call_session_id}, "
                "which the provider never issued for it"
            )
    placed = collections.Counter(
        a.contact_id for a in attempts.values() if a.outcome == AttemptOutcome.PLACED
    )
    for contact in contacts.values():
        expected = 1 if contact.status == ContactStatus.PLACED else 0
        assert placed[contact.id] == expected, (contact.phone, contact.status, placed[contact.id])


def check_points_kept(
    run: EngineRun, minute_limit: int, window_seconds: float, rare: float = 0.05
) -> tuple[int, int]:
    """No window over the limit; limit_exceeded other than injected bursts under `rare` of the
    requests. Returns (requests, limit_exceeded not injected)."""
    log = run.server.request_log()
    windows = points_per_window(log, window_seconds)
    assert max(windows, default=0) <= minute_limit, windows
    refused = sum(e.outcome == "limit_exceeded" and e.fault != "limit_burst" for e in log)
    assert refused < max(rare * len(log), 3), f"{refused} of {len(log)} limit_exceeded"
    return len(log), refused


def check_run(
    run: EngineRun,
    campaign_ids: Collection[int],
    *,
    minute_limit: int,
    window_seconds: float,
    local_blacklist: Collection[str] = (),
    provider_blacklist: Collection[str] = (),
    rare: float = 0.05,
) -> None:
    """Every invariant above."""
    check_all_final(run, campaign_ids)
    check_dialed_once(run)
    check_blacklists_kept(run, local_blacklist, provider_blacklist)
    check_database_agrees_with_log(run, campaign_ids)
    check_points_kept(run, minute_limit, window_seconds, rare)
