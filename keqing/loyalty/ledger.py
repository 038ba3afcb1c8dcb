"""The points ledger: which entries a night's orders add, given what the ledger already holds for them.

The ledger is append-only. Each order row (``kind`` ``order`` or ``return``) gets exactly one first
entry, ``seq`` 0: ``earn`` for an order, ``reverse`` for a return (negative points). When the order
row later differs from the state the ledger last recorded for it (customer, kind, amount), the
difference is appended as ``adjust`` entries with the next ``seq`` numbers: points move off any
other customer that holds some, and the current customer's entry (always the last, so it records
the new state) carries the rest, zero included. Entries already posted are never changed.

Points of an entry count in the quarter of the order's date, or, when that quarter is closed, in
the open quarter (the one after the last closed quarter): a closed quarter never changes.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from keqing.loyalty.quarters import quarter_index_expr, quarter_label_expr
from keqing.rules import LoyaltyRules

# An order row as the accrual reads it (money in yuan).
ORDER_SCHEMA: dict[str, pl.DataType] = {
    "order_id": pl.String(),
    "customer_id": pl.String(),
    "product_code": pl.String(),
    "amount": pl.Float64(),
    "kind": pl.String(),
    "order_date": pl.Date(),
    "source_file_id": pl.Int64(),
    "source_line": pl.Int64(),
}
# What the ledger already holds for those orders.
POSTED_SCHEMA: dict[str, pl.DataType] = {
    "order_id": pl.String(),
    "seq": pl.Int64(),
    "customer_id": pl.String(),
    "order_kind": pl.String(),
    "order_amount": pl.Float64(),
    "points": pl.Int64(),
}
# Orders a return may take back (kind ``order``).
PRIOR_SCHEMA: dict[str, pl.DataType] = {
    "order_id": pl.String(),
    "customer_id": pl.String(),
    "product_code": pl.String(),
    "order_date": pl.Date(),
}
# A new ledger entry (the columns of table points_ledger that the accrual fills).
ENTRY_SCHEMA: dict[str, pl.DataType] = {
    "order_id": pl.String(),
    "seq": pl.Int64(),
    "entry_kind": pl.String(),
    "customer_id": pl.String(),
    "product_code": pl.String(),
    "order_date": pl.Date(),
    "order_kind": pl.String(),
    "order_amount": pl.Float64(),
    "points": pl.Int64(),
    "dated_quarter": pl.String(),
    "quarter": pl.String(),
    "reverses_order_id": pl.String(),
    "run_date": pl.Date(),
    "source_file_id": pl.Int64(),
    "source_line": pl.Int64(),
}


def fen(amount: pl.Expr) -> pl.Expr:
    """Yuan as integer fen (0.01 yuan): amounts are two-decimal values, so points are computed exactly."""
    return (amount * 100).round(0).cast(pl.Int64)


def points_expr(amount: pl.Expr, rules: LoyaltyRules) -> pl.Expr:
    """Points for an amount in yuan: ``yuan_per_point`` yuan a point, rounded per ``rules.rounding``."""
    cents = fen(amount)
    per_point = round(rules.yuan_per_point * 100)
    if rules.rounding == "floor":
        return cents // per_point
    if rules.rounding == "ceil":
        return (cents + per_point - 1) // per_point
    return (2 * cents + per_point) // (2 * per_point)  # half up


def signed_points_expr(amount: pl.Expr, kind: pl.Expr, rules: LoyaltyRules) -> pl.Expr:
    """What an order row is worth in the ledger: its points, negative for a return."""
    points = points_expr(amount, rules)
    return pl.when(kind == "return").then(-points).otherwise(points)


def match_returns(returns: pl.DataFrame, prior: pl.DataFrame) -> pl.DataFrame:
    """The order each return takes back: the same terminal's latest order of the same product on or
    before the return's date (the largest order id among orders of that day). Null when none.

    ``returns``: order_id, customer_id, product_code, order_date. Returns order_id, reverses_order_id.
    """
    left = returns.select("order_id", "customer_id", "product_code", "order_date").sort("order_date")
    right = prior.select(
        pl.col("order_id").alias("reverses_order_id"), "customer_id", "product_code", "order_date"
    ).sort("order_date", "reverses_order_id")
    matched = left.join_asof(
        right, on="order_date", by=["customer_id", "product_code"], strategy="backward", check_sortedness=False
    )
    return matched.select("order_id", "reverses_order_id")


def _booked(df: pl.DataFrame, open_quarter: int | None) -> pl.DataFrame:
    dated = quarter_index_expr(pl.col("order_date"))
    booked = dated if open_quarter is None else pl.max_horizontal(dated, pl.lit(open_quarter, dtype=pl.Int64))
    return df.with_columns(
        quarter_label_expr(dated).alias("dated_quarter"),
        quarter_label_expr(booked).alias("quarter"),
    )


def accrue(
    orders: pl.DataFrame,
    posted: pl.DataFrame,
    prior: pl.DataFrame,
    rules: LoyaltyRules,
    *,
    cutoff: dt.date,
    open_quarter: int | None,
    run_date: dt.date,
) -> pl.DataFrame:
    """The entries to append for ``orders`` (the rows that may have changed), given ``posted`` (every
    ledger entry of those orders) and ``prior`` (orders their returns may take back).

    Orders dated after ``cutoff`` are left for a later run. ``open_quarter`` is the quarter after
    the last closed one (None before the first close). Returns ENTRY_SCHEMA rows, by order and seq.
    """
    current = orders.filter(pl.col("order_date") <= cutoff).with_columns(
        signed_points_expr(pl.col("amount"), pl.col("kind"), rules).alias("desired"),
        fen(pl.col("amount")).alias("_fen"),
    )
    head = (
        posted.sort("order_id", "seq")
        .group_by("order_id")
        .agg(
            pl.col("seq").last().alias("_head_seq"),
            pl.col("customer_id").last().alias("_head_customer"),
            pl.col("order_kind").last().alias("_head_kind"),
            fen(pl.col("order_amount")).last().alias("_head_fen"),
        )
    )
    current = current.join(head, on="order_id", how="left")
    state = ["order_id", "product_code", "order_date", "kind", "amount", "source_file_id", "source_line"]

    # First entries: one per order row never posted.
    first = current.filter(pl.col("_head_seq").is_null())
    returns = first.filter(pl.col("kind") == "return")
    pointers = (
        match_returns(returns, prior)
        if returns.height
        else pl.DataFrame(schema={"order_id": pl.String, "reverses_order_id": pl.String})
    )
    first = first.join(pointers, on="order_id", how="left").select(
        *state,
        "customer_id",
        pl.lit(0, dtype=pl.Int64).alias("seq"),
        pl.when(pl.col("kind") == "return").then(pl.lit("reverse")).otherwise(pl.lit("earn")).alias("entry_kind"),
        pl.col("desired").alias("points"),
        pl.col("reverses_order_id").cast(pl.String),
    )

    # Corrections: the row differs from the state of its last entry.
    changed = current.filter(
        pl.col("_head_seq").is_not_null()
        & (
            (pl.col("customer_id") != pl.col("_head_customer"))
            | (pl.col("kind") != pl.col("_head_kind"))
            | (pl.col("_fen") != pl.col("_head_fen"))
        )
    )
    held = (
        posted.join(changed.select("order_id"), on="order_id", how="semi")
        .group_by("order_id", "customer_id")
        .agg(pl.col("points").sum().alias("held"))
    )
    moved_off = (
        held.join(changed.select(*state, "_head_seq", pl.col("customer_id").alias("_now")), on="order_id")
        .filter((pl.col("customer_id") != pl.col("_now")) & (pl.col("held") != 0))
        .select(*state, "customer_id", "_head_seq", (-pl.col("held")).alias("points"), pl.lit(0).alias("_last"))
    )
    to_current = changed.join(held, on=["order_id", "customer_id"], how="left").select(
        *state,
        "customer_id",
        "_head_seq",
        (pl.col("desired") - pl.col("held").fill_null(0)).alias("points"),
        pl.lit(1).alias("_last"),
    )
    adjusts = (
        pl.concat([moved_off, to_current])
        .sort("order_id", "_last", "customer_id")
        .with_columns(
            (pl.col("_head_seq") + pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over("order_id")).alias("seq"),
            pl.lit("adjust").alias("entry_kind"),
            pl.lit(None, dtype=pl.String).alias("reverses_order_id"),
        )
        .drop("_head_seq", "_last")
    )

    entries = pl.concat([first, adjusts], how="diagonal_relaxed")
    entries = _booked(entries, open_quarter).with_columns(pl.lit(run_date).alias("run_date"))
    return entries.select(
        "order_id",
        pl.col("seq").cast(pl.Int64),
        "entry_kind",
        "customer_id",
        "product_code",
        "order_date",
        pl.col("kind").alias("order_kind"),
        pl.col("amount").alias("order_amount"),
        pl.col("points").cast(pl.Int64),
        "dated_quarter",
        "quarter",
        "reverses_order_id",
        "run_date",
        pl.col("source_file_id").cast(pl.Int64),
        pl.col("source_line").cast(pl.Int64),
    ).sort("order_id", "seq")


def balances(entries: pl.DataFrame) -> pl.DataFrame:
    """Points by quarter and terminal, derived from ledger entries (the view ``points_balances`` in SQL)."""
    return (
        entries.group_by("quarter", "customer_id")
        .agg(pl.col("points").sum().cast(pl.Int64), pl.len().cast(pl.Int64).alias("entries"))
        .sort("quarter", "customer_id")
    )
