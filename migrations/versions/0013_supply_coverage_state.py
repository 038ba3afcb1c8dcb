"""supply_coverage: the coverage of every loaded purchase, kept between runs; supply_coverage_changes,
filled by triggers on purchases, names the patients to bring up to date; supply_coverage_products
records the product data the coverage was computed with

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# What a purchase's coverage depends on: a change to any other column (channel, staff, amount,
# lineage) leaves the coverage as it is.
_COVERAGE_COLUMNS = ("patient_id", "product_code", "boxes", "purchase_date")

# PostgreSQL: statement-level triggers with transition tables, one set-based insert per statement
# (a COPY of millions of rows marks each patient once, not once per row).
_PG_FUNCTION = """
CREATE FUNCTION keqing_purchases_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO supply_coverage_changes (patient_id)
        SELECT DISTINCT patient_id FROM new_rows ON CONFLICT DO NOTHING;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO supply_coverage_changes (patient_id)
        SELECT DISTINCT patient_id FROM old_rows ON CONFLICT DO NOTHING;
    ELSE
        INSERT INTO supply_coverage_changes (patient_id)
        SELECT DISTINCT changed.patient_id FROM (
            SELECT o.patient_id AS old_patient, n.patient_id AS new_patient
            FROM old_rows o JOIN new_rows n USING (purchase_id)
            WHERE (o.patient_id, o.product_code, o.boxes, o.purchase_date)
                IS DISTINCT FROM (n.patient_id, n.product_code, n.boxes, n.purchase_date)
        ) AS moved, LATERAL (VALUES (moved.old_patient), (moved.new_patient)) AS changed (patient_id)
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END $$;
"""
_PG_RESET = """
CREATE FUNCTION keqing_purchases_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM supply_coverage_products;  -- computed again from every purchase by the next run
    RETURN NULL;
END $$;
"""
_PG_TRIGGERS = (
    "CREATE TRIGGER purchases_inserted AFTER INSERT ON purchases REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION keqing_purchases_changed()",
    "CREATE TRIGGER purchases_updated AFTER UPDATE ON purchases REFERENCING OLD TABLE AS old_rows "
    "NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION keqing_purchases_changed()",
    "CREATE TRIGGER purchases_deleted AFTER DELETE ON purchases REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION keqing_purchases_changed()",
    "CREATE TRIGGER purchases_truncated AFTER TRUNCATE ON purchases "
    "FOR EACH STATEMENT EXECUTE FUNCTION keqing_purchases_truncated()",
)


# SQLite has row-level triggers only. Not "INSERT OR IGNORE": inside a trigger the outer statement's
# conflict policy wins, and ingest's upsert would then fail on a patient named twice.
def _sqlite_mark(patient: str) -> str:
    return (
        f"INSERT INTO supply_coverage_changes (patient_id) SELECT {patient} WHERE NOT EXISTS "
        f"(SELECT 1 FROM supply_coverage_changes WHERE patient_id = {patient});"
    )


_SQLITE_TRIGGERS = (
    f"CREATE TRIGGER purchases_inserted AFTER INSERT ON purchases BEGIN {_sqlite_mark('NEW.patient_id')} END",
    "CREATE TRIGGER purchases_updated AFTER UPDATE ON purchases WHEN "
    + " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in _COVERAGE_COLUMNS)
    + f" BEGIN {_sqlite_mark('OLD.patient_id')} {_sqlite_mark('NEW.patient_id')} END",
    f"CREATE TRIGGER purchases_deleted AFTER DELETE ON purchases BEGIN {_sqlite_mark('OLD.patient_id')} END",
)


def upgrade() -> None:
    op.create_table(
        "supply_coverage",
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("product_code", sa.String(length=64), nullable=False),
        sa.Column("purchase_date", sa.Date(), nullable=False),
        sa.Column("boxes", sa.Integer(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("expiry_date", sa.Date(), nullable=False),
        sa.Column("next_purchase_date", sa.Date(), nullable=True),
        sa.Column("first_purchase_date", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("patient_id", "product_code", "purchase_date", name=op.f("pk_supply_coverage")),
    )
    op.create_table(
        "supply_coverage_changes",
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("patient_id", name=op.f("pk_supply_coverage_changes")),
    )
    op.create_table(
        "supply_coverage_products",
        sa.Column("product_code", sa.String(length=64), nullable=False),
        sa.Column("units_per_box", sa.Float(), nullable=False),
        sa.Column("daily_units", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("product_code", name=op.f("pk_supply_coverage_products")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute(_PG_RESET)
        for statement in _PG_TRIGGERS:
            op.execute(statement)
    else:
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    for name in ("purchases_inserted", "purchases_updated", "purchases_deleted", "purchases_truncated"):
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON purchases")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS keqing_purchases_changed()")
        op.execute("DROP FUNCTION IF EXISTS keqing_purchases_truncated()")
    op.drop_table("supply_coverage_products")
    op.drop_table("supply_coverage_changes")
    op.drop_table("supply_coverage")
