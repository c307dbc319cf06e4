"""Campaigns remember the text-to-speech length limit the provider named in `tts_text_exceeded`.

Revision ID: 7d2f4b1c9e63
Revises: 5e1c0a7d3b92
Create Date: 2026-11-24 00:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7d2f4b1c9e63"
down_revision: str | Sequence[str] | None = "5e1c0a7d3b92"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade the schema."""
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tts_limit_learned", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Downgrade the schema."""
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("tts_limit_learned")
