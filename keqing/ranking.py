"""The weekly ranking (每周排行榜) of each manager's reps and callback staff (contract section 5).

Planned work of a week: a rep's daily visit plan (by team), a callback nurse's daily call capacity,
times the week's field working days; the ranking is by completed / planned.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from keqing.grading.attainment import daily_plan
from keqing.rules import Rules


def ranking_week(run_date: dt.date) -> tuple[dt.date, dt.date]:
    """The Monday..Sunday before run_date's week."""
    monday = run_date - dt.timedelta(days=run_date.weekday() + 7)
    return monday, monday + dt.timedelta(days=6)


def weekly_ranking(
    staff: pl.DataFrame, team: pl.DataFrame, done: pl.DataFrame, rules: Rules, days: int
) -> pl.DataFrame:
    """Each manager's active reps and callback staff ranked by completed / planned last week.

    planned: reps the daily plan (by team) x working days; callback staff max_calls_per_day x working
    days. Ties: more completed first, then staff_id.
    """
    members = (
        staff.filter(pl.col("role").is_in(["rep", "callback"]) & pl.col("active").fill_null(True))
        .drop("manager_id")
        .join(team, on="staff_id")
        .join(done, on="staff_id", how="left")
        .with_columns(
            completed=pl.col("completed").fill_null(0),
            planned=pl.when(pl.col("role") == "rep")
            .then(daily_plan(rules))
            .otherwise(pl.lit(rules.callbacks.max_calls_per_day, pl.Int64))
            * days,
        )
        .with_columns(score=pl.when(pl.col("planned") > 0).then(pl.col("completed") / pl.col("planned")).otherwise(0.0))
        .sort("manager_id", "score", "completed", "staff_id", descending=[False, True, True, False])
    )
    return members.with_columns(rank=pl.int_range(1, pl.len() + 1).over("manager_id")).select(
        "manager_id", "rank", "staff_id", pl.col("name").alias("staff_name"), "role", "completed", "planned"
    )
