"""Typed input frames for the grading tests, and a small book of feed rows to seed a test database."""

from __future__ import annotations

import datetime as dt

import polars as pl

from edges.db import frame_schema, get_engine, insert_frame, read_frame
from models import FEED_MODELS, Base

RUN = dt.date(2026, 11, 23)  # a Monday

CUSTOMERS = {
    "customer_id": pl.String,
    "kind": pl.String,
    "institution": pl.String,
    "department": pl.String,
    "title": pl.String,
    "is_kol": pl.Boolean,
    "owner_staff_id": pl.String,
    "office_code": pl.String,
}
STAFF = {
    "staff_id": pl.String,
    "role": pl.String,
    "office_code": pl.String,
    "manager_id": pl.String,
    "team": pl.String,
    "active": pl.Boolean,
}
VISITS = {
    "visit_id": pl.String,
    "staff_id": pl.String,
    "target_type": pl.String,
    "target_id": pl.String,
    "visit_at": pl.Datetime("us"),
    "channel": pl.String,
    "outcome": pl.String,
    "next_visit_date": pl.Date,
}
RX = {"month": pl.Date, "customer_id": pl.String, "product_code": pl.String, "our_rx": pl.Int64, "market_rx": pl.Int64}
ORDERS = {"customer_id": pl.String, "amount": pl.Float64, "order_date": pl.Date, "kind": pl.String}
GRADES = {"customer_id": pl.String, "kind": pl.String, "grade": pl.String, "nine_box": pl.String, "is_kol": pl.Boolean}


def customer(
    customer_id: str,
    kind: str = "doctor",
    owner: str = "S1",
    institution: str = "H1",
    department: str | None = "心内科",
    title: str | None = None,
    is_kol: bool = False,
    office: str = "OF1",
) -> dict:
    return dict(
        customer_id=customer_id,
        kind=kind,
        institution=institution,
        department=department,
        title=title,
        is_kol=is_kol,
        owner_staff_id=owner,
        office_code=office,
    )


def customers(*rows: dict) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=CUSTOMERS)


def staff(*rows: tuple) -> pl.DataFrame:
    """Rows of (staff_id, role, manager_id, team, active) in office OF1."""
    return pl.DataFrame(
        [dict(staff_id=s, role=r, office_code="OF1", manager_id=m, team=t, active=a) for s, r, m, t, a in rows],
        schema=STAFF,
    )


def visit(
    target: str,
    day: dt.date,
    staff_id: str = "S1",
    channel: str = "face",
    outcome: str = "completed",
    next_visit: dt.date | None = None,
    hour: int = 10,
    target_type: str = "customer",
) -> dict:
    return dict(
        staff_id=staff_id,
        target_type=target_type,
        target_id=target,
        visit_at=dt.datetime.combine(day, dt.time(hour)),
        channel=channel,
        outcome=outcome,
        next_visit_date=next_visit,
    )


def visits(*rows: dict) -> pl.DataFrame:
    return pl.DataFrame([dict(visit_id=f"V{i:04d}", **row) for i, row in enumerate(rows)], schema=VISITS)


def rx(*rows: tuple) -> pl.DataFrame:
    """Rows of (YYYY-MM, customer_id, our_rx, market_rx[, product_code])."""
    return pl.DataFrame(
        [
            dict(
                month=dt.date.fromisoformat(f"{r[0]}-01"),
                customer_id=r[1],
                our_rx=r[2],
                market_rx=r[3],
                product_code=r[4] if len(r) > 4 else "PR01",
            )
            for r in rows
        ],
        schema=RX,
    )


def orders(*rows: tuple) -> pl.DataFrame:
    """Rows of (customer_id, amount, order_date[, kind])."""
    return pl.DataFrame(
        [dict(customer_id=r[0], amount=r[1], order_date=r[2], kind=r[3] if len(r) > 3 else "order") for r in rows],
        schema=ORDERS,
    )


def grades(*rows: tuple) -> pl.DataFrame:
    """Rows of (customer_id, kind, grade[, nine_box[, is_kol]])."""
    return pl.DataFrame(
        [
            dict(
                customer_id=r[0],
                kind=r[1],
                grade=r[2],
                nine_box=r[3] if len(r) > 3 else None,
                is_kol=r[4] if len(r) > 4 else False,
            )
            for r in rows
        ],
        schema=GRADES,
    )


# --- the database ------------------------------------------------------------------------------


def table(settings, name: str, order_by: str | None = None) -> pl.DataFrame:
    """A table with typed columns (dates as dates on SQLite too)."""
    sql = f"SELECT * FROM {name}" + (f" ORDER BY {order_by}" if order_by else "")
    return read_frame(get_engine(settings.database_url), sql, frame_schema(Base.metadata.tables[name]))


def load_feed(settings, feed: str, frame: pl.DataFrame) -> None:
    lineage = frame.with_columns(
        pl.lit(1).alias("source_file_id"), pl.int_range(pl.len()).cast(pl.Int64).alias("source_line")
    )
    with get_engine(settings.database_url).begin() as conn:
        insert_frame(conn, FEED_MODELS[feed].__table__, lineage)


def seed_database(settings) -> None:
    """A small book in the feed tables: S1 (active) and S3 (left) with four customers, rx, orders, visits."""
    people = staff(
        ("S1", "rep", "M1", "GEN", True), ("S3", "rep", "M1", "GEN", False), ("M1", "manager", None, None, True)
    )
    load_feed(
        settings, "staff", people.with_columns(pl.col("staff_id").alias("name"), pl.lit("x@example.com").alias("email"))
    )
    cust = customers(
        customer("D1"),
        customer("D2", institution="H2"),
        customer("T1", kind="terminal", institution="药店", department=None),
        customer("O1", owner="S3"),
    )
    load_feed(settings, "customers", cust.with_columns(pl.col("customer_id").alias("name")))
    months = ("2026-08", "2026-09", "2026-10")
    load_feed(
        settings,
        "rx_monthly",
        rx(*((m, "D1", 40, 120) for m in months), ("2026-11", "D2", 99, 999)),  # November: not complete yet
    )
    load_feed(
        settings,
        "orders",
        orders(("T1", 300.0, dt.date(2026, 6, 1)), ("T1", 900.0, RUN)).with_columns(
            pl.Series("order_id", ["OR1", "OR2"]), pl.lit("PR01").alias("product_code"), pl.lit(1).alias("quantity")
        ),
    )
    load_feed(
        settings,
        "visits",
        visits(
            visit("D1", dt.date(2026, 11, 2), next_visit=RUN),
            visit("D2", dt.date(2026, 11, 3)),
            visit("D2", RUN, hour=8),  # on run_date: after the cutoff
            visit("P1", dt.date(2026, 11, 3), target_type="patient"),  # not a customer
        ),
    )
