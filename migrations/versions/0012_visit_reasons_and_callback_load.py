"""visit_targets.other_reasons (the other reasons that apply, contract section 5) and callback_load (a
nurse's due calls against the day's capacity)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("visit_targets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("other_reasons", sa.String(length=80), nullable=True))
    op.create_table(
        "callback_load",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_date", sa.Date(), nullable=False),
        sa.Column("office_code", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.String(length=64), nullable=True),
        sa.Column("due", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("waiting", sa.Integer(), nullable=False),
        sa.Column("waiting_since", sa.Date(), nullable=True),
        sa.Column("backlog_days", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_load")),
    )
    with op.batch_alter_table("callback_load", schema=None) as batch_op:
        batch_op.create_index("ix_callback_load_run_date_office", ["run_date", "office_code"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("callback_load", schema=None) as batch_op:
        batch_op.drop_index("ix_callback_load_run_date_office")
    op.drop_table("callback_load")
    with op.batch_alter_table("visit_targets", schema=None) as batch_op:
        batch_op.drop_column("other_reasons")
