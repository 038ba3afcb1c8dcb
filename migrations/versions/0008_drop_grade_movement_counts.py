"""drop grade_movements: per-rep counts no email read; a month's movements are derived from customer_grades

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("grade_movements", schema=None) as batch_op:
        batch_op.drop_index("ix_grade_movements_run_date_scope")
    op.drop_table("grade_movements")


def downgrade() -> None:
    op.create_table(
        "grade_movements",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_date", sa.Date(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("scope_id", sa.String(length=64), nullable=False),
        sa.Column("office_code", sa.String(length=64), nullable=True),
        sa.Column("staff_id", sa.String(length=64), nullable=True),
        sa.Column("dimension", sa.String(length=10), nullable=False),
        sa.Column("from_value", sa.String(length=8), nullable=True),
        sa.Column("to_value", sa.String(length=8), nullable=True),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grade_movements")),
    )
    with op.batch_alter_table("grade_movements", schema=None) as batch_op:
        batch_op.create_index("ix_grade_movements_run_date_scope", ["run_date", "scope", "scope_id"], unique=False)
