"""Counters named for what they count: a contact's `requests` and `rounds`, and `[retry]` rounds.

`contacts.attempts` becomes `contacts.requests` (start.* requests that counted for the contact),
`contacts.tries` becomes `contacts.rounds` (rounds used of the campaign's `[retry] attempts`),
and the stored campaign options say `retry.rounds` where they said `retry.attempts`.

Revision ID: 5c1e7a9d3b20
Revises: 2a398d822d14
Create Date: 2026-11-23 21:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "5c1e7a9d3b20"
down_revision: str | Sequence[str] | None = "2a398d822d14"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_campaigns = sa.table("campaigns", sa.column("id", sa.Integer), sa.column("options", sa.JSON))


def _rename_retry_key(old: str, new: str) -> None:
    """Rename one key of every campaign's stored `retry` options."""
    conn = op.get_bind()
    for campaign_id, options in conn.execute(sa.select(_campaigns.c.id, _campaigns.c.options)):
        retry: dict[str, Any] = dict((options or {}).get("retry") or {})
        if old not in retry:
            continue
        retry[new] = retry.pop(old)
        conn.execute(
            _campaigns.update()
            .where(_campaigns.c.id == campaign_id)
            .values(options={**options, "retry": retry})
        )


def upgrade() -> None:
    """Upgrade the schema."""
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.alter_column("attempts", new_column_name="requests")
        batch_op.alter_column("tries", new_column_name="rounds")
    _rename_retry_key("attempts", "rounds")


def downgrade() -> None:
    """Downgrade the schema."""
    _rename_retry_key("rounds", "attempts")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.alter_column("rounds", new_column_name="tries")
        batch_op.alter_column("requests", new_column_name="attempts")
