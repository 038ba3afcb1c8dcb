"""Days of supply, consecutive coverage per patient and product, and the supply state on a run date.

A purchase starts covering on the later of its purchase date and the day after the current supply
runs out (pharmacies count refills that way; PQA calls it shifting overlapping fills forward). With
x_i the days of the i-th purchase of a patient and product, a_i its date minus one day and
S_i = x_1 + ... + x_i::

    end_i = max(a_i, end_{i-1}) + x_i  =  S_i + max_{k <= i} (a_k - S_{k-1})

so the expiry after every purchase is a running maximum. Groups are laid out one after the other
and the running maximum restarts per group by adding ``group number * stride`` before a single
``cum_max`` over the whole frame: no per-group Python and no slow ``over()`` on ten million rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from keqing.rules import Rules
from keqing.supply.frames import as_date, day_number, injective_seed, key

# Purchases as the pure functions take them (purchase_date <= cutoff is enforced here as well).
PURCHASES_SCHEMA = {
    "patient_id": pl.String,
    "product_code": pl.String,
    "boxes": pl.Int64,
    "purchase_date": pl.Date,
}
# Purchases per part of the coverage computation: memory follows the part, and this size ran fastest
# at `large` (bench/results/large.md has the measurements).
PART_ROWS = 500_000
_PART_SEED = 5
_DAY_BITS = 16  # the day inside the hashed sort key: 65,536 days (179 years) of history
# Rounding guard for floor(): 0.7 / 0.1 is 6.999999999999999 in binary floating point.
_EPS = 1e-9


def days_of_supply(purchases: pl.DataFrame, products: pl.DataFrame) -> pl.DataFrame:
    """Add ``days`` = floor(boxes x units_per_box / daily_units) to each purchase (unknown products drop)."""
    # A lookup by hashed product code: a handful of products, ten million rows.
    seed = injective_seed(products["product_code"])
    per_box = dict(
        products.select(key("product_code", seed), pl.col("units_per_box") / pl.col("daily_units")).iter_rows()
    )
    days_per_box = key("product_code", seed).replace_strict(per_box, default=None, return_dtype=pl.Float64)
    return purchases.with_columns((pl.col("boxes") * days_per_box + _EPS).floor().cast(pl.Int64).alias("days")).filter(
        pl.col("days").is_not_null()
    )


@dataclass(frozen=True)
class Coverage:
    """Covered days per patient, product and purchase day, in two frames joined by ``gid``.

    ``rows``: one row per patient-product and purchase day (purchases of one day are added up),
    contiguous per group and in date order: gid, purchase_date, boxes, days, ``start_date`` and
    ``expiry_date`` (first and last day this purchase covers), ``next_purchase_date`` (null on the
    group's last row), ``first_purchase_date`` of the group, ``is_last``.
    ``groups``: gid (= row number), patient_id, product_code. The ids stay out of ``rows`` so ten
    million rows are never shuffled with their strings. With ``coverage(keep_since=...)`` ``rows``
    holds only the rows still covering a day from then on, and every group's last row.
    """

    rows: pl.DataFrame
    groups: pl.DataFrame

    def with_ids(self, rows: pl.DataFrame) -> pl.DataFrame:
        """``rows`` (any subset of ``self.rows`` or a frame with ``gid``) with patient_id and product_code first."""
        ids = self.groups.select("patient_id", "product_code")[rows["gid"]]
        return pl.concat([ids, rows.drop("gid")], how="horizontal")

    def frame(self) -> pl.DataFrame:
        """Everything as one frame (for small data and tests)."""
        return self.with_ids(self.rows)


def _group_order(df: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
    """Row order that lays out each patient-product together by date, and a flag for group starts.

    Fast path: one sort of a u64 key made of 48 bits of a hash of (patient, product) and 16 bits of
    day. A second, independent hash must be constant inside every group: if two groups ever collide
    (or the history spans more than 179 years) the exact sort by strings is used instead.
    """
    if df.height == 0:
        return pl.Series("order", [], pl.UInt32), pl.Series("new", [], pl.Boolean)
    day = day_number(pl.col("purchase_date"))
    lo, hi = df.select(day.min().alias("lo"), day.max().alias("hi")).row(0)
    stride = 1 << _DAY_BITS
    if hi - lo < stride:
        keyed = df.select(
            (
                (pl.col("patient_id").hash(11) ^ pl.col("product_code").hash(23)) // stride * stride
                + (day - lo).cast(pl.UInt64)
            ).alias("key"),
            (pl.col("patient_id").hash(37) ^ pl.col("product_code").hash(41)).alias("check"),
        )
        order = keyed["key"].arg_sort()
        flags = keyed[order].select(
            (pl.col("key") // stride != (pl.col("key") // stride).shift(1)).fill_null(True).alias("new"),
            (
                (pl.col("key") // stride == (pl.col("key") // stride).shift(1))
                & (pl.col("check") != pl.col("check").shift(1))
            )
            .fill_null(False)
            .alias("collided"),
        )
        if not flags["collided"].any():
            return order, flags["new"]
    order = df.select(pl.arg_sort_by("patient_id", "product_code", "purchase_date")).to_series()
    ids = df.select("patient_id", "product_code")[order]
    new = (ids["patient_id"] != ids["patient_id"].shift(1)) | (ids["product_code"] != ids["product_code"].shift(1))
    return order, new.fill_null(True).alias("new")


def coverage(
    purchases: pl.DataFrame,
    products: pl.DataFrame,
    cutoff: dt.date,
    keep_since: dt.date | None = None,
    part_rows: int = PART_ROWS,
) -> Coverage:
    """Consecutive coverage of every purchase dated up to ``cutoff`` (see the module docstring).

    The work is done in parts of about ``part_rows`` purchases, split by patient (a patient-product
    never spans two parts), so that memory follows the part and not the length of the history.
    With ``keep_since`` each part keeps only the rows still covering a day from ``keep_since`` on,
    plus every group's last row: all that the supply state, adherence over a window starting on or
    after ``keep_since`` and the expiry lists from that month on read. A row dropped that way
    covers nothing from ``keep_since`` on, so sums of covered days from then on are unchanged.
    """
    parts = max(1, -(-purchases.height // part_rows))
    # Each purchase's part, null after the cutoff: the date is compared once, not once per part.
    part = purchases.select(
        pl.when(pl.col("purchase_date") <= cutoff).then(pl.col("patient_id").hash(_PART_SEED) % parts)
    ).to_series()
    rows, groups, offset = [], [], 0
    for i in range(parts):  # one part at a time: each is filtered, computed and trimmed before the next
        cov = _coverage_of(days_of_supply(purchases.filter(pl.lit(part == i)), products))
        kept = (
            cov.rows
            if keep_since is None
            else cov.rows.filter((pl.col("expiry_date") >= keep_since) | pl.col("is_last"))
        )
        rows.append(kept.with_columns(pl.col("gid") + offset))
        groups.append(cov.groups.with_columns(pl.col("gid") + offset))
        offset += cov.groups.height
    return Coverage(pl.concat(rows), pl.concat(groups))


def _coverage_of(recent: pl.DataFrame) -> Coverage:
    """Coverage of purchases that already have their ``days`` (one part, see ``coverage``)."""
    order, new = _group_order(recent)
    df = recent.select("purchase_date", "boxes", "days")[order].with_columns(order.alias("_row"), new.alias("_new"))
    day = day_number(pl.col("purchase_date"))
    # Purchases of one day: keep the day's last row with the day's totals (running sums differ).
    same_as_next = (~pl.col("_new").shift(-1).fill_null(True)) & (day == day.shift(-1))
    df = (
        df.with_columns(
            pl.col("days").cum_sum().alias("_cs_days"),
            pl.col("boxes").cum_sum().alias("_cs_boxes"),
            (pl.col("_new").cast(pl.UInt32).cum_sum() - 1).alias("gid"),
            pl.when("_new").then(pl.col("_row")).forward_fill().alias("_first_row"),
            same_as_next.alias("_merged_into_next"),
        )
        .filter(~pl.col("_merged_into_next"))
        .with_columns(
            (pl.col("_cs_days") - pl.col("_cs_days").shift(1).fill_null(0)).alias("days"),
            (pl.col("_cs_boxes") - pl.col("_cs_boxes").shift(1).fill_null(0)).alias("boxes"),
            (pl.col("gid") != pl.col("gid").shift(1)).fill_null(True).alias("_new"),
        )
        .with_columns(
            pl.col("_new").shift(-1).fill_null(True).alias("is_last"),
            pl.col("days").cum_sum().alias("_cs"),
        )
        .with_columns(
            (pl.col("_cs") - pl.when("_new").then(pl.col("_cs") - pl.col("days")).forward_fill()).alias("_s"),
        )
    )
    v = (day - 1).cast(pl.Int64) - (pl.col("_s") - pl.col("days"))
    # Offset group g by g * stride, stride > 2 * max|v|: later groups then dominate the running maximum.
    vmax, groups = df.select(v.abs().max(), pl.col("gid").max()).row(0) if df.height else (0, 0)
    stride = 1 << (2 * (vmax or 0) + 2).bit_length()
    g = pl.col("gid").cast(pl.Int64)
    if stride * ((groups or 0) + 1) < 1 << 62:
        running = (v + g * stride).cum_max() - g * stride
    else:  # absurd day counts: the slow but unbounded per-group maximum
        running = v.cum_max().over("gid")
    rows = df.with_columns((pl.col("_s") + running).alias("_end")).select(
        "gid",
        "purchase_date",
        "boxes",
        "days",
        as_date(pl.col("_end") - pl.col("days") + 1).alias("start_date"),
        as_date(pl.col("_end")).alias("expiry_date"),
        pl.when(~pl.col("is_last")).then(pl.col("purchase_date").shift(-1)).alias("next_purchase_date"),
        pl.when("_new").then(pl.col("purchase_date")).forward_fill().alias("first_purchase_date"),
        "is_last",
    )
    first_rows = df.filter("_new")["_first_row"]
    groups_frame = recent.select("patient_id", "product_code")[first_rows].with_row_index("gid")
    return Coverage(rows, groups_frame)


def supply_status(days_left: pl.Expr, rules: Rules) -> pl.Expr:
    """``active``, ``expiring`` (runs out within N days or ran out less than M days ago) or ``lapsed``."""
    return (
        pl.when(days_left < -rules.callbacks.until_days_after_expiry)
        .then(pl.lit("lapsed"))
        .when(days_left <= rules.supply.expiring_within_days)
        .then(pl.lit("expiring"))
        .otherwise(pl.lit("active"))
    )


def supply_state(cov: Coverage, run_date: dt.date, rules: Rules) -> pl.DataFrame:
    """Per patient and product on ``run_date``: the current expiry date, days left and status.

    ``days_left`` = expiry_date - run_date (0: the last covered day is today; negative: ran out).
    Lapsed (流失) = still no new purchase ``until_days_after_expiry`` days after the expiry date,
    i.e. from expiry + 16 days with the defaults. Includes ``gid`` to join per-group results.
    """
    days_left = (day_number(pl.col("expiry_date")) - day_number(pl.lit(run_date))).cast(pl.Int32)
    last = cov.rows.filter("is_last").select(
        "gid",
        "first_purchase_date",
        pl.col("purchase_date").alias("last_purchase_date"),
        pl.col("boxes").alias("last_boxes"),
        "expiry_date",
        days_left.alias("days_left"),
    )
    return cov.with_ids(last).with_columns(last["gid"], supply_status(pl.col("days_left"), rules).alias("status"))
