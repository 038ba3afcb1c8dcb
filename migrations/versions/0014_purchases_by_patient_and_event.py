"""purchases indexed by patient and, those at free clinics, by event: the supply stage reads the purchases
of the patients whose purchases changed, and every purchase at a free clinic

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.create_index("ix_purchases_patient_id", ["patient_id"], unique=False)
        at_events = sa.text("event_id IS NOT NULL")
        batch_op.create_index(
            "ix_purchases_event_id", ["event_id"], unique=False, postgresql_where=at_events, sqlite_where=at_events
        )


def downgrade() -> None:
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.drop_index("ix_purchases_event_id")
        batch_op.drop_index("ix_purchases_patient_id")
