"""Coverage kept between runs: a night recomputes only the patients whose purchases changed.

Computing every patient's coverage chain from every purchase each night costs time and memory that
grow with the history (11.8 M purchases at `large` with two years). But a purchase's covered days
(``start_date``, ``expiry_date``, ``days``) and its group's ``first_purchase_date`` depend only on
the purchases dated on or before it (``end_i = max(a_i, end_{i-1}) + x_i``, keqing/supply/supply.py):
the chain is causal. So the database keeps one table, ``supply_coverage``, with the coverage of every
loaded purchase, and any run date reads its coverage from it:

- the rows dated up to the cutoff (run_date - 1);
- ``next_purchase_date`` kept only when it is on or before the cutoff, so ``is_last`` is the last row
  up to the cutoff;
- and, as ``coverage(keep_since=...)`` does, only the rows still covering a day from ``keep_since``
  on, plus every group's last row.

That is exactly ``coverage(purchases dated <= cutoff, keep_since=...)`` for every run date, old or
new, so a rerun for an old date needs no copy of that night's state and gives the same lists as a
full recomputation on the same purchases (contract section 1: "apart from corrected input").

What keeps the table true: triggers on ``purchases`` (migration 0013) name every patient whose
purchases were inserted, corrected (patient, product, boxes or date) or deleted, in
``supply_coverage_changes``, whoever wrote them. Before computing, the supply stage recomputes those
patients' coverage from all their purchases and replaces the rows that changed
(``tasks.supply.sync_coverage``). A change to the products' units (or a new product) changes the
days of every purchase of it, so then the whole table is computed again, as on a new or upgraded
database.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from keqing.supply.supply import Coverage, _group_order

# The columns of supply_coverage, in the table's order.
STORED_COLUMNS = (
    "patient_id",
    "product_code",
    "purchase_date",
    "boxes",
    "days",
    "start_date",
    "expiry_date",
    "next_purchase_date",
    "first_purchase_date",
)
_ROW_COLUMNS = (
    "gid",
    "purchase_date",
    "boxes",
    "days",
    "start_date",
    "expiry_date",
    "next_purchase_date",
    "first_purchase_date",
    "is_last",
)
# Product data that the days of supply come from (keqing.supply.supply.days_of_supply).
PRODUCT_COLUMNS = ("product_code", "units_per_box", "daily_units")


def stored_rows(cov: Coverage) -> pl.DataFrame:
    """The rows to keep for a coverage computed over all of some patients' purchases."""
    return cov.frame().select(STORED_COLUMNS)


def at_cutoff(stored: pl.DataFrame, cutoff: dt.date, keep_since: dt.date | None = None) -> pl.DataFrame:
    """The stored rows a run with ``cutoff`` reads (the filter ``tasks.supply`` runs in SQL).

    ``next_purchase_date`` beyond the cutoff becomes null: that row is the group's last up to the
    cutoff. With ``keep_since``, only rows still covering a day from then on and each last row.
    """
    next_purchase = pl.col("next_purchase_date")
    rows = stored.filter(pl.col("purchase_date") <= cutoff).with_columns(
        pl.when(next_purchase <= cutoff).then(next_purchase).alias("next_purchase_date")
    )
    if keep_since is not None:
        rows = rows.filter((pl.col("expiry_date") >= keep_since) | pl.col("next_purchase_date").is_null())
    return rows


def coverage_of_stored(rows: pl.DataFrame) -> Coverage:
    """A ``Coverage`` (groups laid out by date, ``gid``, ``is_last``) from rows read with ``at_cutoff``."""
    order, new = _group_order(rows)
    ordered = rows[order].with_columns(
        (new.cast(pl.UInt32).cum_sum() - 1).alias("gid"),
        pl.col("next_purchase_date").is_null().alias("is_last"),
    )
    groups = ordered.filter(new).select("patient_id", "product_code").with_row_index("gid")
    return Coverage(ordered.select(_ROW_COLUMNS), groups)


def products_changed(products: pl.DataFrame, basis: pl.DataFrame) -> bool:
    """Whether the products differ from those the kept coverage was computed with (an empty basis:
    never computed)."""
    if basis.height == 0:
        return True
    current = products.select(PRODUCT_COLUMNS).sort("product_code")
    return not current.equals(basis.select(PRODUCT_COLUMNS).sort("product_code"))
