"""runs: host, pid and lock of each run, so a run whose process died is marked crashed and reported once

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("host", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("pid", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("lock_name", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("crash_reported_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("crash_reported_on")
        batch_op.drop_column("lock_name")
        batch_op.drop_column("pid")
        batch_op.drop_column("host")
