"""patient_supply without secondary indexes: the nightly snapshot is rewritten whole, and nothing reads it by
staff or office

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 13:55:00
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("patient_supply", schema=None) as batch_op:
        batch_op.drop_index("ix_patient_supply_staff_status")
        batch_op.drop_index("ix_patient_supply_office_status")


def downgrade() -> None:
    with op.batch_alter_table("patient_supply", schema=None) as batch_op:
        batch_op.create_index("ix_patient_supply_office_status", ["office_code", "status"], unique=False)
        batch_op.create_index("ix_patient_supply_staff_status", ["callback_staff_id", "status"], unique=False)
