"""Attempts carry their call's end from the provider's reports: disposition, seconds listened, and
where the report of it stands.

Revision ID: 5e1c0a7d3b92
Revises: 5c1e7a9d3b20
Create Date: 2026-11-23 21:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e1c0a7d3b92"
down_revision: str | Sequence[str] | None = "5c1e7a9d3b20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade the schema."""
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("report_status", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("report_asked_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("disposition", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("listened_seconds", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("total_duration", sa.Integer(), nullable=True))
        batch_op.create_index(
            "ix_attempts_report", ["report_status", "report_asked_at"], unique=False
        )


def downgrade() -> None:
    """Downgrade the schema."""
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_attempts_report")
        batch_op.drop_column("total_duration")
        batch_op.drop_column("listened_seconds")
        batch_op.drop_column("disposition")
        batch_op.drop_column("report_asked_at")
        batch_op.drop_column("report_status")
