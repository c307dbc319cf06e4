"""Each contact's attempts with its call's own outcome, for the JSON report, fetched a batch of
contacts at a time: one query per `BATCH` contacts, so a million contacts' attempts are never
loaded at once and never asked for one contact at a time."""

from __future__ import annotations

import enum
import itertools
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialer.models import Attempt
from dialer.reports.rows import BATCH, ContactRow
from dialer.reports.summary import iso

# The attempt's columns as the JSON report names them; `answered` is the contact picking up.
_FIELDS: tuple[tuple[str, Any], ...] = (
    ("external_id", Attempt.external_id),
    ("call_session_id", Attempt.call_session_id),
    ("requested_at", Attempt.requested_at),
    ("outcome", Attempt.outcome),
    ("report_status", Attempt.report_status),
    ("disposition", Attempt.disposition),
    ("finish_reason", Attempt.finish_reason),
    ("answered", Attempt.call_answered),
    ("listened_seconds", Attempt.listened_seconds),
    ("talk_duration", Attempt.talk_duration),
    ("total_duration", Attempt.total_duration),
    ("finished_at", Attempt.call_finished_at),
)
_TIMES = frozenset({"requested_at", "finished_at"})


def _json(name: str, value: Any) -> Any:
    if name in _TIMES:
        return iso(value)
    return value.value if isinstance(value, enum.Enum) else value


def attempts_of(session: Session, contact_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The attempts of these contacts, oldest first, as JSON-ready dicts by contact id."""
    found: dict[int, list[dict[str, Any]]] = {cid: [] for cid in contact_ids}
    rows = session.connection().execute(
        select(Attempt.contact_id, *(column for _, column in _FIELDS))
        .where(Attempt.contact_id.in_(contact_ids))
        .order_by(Attempt.contact_id, Attempt.requested_at, Attempt.id)
    )
    for contact_id, *values in rows:
        found[contact_id].append(
            {name: _json(name, v) for (name, _), v in zip(_FIELDS, values, strict=True)}
        )
    return found


def with_attempts(
    session: Session, rows: Iterable[ContactRow], batch: int = BATCH
) -> Iterator[tuple[ContactRow, list[dict[str, Any]]]]:
    """Each row with its contact's attempts, fetched for `batch` contacts at a time."""
    stream = iter(rows)
    while chunk := list(itertools.islice(stream, batch)):
        attempts = attempts_of(session, [row.contact_id for row in chunk])
        for row in chunk:
            yield row, attempts[row.contact_id]
