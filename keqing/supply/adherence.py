"""Adherence: the proportion of days covered (PDC) per patient and product.

PQA convention: a fill bought while the previous one still lasts starts the day after it runs out
(shift forward), which is exactly how ``supply.coverage`` lays out the covered days. Over the
window of ``window_days`` days ending on the cutoff (run_date - 1):

    PDC = days covered in [start, cutoff] / (cutoff - start + 1),  start = max(window start, first purchase)

so a patient who started during the window is measured from the first purchase, supply bought
before the window and still lasting counts, and supply reaching beyond the cutoff does not.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from keqing.rules import Rules
from keqing.supply.frames import day_number
from keqing.supply.supply import Coverage


def adherence(cov: Coverage, cutoff: dt.date, rules: Rules) -> pl.DataFrame:
    """``gid``, ``pdc`` (0..1) and ``low_adherence`` (PDC below the threshold) per patient and product."""
    window = rules.adherence.window_days
    end = day_number(pl.lit(cutoff))
    start = pl.max_horizontal(end - (window - 1), day_number(pl.col("first_purchase_date")))
    covered_from = pl.max_horizontal(day_number(pl.col("start_date")), start)
    covered_to = pl.min_horizontal(day_number(pl.col("expiry_date")), end)
    overlap = (covered_to - covered_from + 1).clip(lower_bound=0).cast(pl.Int64)
    per_group = (
        cov.rows.select("gid", "is_last", overlap.cum_sum().alias("_cum"), (end - start + 1).alias("_span"))
        .filter("is_last")
        .select("gid", (pl.col("_cum") - pl.col("_cum").shift(1).fill_null(0)).alias("_covered"), "_span")
    )
    # Rounded, and the threshold compared in whole days: Polars may divide by a constant column as a
    # multiplication by its reciprocal, one ulp off the division, so the same days could give two PDCs.
    return per_group.select(
        "gid",
        (pl.col("_covered") / pl.col("_span")).round(12).alias("pdc"),
        (pl.col("_covered") < rules.adherence.pdc_threshold * pl.col("_span")).alias("low_adherence"),
    )
