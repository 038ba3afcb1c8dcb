"""Reorder reminders: a terminal whose usual interval between orders has passed without a new order.

The usual interval is the median of the gaps between its last ``reorder_last_orders`` order days
(at least ``reorder_min_orders`` of them), rounded up to whole days; several orders on one day are
one reorder. The next order is due ``usual interval`` days after the last one; on the run date
after that the terminal is overdue by ``run_date - due_date`` days and goes to its rep's list.
Returns are not reorders and do not count.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from keqing.clock import cutoff_for
from keqing.rules import LoyaltyRules

REMINDER_SCHEMA: dict[str, pl.DataType] = {
    "run_date": pl.Date(),
    "staff_id": pl.String(),
    "customer_id": pl.String(),
    "usual_interval_days": pl.Int64(),
    "orders_counted": pl.Int64(),
    "last_order_date": pl.Date(),
    "due_date": pl.Date(),
    "days_overdue": pl.Int64(),
}


def usual_intervals(order_days: pl.DataFrame, rules: LoyaltyRules) -> pl.DataFrame:
    """Per terminal: its usual interval in days and its last order day.

    ``order_days``: customer_id, order_date (orders only, dated up to the cutoff, any duplicates).
    """
    days = (
        order_days.select("customer_id", "order_date")
        .unique()
        .sort("customer_id", "order_date")
        .group_by("customer_id", maintain_order=True)
        .tail(rules.reorder_last_orders)
    )
    gaps = days.with_columns(
        (pl.col("order_date") - pl.col("order_date").shift(1).over("customer_id")).dt.total_days().alias("gap")
    )
    return (
        gaps.group_by("customer_id")
        .agg(
            pl.len().alias("orders_counted"),
            pl.col("order_date").max().alias("last_order_date"),
            pl.col("gap").median().ceil().cast(pl.Int64).alias("usual_interval_days"),
        )
        .filter(pl.col("orders_counted") >= rules.reorder_min_orders)
        .with_columns(pl.col("orders_counted").cast(pl.Int64))
    )


def reorder_reminders(
    orders: pl.DataFrame, owners: pl.DataFrame, rules: LoyaltyRules, run_date: dt.date
) -> pl.DataFrame:
    """Overdue terminals for ``run_date``, with their owning rep, most overdue first.

    ``orders``: customer_id, order_date, kind. ``owners``: customer_id, owner_staff_id.
    """
    order_days = orders.filter((pl.col("kind") == "order") & (pl.col("order_date") <= cutoff_for(run_date)))
    due = usual_intervals(order_days, rules).with_columns(
        (pl.col("last_order_date") + pl.duration(days=pl.col("usual_interval_days"))).alias("due_date")
    )
    return (
        due.with_columns(
            pl.lit(run_date).alias("run_date"),
            (pl.lit(run_date) - pl.col("due_date")).dt.total_days().alias("days_overdue"),
        )
        .filter(pl.col("days_overdue") > 0)
        .join(owners.select("customer_id", pl.col("owner_staff_id").alias("staff_id")), on="customer_id")
        .select(*REMINDER_SCHEMA)
        .cast(REMINDER_SCHEMA)
        .sort(["staff_id", "days_overdue", "customer_id"], descending=[False, True, False])
    )
