"""Confirming a call whose answer was lost: `list.calls` by our `external_id` (DESIGN.md, 2).

An answer lost after the request may have reached the provider (a read timeout, a cut
connection, a gateway page), or a worker that died mid-request, leaves the attempt open. The call
is looked up among the active calls: found, the attempt is placed with its `call_session_id`;
not confirmable either way, the contact becomes `unknown` and is never redialed by itself.

A look-up is paid for from the shared budget like any request. It is a read, so it is tried
again (`retry.lookup_retrying`) after every transient failure and every named wait, within its
bounds, before anything is concluded.
"""

from __future__ import annotations

import logging
from typing import Any

from dialer import attempts, pacing
from dialer.callapi.client import ActiveCall
from dialer.callapi.errors import AmbiguousError, ApiError, CallApiError, RateLimitError
from dialer.callapi.methods import LIST_CALLS
from dialer.db import transaction
from dialer.models import Attempt, AttemptOutcome
from dialer.retry import RetryAfter, lookup_retrying
from dialer.turn import Dialer, Ticket, Turn

log = logging.getLogger("dialer.lookup")


def confirm(dialer: Dialer, ticket: Ticket, error: CallApiError) -> Turn:
    """The request may have reached the provider: settle its attempt by a look-up."""
    call_session_id = find_call(dialer, ticket.params)
    if call_session_id is not None:
        dialer.record(
            attempts.close_attempt,
            dialer.engine,
            dialer.settings,
            ticket,
            AttemptOutcome.PLACED,
            dialer.now(),
            call_session_id=call_session_id,
        )
        return Turn.PLACED
    dialer.record(
        attempts.close_attempt,
        dialer.engine,
        dialer.settings,
        ticket,
        AttemptOutcome.UNKNOWN,
        dialer.now(),
        error=error,
    )
    return Turn.UNKNOWN


def resolve_attempt(dialer: Dialer, attempt_id: int) -> Turn:
    """Settle an attempt left mid-request by a worker that died (the reconciler's request)."""
    with transaction(dialer.engine) as session:
        attempt = session.get(Attempt, attempt_id)
        if attempt is None or attempt.outcome != AttemptOutcome.REQUESTING:
            return Turn.ALREADY_SETTLED
        ticket = Ticket(
            attempt.id,
            attempt.contact_id,
            attempt.campaign_id,
            attempt.method,
            dict(attempt.params),
            pacing.Reservation(True, attempt.requested_at),
            dialer.settings.cost(attempt.method),
        )
    return confirm(
        dialer, ticket, AmbiguousError("the worker stopped before the answer was recorded")
    )


def find_call(dialer: Dialer, params: dict[str, Any]) -> int | None:
    """The call_session_id of the active call with the request's external_id; None if there is
    none, or if the look-up failed through all its tries."""
    external_id = params["external_id"]
    filters = {"virtual_phone_number": params["virtual_phone_number"]}
    if "direction" in params:
        filters["direction"] = params["direction"]
    try:
        calls = lookup_retrying(dialer.settings, dialer.sleep)(_list_calls, dialer, filters)
    except (CallApiError, RetryAfter) as exc:
        log.warning("could not look up call %s: %s", external_id, exc)
        return None
    return next((c.call_session_id for c in calls if c.external_id == external_id), None)


def _list_calls(dialer: Dialer, filters: dict[str, str]) -> list[ActiveCall]:
    """One `list.calls` request, its points taken from the budget and settled by its reply."""
    settings, engine = dialer.settings, dialer.engine
    cost = settings.cost(LIST_CALLS)
    now = dialer.now()
    reservation = pacing.take(engine, settings, cost, now)
    if not reservation.granted:
        assert reservation.wait_until is not None
        wait = (reservation.wait_until - now).total_seconds()
        raise RetryAfter(wait, f"no points for a look-up until the {reservation.reason} reset")
    try:
        reply = dialer.client.list_calls(**filters)
    except RateLimitError as exc:
        # Refused for the rate: the provider's own count, in its reply, stands.
        pacing.settle(engine, settings, dialer.now(), exc.limits)
        raise
    except CallApiError as exc:
        limits = exc.limits if isinstance(exc, ApiError) else None
        pacing.settle(engine, settings, dialer.now(), limits, (cost, reservation))
        raise
    pacing.settle(engine, settings, dialer.now(), reply.limits)
    return reply.calls
