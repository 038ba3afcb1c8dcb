"""Typed input frames for the grading tests, with the columns the tasks read from the database."""

from __future__ import annotations

import datetime as dt

import polars as pl

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
