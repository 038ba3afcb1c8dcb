"""supply_contacts: each patient's last call and last completed call, kept between runs;
supply_contact_changes, filled by triggers on visits, names the patients to bring up to date

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# A call: a visit to a patient by phone or at home (keqing.supply.callbacks.CALL_CHANNELS, as of
# this revision). What its maxima depend on: a change to any other column leaves them as they are.
_IS_CALL = "target_type = 'patient' AND channel IN ('phone', 'home')"
_CALL_COLUMNS = ("target_type", "target_id", "channel", "visit_at", "outcome")

# The maxima of every patient called so far (the table starts full on an upgraded database).
_FILL = f"""
INSERT INTO supply_contacts (patient_id, last_completed, last_attempt)
SELECT target_id, MAX(CASE WHEN outcome = 'completed' THEN visit_at END), MAX(visit_at)
FROM visits WHERE {_IS_CALL} GROUP BY target_id
"""

# PostgreSQL: statement-level triggers with transition tables, one set-based insert per statement.
_PG_FUNCTION = f"""
CREATE FUNCTION keqing_visits_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO supply_contact_changes (patient_id)
        SELECT DISTINCT target_id FROM new_rows WHERE {_IS_CALL} ON CONFLICT DO NOTHING;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO supply_contact_changes (patient_id)
        SELECT DISTINCT target_id FROM old_rows WHERE {_IS_CALL} ON CONFLICT DO NOTHING;
    ELSE
        INSERT INTO supply_contact_changes (patient_id)
        SELECT DISTINCT changed.target_id FROM old_rows o JOIN new_rows n USING (visit_id),
            LATERAL (VALUES (o.target_type, o.target_id, o.channel), (n.target_type, n.target_id, n.channel))
                AS changed (target_type, target_id, channel)
        WHERE (o.target_type, o.target_id, o.channel, o.visit_at, o.outcome)
            IS DISTINCT FROM (n.target_type, n.target_id, n.channel, n.visit_at, n.outcome)
          AND changed.target_type = 'patient' AND changed.channel IN ('phone', 'home')
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END $$;
"""
_PG_RESET = """
CREATE FUNCTION keqing_visits_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM supply_contacts;  -- no visit left, so no call
    DELETE FROM supply_contact_changes;
    RETURN NULL;
END $$;
"""
_PG_TRIGGERS = (
    "CREATE TRIGGER visits_inserted AFTER INSERT ON visits REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION keqing_visits_changed()",
    "CREATE TRIGGER visits_updated AFTER UPDATE ON visits REFERENCING OLD TABLE AS old_rows "
    "NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION keqing_visits_changed()",
    "CREATE TRIGGER visits_deleted AFTER DELETE ON visits REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION keqing_visits_changed()",
    "CREATE TRIGGER visits_truncated AFTER TRUNCATE ON visits "
    "FOR EACH STATEMENT EXECUTE FUNCTION keqing_visits_truncated()",
)


# SQLite has row-level triggers only; not "INSERT OR IGNORE" (see migration 0013).
def _sqlite_mark(row: str) -> str:
    return (
        f"INSERT INTO supply_contact_changes (patient_id) SELECT {row}.target_id "
        f"WHERE {row}.target_type = 'patient' AND {row}.channel IN ('phone', 'home') AND NOT EXISTS "
        f"(SELECT 1 FROM supply_contact_changes WHERE patient_id = {row}.target_id);"
    )


_SQLITE_TRIGGERS = (
    f"CREATE TRIGGER visits_inserted AFTER INSERT ON visits BEGIN {_sqlite_mark('NEW')} END",
    "CREATE TRIGGER visits_updated AFTER UPDATE ON visits WHEN "
    + " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in _CALL_COLUMNS)
    + f" BEGIN {_sqlite_mark('OLD')} {_sqlite_mark('NEW')} END",
    f"CREATE TRIGGER visits_deleted AFTER DELETE ON visits BEGIN {_sqlite_mark('OLD')} END",
)


def upgrade() -> None:
    op.create_table(
        "supply_contacts",
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("last_completed", sa.DateTime(), nullable=True),
        sa.Column("last_attempt", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("patient_id", name=op.f("pk_supply_contacts")),
    )
    op.create_table(
        "supply_contact_changes",
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("patient_id", name=op.f("pk_supply_contact_changes")),
    )
    patients = sa.text("target_type = 'patient'")
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.create_index(
            "ix_visits_patient", ["target_id"], unique=False, postgresql_where=patients, sqlite_where=patients
        )
    op.execute(_FILL)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute(_PG_RESET)
        for statement in _PG_TRIGGERS:
            op.execute(statement)
    else:
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for name in ("visits_inserted", "visits_updated", "visits_deleted", "visits_truncated"):
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON visits" if postgres else f"DROP TRIGGER IF EXISTS {name}")
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS keqing_visits_changed()")
        op.execute("DROP FUNCTION IF EXISTS keqing_visits_truncated()")
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.drop_index("ix_visits_patient")
    op.drop_table("supply_contact_changes")
    op.drop_table("supply_contacts")
