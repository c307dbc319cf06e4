"""Attempts remember when the reconciler last asked for them to be looked up.

Revision ID: 2a398d822d14
Revises: 88cc2779e04c
Create Date: 2026-11-23 11:47:21.254984
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2a398d822d14"
down_revision: str | Sequence[str] | None = "88cc2779e04c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade the schema."""
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lookup_sent_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    """Downgrade the schema."""
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_column("lookup_sent_at")
