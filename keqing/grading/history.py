"""Grade history: every change of a customer's grade kept with the dates it held, and the month's moves.

The history is a piecewise-constant record per customer: a row holds on ``valid_from <= day <
valid_to`` (``valid_to`` null = still current). A run for ``run_date`` D states the grade on D, and that
statement holds until the next recorded change. So:

- a nightly run whose grade equals the row covering D changes nothing (a rerun of D is a no-op);
- a change closes the covering row at D and opens one from D (exactly one new row);
- a rerun of D with corrected input that changes D's grade replaces the row that starts on D;
- a rerun of an older D splits the row covering D; rows that end up next to an equal row are merged.

A "change" is a change of grade, nine-box cell or KOL flag; potential and support are kept as they
were when the row began (they move a little every month without changing the grade).
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from keqing.dates import month_start

TRACKED = ("grade", "nine_box", "is_kol")
HISTORY_SCHEMA = {
    "customer_id": pl.String,
    "valid_from": pl.Date,
    "valid_to": pl.Date,
    "grade": pl.String,
    "nine_box": pl.String,
    "is_kol": pl.Boolean,
    "potential": pl.Float64,
    "support": pl.Float64,
    "rx_months": pl.Int64,
}
KEY = ("customer_id", "valid_from")
_VALUES = [c for c in HISTORY_SCHEMA if c not in ("customer_id", "valid_from", "valid_to")]


def empty_history() -> pl.DataFrame:
    return pl.DataFrame(schema=HISTORY_SCHEMA)


def _same(prefix_a: str, prefix_b: str) -> pl.Expr:
    exprs = [pl.col(f"{prefix_a}{c}").eq_missing(pl.col(f"{prefix_b}{c}")) for c in TRACKED]
    return pl.all_horizontal(exprs)


def history_changes(
    history: pl.DataFrame, grades: pl.DataFrame, run_date: dt.date
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """What to write so that the history says ``grades`` hold from ``run_date``.

    Returns ``(upserts, deletes)``: full rows to insert or update by (customer_id, valid_from), and the
    keys of rows to delete (merged into a neighbour). Both empty when nothing changed.
    """
    day = pl.lit(run_date, dtype=pl.Date)
    h = history.select(list(HISTORY_SCHEMA)).cast(HISTORY_SCHEMA)
    g = grades.select("customer_id", *_VALUES).cast({c: HISTORY_SCHEMA[c] for c in ("customer_id", *_VALUES)})

    covering = h.filter((pl.col("valid_from") <= day) & (pl.col("valid_to").is_null() | (pl.col("valid_to") > day)))
    following = (
        h.filter(pl.col("valid_from") > day).group_by("customer_id").agg(pl.col("valid_from").min().alias("next_from"))
    )
    cov = covering.rename({c: f"c_{c}" for c in HISTORY_SCHEMA if c != "customer_id"})
    state = g.join(cov, on="customer_id", how="left").join(following, on="customer_id", how="left")
    changed = state.filter(~_same("", "c_"))
    if changed.height == 0:
        return empty_history(), empty_history().select(KEY)

    has_cov = pl.col("c_valid_from").is_not_null()
    changed = changed.with_columns(
        pl.when(has_cov).then(pl.col("c_valid_to")).otherwise(pl.col("next_from")).alias("new_to"),
    )
    # Merge with the next row when it holds the same values.
    nxt = h.rename({c: f"n_{c}" for c in HISTORY_SCHEMA if c != "customer_id"})
    changed = changed.join(nxt, left_on=["customer_id", "new_to"], right_on=["customer_id", "n_valid_from"], how="left")
    merge_next = pl.col("n_valid_to").is_not_null() | pl.col("n_grade").is_not_null()
    merge_next = merge_next & _same("", "n_")
    changed = changed.with_columns(
        merge_next.fill_null(False).alias("merge_next"),
    ).with_columns(
        pl.when(pl.col("merge_next")).then(pl.col("n_valid_to")).otherwise(pl.col("new_to")).alias("end"),
    )
    # A row that starts on run_date (a rerun with corrected input) may now equal the row before it.
    prev = h.rename({c: f"p_{c}" for c in HISTORY_SCHEMA if c != "customer_id"})
    starts_today = has_cov & (pl.col("c_valid_from") == day)
    changed = changed.join(
        prev, left_on=["customer_id", "c_valid_from"], right_on=["customer_id", "p_valid_to"], how="left"
    )
    merge_prev = (starts_today & pl.col("p_valid_from").is_not_null() & _same("", "p_")).fill_null(False)
    changed = changed.with_columns(merge_prev.alias("merge_prev"))

    new_rows = changed.filter(~pl.col("merge_prev")).select(
        "customer_id", day.alias("valid_from"), pl.col("end").alias("valid_to"), *_VALUES
    )
    extended_prev = changed.filter(pl.col("merge_prev")).select(
        "customer_id",
        pl.col("p_valid_from").alias("valid_from"),
        pl.col("end").alias("valid_to"),
        *(pl.col(f"p_{c}").alias(c) for c in _VALUES),
    )
    closed = changed.filter(has_cov & (pl.col("c_valid_from") < day)).select(
        "customer_id",
        pl.col("c_valid_from").alias("valid_from"),
        day.alias("valid_to"),
        *(pl.col(f"c_{c}").alias(c) for c in _VALUES),
    )
    upserts = pl.concat([closed, new_rows, extended_prev]).select(list(HISTORY_SCHEMA)).cast(HISTORY_SCHEMA)
    deletes = pl.concat(
        [
            changed.filter(pl.col("merge_next")).select("customer_id", pl.col("new_to").alias("valid_from")),
            changed.filter(pl.col("merge_prev")).select("customer_id", pl.col("c_valid_from").alias("valid_from")),
        ]
    ).cast({"customer_id": pl.String, "valid_from": pl.Date})
    return upserts.sort(KEY), deletes.sort(KEY)


def apply_changes(history: pl.DataFrame, upserts: pl.DataFrame, deletes: pl.DataFrame) -> pl.DataFrame:
    """The history after ``history_changes`` was written (what the database holds afterwards)."""
    h = history.select(list(HISTORY_SCHEMA)).cast(HISTORY_SCHEMA)
    drop = pl.concat([deletes.select(KEY), upserts.select(KEY)])
    kept = h.join(drop, on=list(KEY), how="anti")
    return pl.concat([kept, upserts.select(list(HISTORY_SCHEMA))]).sort(KEY)


def grade_movements(history: pl.DataFrame, run_date: dt.date) -> pl.DataFrame:
    """This month's grade changes, one row per change: customer_id, from_grade (null = newly graded),
    to_grade, changed_on.

    A history row starting in run_date's month (up to run_date) whose grade differs from the
    customer's previous row; rows that only change the nine-box cell or the KOL flag are not
    movements. The database's very first grading is not a movement either (it would list every
    customer on the first night); a customer graded for the first time later (a new doctor) is
    newly graded. ``history``: customer_id, valid_from, grade (rows after run_date are ignored).
    """
    known = history.filter(pl.col("valid_from") <= run_date)
    first_grading = known["valid_from"].min() if known.height else run_date
    return (
        known.sort("customer_id", "valid_from")
        .with_columns(from_grade=pl.col("grade").shift(1).over("customer_id"))
        .filter(
            (pl.col("valid_from") >= month_start(run_date))
            & (
                (pl.col("from_grade").is_null() & (pl.col("valid_from") > first_grading))
                | (pl.col("from_grade") != pl.col("grade"))
            )
        )
        .select(
            "customer_id", "from_grade", pl.col("grade").alias("to_grade"), pl.col("valid_from").alias("changed_on")
        )
    )
