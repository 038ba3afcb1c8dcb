"""feeds and ingest bookkeeping

Revision ID: 0001
Revises:
Create Date: 2026-11-22 08:00:26.182386
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consults",
        sa.Column("consult_id", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("disease", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("came_in", sa.Boolean(), nullable=True),
        sa.Column("purchased", sa.Boolean(), nullable=True),
        sa.Column("office_code", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.String(length=64), nullable=True),
        sa.Column("source_file_id", sa.Integer(), nullable=False),
        sa.Column("source_line", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("consult_id", name=op.f("pk_consults")),
    )
    op.create_table(
        "customers",
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("institution", sa.Text(), nullable=False),
        sa.Column("department", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("terminal_type", sa.String(length=32), nullable=True),
        sa.Column("is_kol", sa.Boolean(), nullable=False),
        sa.Column("owner_staff_id", sa.String(length=64), nullable=False),
        sa.Column("office_code", sa.String(length=64), nullable=False),
        sa.Column("source_file_id", sa.Integer(), nullable=False),
        sa.Column("source_line", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customers")),
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customers_office_code"), ["office_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_customers_owner_staff_id"), ["owner_staff_id"], unique=False)

    op.create_table(
        "inbox_paths",
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("path", name=op.f("pk_inbox_paths")),
    )
    with op.batch_alter_table("inbox_paths", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inbox_paths_sha256"), ["sha256"], unique=False)

    op.create_table(
        "ingest_files",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("feed", sa.String(length=20), nullable=False),
        sa.Column("encoding", sa.String(length=20), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("rows_loaded", sa.Integer(), nullable=False),
        sa.Column("rows_quarantined", sa.Integer(), nullable=False),
        sa.Column("rows_duplicate", sa.Integer(), nullable=False),
        sa.Column("messages", sa.JSON(), nullable=False),
        sa.Column("run_date", sa.Date(), nullable=False),
        sa.Column("ingested_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_files")),
        sa.UniqueConstraint("sha256", name=op.f("uq_ingest_files_sha256")),
    )
    op.create_table(
        "offices",
        sa.Column("office_code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("region", sa.Text(), nullable=True),
        sa.Column("is_rural", sa.Boolean(), nullable=False),
        sa.Column("source_file_id", sa.Integer(), nullable=False),
        sa.Column("source_line", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("office_code", name=op.f("pk_offices")),
    )
    op.create_table(
        "orders",
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("product_code", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2, asdecimal=False), nullable=False),
        sa.Column("order_date", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("source_file_id", sa.Integer(), nullable=False),
        sa.Column("source_line", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_orders")),
    )
    op.create_table(
        "patients",
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("gender", sa.String(length=1), nullable=True),
        sa.Column("age", sa.Integer(), nullable=True),
        sa.Column("disease", sa.Text(), nullable=True),
        sa.Column("village", sa.Text(), nullable=True),
        sa.Column("township", sa.Text(), nullable=True),
        sa.Column("office_code", sa.String(length=64), nullable=False),
        sa.Column("callback_staff_id", sa.String(length=64), nullable=True),
        sa.Column("home_visit_staff_id", sa.String(length=64), nullable=True),
        sa.Column("informed", sa.Boolean(), nullable=True),
        sa.Column("contact_name", sa.Text(), nullable=True),
        sa.Column("contact_relation", sa.Text(), nullable=True),
        sa.Column("source_file_id", sa.Integer(), nullable=False),
        sa.Column("source_line", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("patient_id", name=op.f("pk_patients")),
    )
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patients_callback_staff_id"), ["callback_staff_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_patients_office_code"), ["office_code"], unique=False)

    op.create_table(
        "products",
        sa.Column("product_code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("units_per_box", sa.Float(), nullable=False),
        sa.Column("daily_units", sa.Float(), nullable=False),
        sa.Column("price_per_box", sa.Numeric(precision=14, scale=2, asdecimal=False), nullable=True),
        sa.Column("source_file_id", sa.Integer(), nullable=False),
        sa.Column("source_line", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("product_code", name=op.f("pk_products")),
    )
    op.create_table(
        "purchases",
        sa.Column("purchase_id", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("product_code", sa.String(length=64), nullable=False),
        sa.Column("boxes", sa.Integer(), nullable=False),
        sa.Column("purchase_date", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=True),
        sa.Column("event_id", sa.String(length=64), nullable=True),
        sa.Column("staff_id", sa.String(length=64), nullable=True),
        sa.Column("amount", sa.Numeric(precision=14, scale=2, asdecimal=False), nullable=True),
        sa.Column("source_file_id", sa.Integer(), nullable=False),
        sa.Column("source_line", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("purchase_id", name=op.f("pk_purchases")),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_date", sa.Date(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("prefect_flow_run_id", sa.String(length=64), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
    )
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_runs_run_date"), ["run_date"], unique=False)

    op.create_table(
        "rx_monthly",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("product_code", sa.String(length=64), nullable=False),
        sa.Column("our_rx", sa.Integer(), nullable=False),
        sa.Column("market_rx", sa.Integer(), nullable=False),
        sa.Column("source_file_id", sa.Integer(), nullable=False),
        sa.Column("source_line", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("month", "customer_id", "product_code", name=op.f("pk_rx_monthly")),
    )
    op.create_table(
        "staff",
        sa.Column("staff_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("office_code", sa.String(length=64), nullable=False),
        sa.Column("manager_id", sa.String(length=64), nullable=True),
        sa.Column("team", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("source_file_id", sa.Integer(), nullable=False),
        sa.Column("source_line", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("staff_id", name=op.f("pk_staff")),
    )
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_office_code"), ["office_code"], unique=False)

    op.create_table(
        "visits",
        sa.Column("visit_id", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.String(length=64), nullable=False),
        sa.Column("target_type", sa.String(length=20), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=False),
        sa.Column("visit_at", sa.DateTime(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("products", sa.String(length=140), nullable=True),
        sa.Column("commitment", sa.Text(), nullable=True),
        sa.Column("next_visit_date", sa.Date(), nullable=True),
        sa.Column("source_file_id", sa.Integer(), nullable=False),
        sa.Column("source_line", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("visit_id", name=op.f("pk_visits")),
    )
    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("feed", sa.String(length=20), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("column_name", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("raw", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
        sa.Column("first_seen_run_date", sa.Date(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("resolved_run_date", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["file_id"], ["ingest_files.id"], name=op.f("fk_quarantine_file_id_ingest_files")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine")),
        sa.UniqueConstraint("file_id", "line", name="uq_quarantine_file_line"),
    )
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.create_index("ix_quarantine_status_feed", ["status", "feed"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.drop_index("ix_quarantine_status_feed")

    op.drop_table("quarantine")
    op.drop_table("visits")
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_office_code"))

    op.drop_table("staff")
    op.drop_table("rx_monthly")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_runs_run_date"))

    op.drop_table("runs")
    op.drop_table("purchases")
    op.drop_table("products")
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patients_office_code"))
        batch_op.drop_index(batch_op.f("ix_patients_callback_staff_id"))

    op.drop_table("patients")
    op.drop_table("orders")
    op.drop_table("offices")
    op.drop_table("ingest_files")
    with op.batch_alter_table("inbox_paths", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbox_paths_sha256"))

    op.drop_table("inbox_paths")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customers_owner_staff_id"))
        batch_op.drop_index(batch_op.f("ix_customers_office_code"))

    op.drop_table("customers")
    op.drop_table("consults")
