"""visits indexed by target type and time: grading reads the last months' visits to customers

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 14:25:00
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.create_index("ix_visits_target_type_visit_at", ["target_type", "visit_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.drop_index("ix_visits_target_type_visit_at")
