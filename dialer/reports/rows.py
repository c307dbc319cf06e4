"""The per-contact rows of a report, streamed from the database a batch at a time.

Each row carries the fixed `COLUMNS` (the contact's own fields, the `external_id` and
`call_session_id` of its latest attempt) and its CSV variables. Rows come from a server-side
cursor on PostgreSQL (`yield_per`) and a lazily stepped cursor on SQLite, so memory stays flat
however large the campaign.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select, text
from sqlalchemy.orm import Session, aliased

from dialer.models import Attempt, Contact, ContactStatus
from dialer.reports.latest import calls_made, latest_attempt, latest_outcome
from dialer.reports.summary import iso


class Kind(enum.StrEnum):
    """What a column holds, which decides how each output format writes it."""

    TEXT = "text"
    PHONE = "phone"  # E.164 digits without `+`
    NUMBER = "number"  # a count: a number in every format
    ID = "id"  # a numeric identifier: text in spreadsheets, never rounded or shown as 1E+10
    TIME = "time"  # an aware UTC datetime


@dataclass(frozen=True)
class Column:
    """One fixed column of the report: its name, its kind and the SQL expression behind it."""

    name: str
    kind: Kind
    expression: Any


# The contact's latest attempt, and its latest call with a known outcome: each found by one
# index probe, then joined by primary key, so that several columns of one attempt cost one probe.
LATEST = aliased(Attempt, name="latest")
KNOWN = aliased(Attempt, name="known")
JOINS: tuple[tuple[Any, Any], ...] = (
    (LATEST, LATEST.id == latest_attempt(Attempt.id)),
    (KNOWN, KNOWN.id == latest_outcome(Attempt.id)),
)

# The fixed columns of every report, before the contact's own CSV columns. A new column is one
# line here; the CSV, JSON, Excel and HTML outputs take it from this list. `disposition`,
# `finish_reason` and `listened_seconds` are those of the contact's latest call with a known
# outcome; `calls` counts the calls the provider created for the contact.
COLUMNS: tuple[Column, ...] = (
    Column("phone", Kind.PHONE, Contact.phone),
    Column("status", Kind.TEXT, Contact.status),
    Column("attempts", Kind.NUMBER, Contact.requests),
    Column("external_id", Kind.TEXT, LATEST.external_id),
    Column("call_session_id", Kind.ID, LATEST.call_session_id),
    Column("error_mnemonic", Kind.TEXT, Contact.error_mnemonic),
    Column("error_message", Kind.TEXT, Contact.error_message),
    Column("last_attempt_at", Kind.TIME, Contact.last_attempt_at),
    Column("disposition", Kind.TEXT, KNOWN.disposition),
    Column("finish_reason", Kind.TEXT, KNOWN.finish_reason),
    Column("listened_seconds", Kind.NUMBER, KNOWN.listened_seconds),
    Column("calls", Kind.NUMBER, calls_made()),
)
REPORT_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS)
_INDEX = {name: i for i, name in enumerate(REPORT_COLUMNS)}
BATCH = 2000


@dataclass(frozen=True, slots=True)
class ContactRow:
    """One contact as a report shows it: the `COLUMNS` values as stored, and its variables.

    `contact_id` is not a column: it is the key to fetch more per contact (e.g. its attempts).
    """

    contact_id: int
    cells: tuple[Any, ...]
    variables: dict[str, Any]

    def __getitem__(self, name: str) -> Any:
        """The value of the fixed column `name`."""
        return self.cells[_INDEX[name]]

    def values(self) -> tuple[Any, ...]:
        """The fixed columns in `REPORT_COLUMNS` order, timestamps as ISO 8601 UTC."""
        return tuple(
            iso(v) if c.kind is Kind.TIME else v for c, v in zip(COLUMNS, self.cells, strict=True)
        )

    def fields(self) -> dict[str, Any]:
        """The fixed columns by name, as JSON-ready values."""
        return dict(zip(REPORT_COLUMNS, self.values(), strict=True))


def contact_rows_query(
    campaign_id: int, statuses: frozenset[ContactStatus] | None = None, limit: int | None = None
) -> Select[Any]:
    """The SELECT behind the rows: contacts in import order with their latest attempt's ids."""
    query = select(Contact.id, *(c.expression for c in COLUMNS), Contact.variables).select_from(
        Contact
    )
    for attempt, on in JOINS:
        query = query.outerjoin(attempt, on)
    query = query.where(Contact.campaign_id == campaign_id)
    if statuses is not None:
        query = query.where(Contact.status.in_(sorted(statuses)))
    return query.order_by(Contact.id).limit(limit)


def _plain(value: Any) -> Any:
    # Enum members (the status) as their text; everything else as stored.
    return value.value if isinstance(value, enum.Enum) else value


def iter_contact_rows(
    session: Session,
    campaign_id: int,
    statuses: frozenset[ContactStatus] | None = None,
    limit: int | None = None,
    batch: int = BATCH,
) -> Iterator[ContactRow]:
    """Stream the campaign's contacts (optionally only some statuses, at most `limit`) as rows."""
    # Core, not ORM, execution: these are plain columns, and the ORM's row handling would cost
    # more than the rest of a CSV row together.
    result = session.connection().execute(
        contact_rows_query(campaign_id, statuses, limit), execution_options={"yield_per": batch}
    )
    for contact_id, *cells, variables in result:
        yield ContactRow(contact_id, tuple(_plain(c) for c in cells), variables or {})


def variable_keys(session: Session, campaign_id: int, batch: int = BATCH) -> list[str]:
    """The union of the contacts' variable names, in first-seen order (by contact id, then by
    position within that contact).

    A full pass over every contact's keys, not a look at the first rows: contacts of one campaign
    may come from several imports with different columns, and a header taken from the first rows
    would silently drop the later ones. The database does the pass where it can (SQLite
    `json_each`, PostgreSQL `json_object_keys`) and sends back only the distinct keys.
    """
    dialect = session.get_bind().dialect.name
    if dialect in _KEYS_SQL:
        rows = session.execute(text(_KEYS_SQL[dialect]), {"campaign_id": campaign_id})
        return [key for key, _first_id, _pos in sorted(rows, key=lambda r: (r[1], r[2]))]
    seen: dict[str, None] = {}
    result = session.execute(
        select(Contact.variables).where(Contact.campaign_id == campaign_id).order_by(Contact.id),
        execution_options={"yield_per": batch},
    )
    for (variables,) in result:
        for key in variables or ():
            seen.setdefault(key)
    return list(seen)


# Each key with the first contact that has it and its position there. SQLite fills the bare
# column `j.id` from the row where MIN(c.id) was found; PostgreSQL compares the pairs as arrays.
_KEYS_SQL = {
    "sqlite": """
        SELECT j.key, MIN(c.id), j.id
        FROM contacts AS c, json_each(c.variables) AS j
        WHERE c.campaign_id = :campaign_id AND json_type(c.variables) = 'object'
        GROUP BY j.key
    """,
    "postgresql": """
        SELECT k.key, first[1], first[2] FROM (
            SELECT k.key, MIN(ARRAY[c.id::bigint, k.pos]) AS first
            FROM contacts AS c
            CROSS JOIN LATERAL json_object_keys(c.variables) WITH ORDINALITY AS k(key, pos)
            WHERE c.campaign_id = :campaign_id AND json_typeof(c.variables) = 'object'
            GROUP BY k.key
        ) AS k
    """,
}
