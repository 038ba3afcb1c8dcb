"""The monthly expiry list (到期名单) with its must-keep (必保量) and target (目标量) counts.

The list of a month holds every patient and product whose supply runs out in that month as it
stood when the month began or became known during it: an expiry date in the month that was not
already replaced by a refill bought before the month started. A refill bought during the month (or
later) keeps the entry on the list with ``repurchased`` set, which is what the month's retention
counts; without that, a patient who came back would simply vanish from the list. When a patient
has several expiry dates in one month (short fills), the month's last one is the entry.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from keqing.dates import month_start
from keqing.rules import Rules
from keqing.supply.supply import Coverage

EXPIRY_LIST_SCHEMA = {
    "month": pl.Date,
    "patient_id": pl.String,
    "product_code": pl.String,
    "expiry_date": pl.Date,
    "repurchased": pl.Boolean,
}


def list_months(run_date: dt.date) -> list[dt.date]:
    """The months whose lists a run makes: run_date's month and the next one (first days)."""
    return [month_start(run_date), month_start(run_date, 1)]


def expiry_list(cov: Coverage, run_date: dt.date) -> pl.DataFrame:
    """Entries of the expiry lists of run_date's month and the next month (see the module docstring)."""
    this_month, next_month = list_months(run_date)
    after = month_start(run_date, 2)
    expiry = pl.col("expiry_date")
    month = pl.when(expiry < next_month).then(pl.lit(this_month)).otherwise(pl.lit(next_month))
    candidates = (
        cov.rows.select("gid", "expiry_date", "next_purchase_date")
        .filter((expiry >= this_month) & (expiry < after))
        .with_columns(month.alias("month"))
        .filter(pl.col("next_purchase_date").is_null() | (pl.col("next_purchase_date") >= pl.col("month")))
    )
    # Rows are in date order per group and expiry dates never decrease: the month's last row wins.
    last_of_month = (pl.col("gid") != pl.col("gid").shift(-1)) | (pl.col("month") != pl.col("month").shift(-1))
    entries = candidates.filter(last_of_month.fill_null(True)).select(
        "gid", "month", "expiry_date", pl.col("next_purchase_date").is_not_null().alias("repurchased")
    )
    return cov.with_ids(entries).select(list(EXPIRY_LIST_SCHEMA)).sort("month", "patient_id", "product_code")


def _ceil_share(size: pl.Expr, share: float) -> pl.Expr:
    # round first: 0.6 x 5 is 3.0000000000000004 in binary floating point, and must-keep is 3.
    return (size * share).round(9).ceil().cast(pl.Int64)


def expiry_targets(entries: pl.DataFrame, rules: Rules) -> pl.DataFrame:
    """Size, must-keep, target, repurchased and retention per month and office, and per callback staff.

    ``entries``: the expiry list with ``office_code`` and ``callback_staff_id``. Office rows have
    ``scope = 'office'`` and a null staff_id; staff rows (``scope = 'staff'``) exist for entries
    with a callback staff member. Size counts entries (patient and product).
    """
    measures = [pl.len().cast(pl.Int64).alias("size"), pl.col("repurchased").sum().cast(pl.Int64).alias("repurchased")]
    offices = (
        entries.group_by("month", "office_code")
        .agg(measures)
        .with_columns(pl.lit("office").alias("scope"), pl.lit(None, pl.String).alias("staff_id"))
    )
    staff = (
        entries.filter(pl.col("callback_staff_id").is_not_null())
        .group_by("month", "office_code", pl.col("callback_staff_id").alias("staff_id"))
        .agg(measures)
        .with_columns(pl.lit("staff").alias("scope"))
    )
    columns = ["month", "office_code", "scope", "staff_id", "size", "repurchased"]
    both = pl.concat([offices.select(columns), staff.select(columns)])
    must_keep = _ceil_share(pl.col("size"), rules.supply.must_keep_share)
    target = _ceil_share(pl.col("size"), rules.supply.target_share)
    return (
        both.with_columns(must_keep.alias("must_keep"), target.alias("target"))
        .with_columns(
            (pl.col("repurchased") / pl.col("size")).alias("retention"),
            (pl.col("repurchased") >= pl.col("must_keep")).alias("must_keep_met"),
            (pl.col("repurchased") >= pl.col("target")).alias("target_met"),
        )
        .select(*columns[:5], "must_keep", "target", "repurchased", "retention", "must_keep_met", "target_met")
        .sort("month", "office_code", "scope", "staff_id", nulls_last=False)
    )
