"""Grading stage: read the inputs, regrade every customer (history and movements), plan the visits.

Three tasks per run (not per rep or customer). Each write is one transaction that replaces the
run_date's rows (grade history: applies only the changes), so retries and reruns are safe.
Customers' and staff's names are never read here: the tables hold ids and codes.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from edges.db import get_engine, insert_frame, read_frame, read_table, upsert_frame
from keqing.clock import cutoff_for
from keqing.dates import add_months, month_start
from keqing.grading import (
    Periods,
    apply_changes,
    due_today,
    grade_customers,
    grade_movements,
    history_changes,
    orphan_customers,
    rep_attainment,
    visit_facts,
    visit_targets,
)
from keqing.grading.attainment import active_owners
from keqing.grading.grades import rx_window
from keqing.grading.history import HISTORY_SCHEMA, KEY
from keqing.rules import Rules
from keqing.settings import Settings
from models import CustomerGrade, OrphanCustomer, RepAttainment, VisitTarget
from models.feeds import Customer, Order, RxMonthly, Staff, Visit
from models.loyalty import QuarterClose, QuarterReward, ReorderReminder
from tasks import IO_RETRIES, keqing_task, run_logger

CUSTOMER_COLUMNS = (
    "customer_id",
    "kind",
    "institution",
    "department",
    "title",
    "is_kol",
    "owner_staff_id",
    "office_code",
)
STAFF_COLUMNS = ("staff_id", "role", "office_code", "manager_id", "team", "active")
VISIT_COLUMNS = (
    "visit_id",
    "staff_id",
    "target_type",
    "target_id",
    "visit_at",
    "channel",
    "outcome",
    "next_visit_date",
)


@dataclass
class GradingInputs:
    """What the stage reads, already limited to records up to the cutoff (run_date - 1)."""

    customers: pl.DataFrame
    staff: pl.DataFrame
    rx: pl.DataFrame  # the grading window's months only
    orders: pl.DataFrame  # the VIP window only
    visits: pl.DataFrame  # visits to customers
    # The loyalty stage's (it runs first): terminals overdue for their reorder today (customer_id), and
    # the rewards of quarters closed by run_date whose visit may still be due (customer_id, quarter_end).
    reorders: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema={"customer_id": pl.String}))
    rewards: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema={"customer_id": pl.String, "quarter_end": pl.Date})
    )


@dataclass
class Graded:
    grades: pl.DataFrame
    summary: dict = field(default_factory=dict)


@keqing_task(**IO_RETRIES)
def read_grading_inputs(settings: Settings, run_date: dt.date, rules: Rules) -> GradingInputs:
    """Read master data, the rx window, the VIP window of orders and the visits to customers."""
    engine = get_engine(settings.database_url)
    cutoff = cutoff_for(run_date)
    rx_table, orders_table = RxMonthly.__table__, Order.__table__
    with engine.connect() as conn:
        newest = conn.execute(
            sa.select(sa.func.max(rx_table.c.month)).where(rx_table.c.month < month_start(run_date))
        ).scalar_one()
    if isinstance(newest, str):  # SQLite returns the aggregate as text
        newest = dt.date.fromisoformat(newest)
    first = month_start(newest, 1 - rules.grading.months) if newest else run_date
    rx_t, orders_t, visits_t = rx_table, orders_table, Visit.__table__
    customers_t, staff_t = Customer.__table__, Staff.__table__
    rx = read_table(
        engine,
        sa.select(rx_t.c.month, rx_t.c.customer_id, rx_t.c.product_code, rx_t.c.our_rx, rx_t.c.market_rx).where(
            rx_t.c.month >= first, rx_t.c.month < month_start(run_date)
        ),
    )
    vip_since = add_months(cutoff, -rules.grading.vip_months)
    orders = read_table(
        engine,
        sa.select(orders_t.c.customer_id, orders_t.c.amount, orders_t.c.order_date, orders_t.c.kind).where(
            orders_t.c.order_date > vip_since, orders_t.c.order_date <= cutoff
        ),
    )
    since = Periods.for_run(run_date, rules.work_calendar).visits_since(rules.visits.lookback_months)
    visits = read_table(
        engine,
        sa.select(*(visits_t.c[name] for name in VISIT_COLUMNS)).where(
            visits_t.c.target_type == "customer",
            visits_t.c.visit_at >= dt.datetime.combine(since, dt.time()),
            visits_t.c.visit_at < dt.datetime.combine(run_date, dt.time()),
        ),
    )
    customers = read_table(engine, sa.select(*(customers_t.c[name] for name in CUSTOMER_COLUMNS)))
    staff = read_table(engine, sa.select(*(staff_t.c[name] for name in STAFF_COLUMNS)))
    reorders, rewards = _read_loyalty_reasons(engine, run_date, since)
    run_logger().info(
        "grading inputs: %d customers, %d staff, %d rx rows, %d orders, %d customer visits",
        customers.height,
        staff.height,
        rx.height,
        orders.height,
        visits.height,
    )
    return GradingInputs(
        customers=customers, staff=staff, rx=rx, orders=orders, visits=visits, reorders=reorders, rewards=rewards
    )


def _read_loyalty_reasons(engine: sa.Engine, run_date: dt.date, since: dt.date) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Run_date's reorder reminders, and the rewards of the quarters closed by run_date that ended
    within the visits read (an older reward's hand-over visit could not be seen)."""
    rr, qr, qc = ReorderReminder.__table__, QuarterReward.__table__, QuarterClose.__table__
    reorders = read_table(engine, sa.select(rr.c.customer_id).where(rr.c.run_date == run_date))
    rewards = read_frame(
        engine,
        sa.select(qr.c.customer_id, qc.c.quarter_end)
        .select_from(qr.join(qc, qr.c.quarter == qc.c.quarter))
        .where(qc.c.run_date <= run_date, qc.c.quarter_end >= since),
        {"customer_id": pl.String(), "quarter_end": pl.Date()},
    )
    return reorders, rewards


