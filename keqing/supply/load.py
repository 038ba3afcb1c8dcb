"""The callback nurse's real load: the calls due against what one person can make in a day.

Seed 000 (第三环): one person makes 40 callback calls a day (``rules.callbacks.max_calls_per_day``)
and the callback team grows with the patient list. ``callback_list`` lists at most the capacity per
nurse; what does not fit waits for the next working day. These figures say how far each nurse's due
calls exceed it, and how many nurses each office needs for the calls due today.
"""

from __future__ import annotations

import polars as pl

LOAD_SCHEMA = {
    "office_code": pl.String,
    "staff_id": pl.String,  # null: the calls of an office without callback staff
    "due": pl.Int64,
    "capacity": pl.Int64,
    "waiting": pl.Int64,
    "waiting_since": pl.Date,
    "backlog_days": pl.Int64,
}
STAFFING_SCHEMA = {
    "office_code": pl.String,
    "due": pl.Int64,  # calls due today in the office (its daily demand at the current load)
    "nurses": pl.Int64,  # callback staff with a list today
    "needed": pl.Int64,  # ceil(due / capacity)
    "short": pl.Int64,  # needed - nurses (negative: spare capacity)
}


def callback_load(calls: pl.DataFrame, capacity: int) -> pl.DataFrame:
    """Per nurse (and per staff-less office list): the calls due today, how many wait beyond the
    capacity, the earliest due date among those waiting, and the working days to clear them.

    ``calls``: ``callback_list`` (every call of the day: office_code, staff_id, due_date, listed).
    Calls of an office without callback staff all wait: nobody makes them.
    """
    waits = ~pl.col("listed") | pl.col("staff_id").is_null()
    return (
        calls.group_by("office_code", "staff_id")
        .agg(
            pl.len().alias("due"),
            waits.sum().alias("waiting"),
            pl.col("due_date").filter(waits).min().alias("waiting_since"),
        )
        .with_columns(
            pl.lit(capacity).alias("capacity"),
            ((pl.col("waiting") + capacity - 1) // capacity).alias("backlog_days"),
        )
        .select(list(LOAD_SCHEMA))
        .cast(LOAD_SCHEMA)
        .sort("office_code", "staff_id", nulls_last=True)
    )


def staffing_needed(load: pl.DataFrame) -> pl.DataFrame:
    """Per office: the calls due today and the callback staff they need, ceil(due / capacity)."""
    return (
        load.group_by("office_code")
        .agg(pl.col("due").sum(), pl.col("staff_id").drop_nulls().n_unique().alias("nurses"), pl.col("capacity").max())
        .with_columns(((pl.col("due") + pl.col("capacity") - 1) // pl.col("capacity")).alias("needed"))
        .with_columns((pl.col("needed") - pl.col("nurses")).alias("short"))
        .select(list(STAFFING_SCHEMA))
        .cast(STAFFING_SCHEMA)
        .sort("office_code")
    )
