"""outbox: the ops alert kinds (alert_failed, alert_late) join the kinds the check constraint allows

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 17:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BEFORE = ("rep", "callback", "home_visit", "manager", "ops")
AFTER = (*BEFORE, "alert_failed", "alert_late")


def _kinds(kinds: tuple[str, ...]) -> str:
    return f"kind IN ({', '.join(repr(k) for k in kinds)})"


def _replace_check(kinds: tuple[str, ...]) -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_outbox_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_outbox_kind"), _kinds(kinds))


def upgrade() -> None:
    _replace_check(AFTER)


def downgrade() -> None:
    op.execute(f"DELETE FROM outbox WHERE kind NOT IN ({', '.join(repr(k) for k in BEFORE)})")
    _replace_check(BEFORE)