def _read_history(conn: Connection) -> pl.DataFrame:
    table = CustomerGrade.__table__
    return read_table(conn, sa.select(*(table.c[name] for name in HISTORY_SCHEMA))).cast(HISTORY_SCHEMA)


def _delete_keys(conn: Connection, deletes: pl.DataFrame) -> None:
    """Delete history rows merged into a neighbour (rare: only reruns with corrected input)."""
    if deletes.height == 0:
        return
    t = CustomerGrade.__table__
    conn.execute(
        sa.delete(t).where(t.c.customer_id == sa.bindparam("cid"), t.c.valid_from == sa.bindparam("vfrom")),
        [{"cid": c, "vfrom": v} for c, v in deletes.select(KEY).iter_rows()],
    )


def _replace_run_date(conn: Connection, table: sa.Table, run_date: dt.date, frame: pl.DataFrame) -> int:
    conn.execute(sa.delete(table).where(table.c.run_date == run_date))
    return insert_frame(conn, table, frame.with_columns(pl.lit(run_date).alias("run_date")))


@keqing_task(**IO_RETRIES)
def update_grades(settings: Settings, inputs: GradingInputs, rules: Rules, run_date: dt.date) -> Graded:
    """Grade every customer for run_date, record the changes in the history, and count this month's movements."""
    grades = grade_customers(inputs.customers, inputs.rx, inputs.orders, run_date, rules)
    engine = get_engine(settings.database_url)
    with engine.begin() as conn:
        history = _read_history(conn)
        upserts, deletes = history_changes(history, grades, run_date)
        _delete_keys(conn, deletes)
        upsert_frame(conn, CustomerGrade.__table__, upserts, KEY)
        after = apply_changes(history, upserts, deletes)
    movements = grade_movements(after, run_date)
    window = rx_window(inputs.rx, run_date, rules)
    opened = upserts.filter(pl.col("valid_from") == run_date).height
    summary = {
        "rx_window": [m.isoformat()[:7] for m in window],
        "customers": grades.height,
        "by_grade": dict(sorted(Counter(grades["grade"].to_list()).items())),
        "history_rows_opened": opened,
        "history_rows_closed_or_merged": upserts.height - opened + deletes.height,
        "grade_movements_this_month": movements.height,
    }
    run_logger().info("grading: %d customers graded, %d history row(s) opened", grades.height, opened)
    return Graded(grades=grades, summary=summary)


@keqing_task(**IO_RETRIES)
def plan_visits(
    settings: Settings, inputs: GradingInputs, grades: pl.DataFrame, rules: Rules, run_date: dt.date
) -> dict:
    """Attainment to date, today's visit targets per rep and the customers of inactive staff."""
    periods = Periods.for_run(run_date, rules.work_calendar)
    c, s, v = inputs.customers, inputs.staff, inputs.visits
    facts = visit_facts(v, c, periods, rules)
    attainment = rep_attainment(c, grades, s, v, periods, rules, facts=facts)
    due = due_today(c, grades, v, periods, rules, facts=facts, reorders=inputs.reorders, rewards=inputs.rewards)
    targets = visit_targets(c, grades, s, v, periods, rules, due=due)
    orphans = orphan_customers(due, s)
    with get_engine(settings.database_url).begin() as conn:
        _replace_run_date(conn, RepAttainment.__table__, run_date, attainment)
        _replace_run_date(conn, VisitTarget.__table__, run_date, targets)
        _replace_run_date(conn, OrphanCustomer.__table__, run_date, orphans)
    active = active_owners(s, rules).select(pl.col("staff_id").alias("owner_staff_id"))
    appointments_due = due.join(active, on="owner_staff_id", how="semi").filter(pl.col("reason") == "appointment")
    listed_appointments = targets.filter(pl.col("reason") == "appointment").height
    summary = {
        "field_working_day": periods.is_workday,
        "workdays_left_in_month": periods.workdays_left,
        "reps_with_targets": targets["staff_id"].n_unique(),
        "targets": targets.height,
        "targets_by_reason": dict(sorted(Counter(targets["reason"].to_list()).items())),
        "appointments_over_daily_plan": appointments_due.height - listed_appointments,
        "attainment_rows": attainment.height,
        "orphan_customers": orphans.height,
        "orphans_without_manager": orphans.filter(pl.col("manager_id").is_null()).height,
    }
    run_logger().info(
        "visit targets: %d for %d rep(s); %d customer(s) of inactive staff",
        targets.height,
        summary["reps_with_targets"],
        orphans.height,
    )
    return summary
