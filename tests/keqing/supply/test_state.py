"""The kept coverage (keqing/supply/state.py): the coverage of all purchases, read at a cutoff, is the
coverage of the purchases dated up to it (the chain is causal), trimmed as ``coverage(keep_since=)``."""

from __future__ import annotations

import datetime as dt

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from keqing.supply.state import at_cutoff, coverage_of_stored, products_changed, stored_rows
from keqing.supply.supply import coverage
from tests.keqing.supply.scenario import PRODUCTS, d, purchases
from tests.keqing.supply.test_supply import random_histories

FAR = dt.date.max


def _sorted(cov) -> pl.DataFrame:
    return cov.frame().sort("patient_id", "product_code", "purchase_date")


def test_a_later_purchase_does_not_change_an_earlier_rows_coverage_only_its_next_and_last():
    rows = purchases(
        ("P1", "PR30", 3, "2026-10-01"),  # 10-01 .. 12-29
        ("P1", "PR30", 3, "2026-12-01"),  # carried over: 12-30 .. 2027-03-29
    )
    stored = stored_rows(coverage(rows, PRODUCTS, FAR))
    # Read on 2026-11-30 (cutoff): the 12-01 purchase is not there yet, so 10-01 is the last row.
    on_1130 = coverage_of_stored(at_cutoff(stored, d("2026-11-30"))).frame()
    assert on_1130.select("purchase_date", "expiry_date", "next_purchase_date", "is_last").rows() == [
        (d("2026-10-01"), d("2026-12-29"), None, True)
    ]
    on_1201 = coverage_of_stored(at_cutoff(stored, d("2026-12-01"))).frame()
    assert on_1201.select("purchase_date", "expiry_date", "next_purchase_date", "is_last").rows() == [
        (d("2026-10-01"), d("2026-12-29"), d("2026-12-01"), False),
        (d("2026-12-01"), d("2027-03-29"), None, True),
    ]


def test_keep_since_at_the_cutoff_keeps_a_row_whose_next_purchase_comes_later():
    rows = purchases(
        ("P1", "PR10", 1, "2026-01-01"),  # 01-01 .. 01-10
        ("P1", "PR10", 1, "2026-03-01"),  # 03-01 .. 03-10
    )
    stored = stored_rows(coverage(rows, PRODUCTS, FAR))
    # keep_since 02-01: on cutoff 02-15 the January row ran out before it, but it is the last row then.
    kept = at_cutoff(stored, d("2026-02-15"), keep_since=d("2026-02-01"))
    assert kept.select("purchase_date", "next_purchase_date").rows() == [(d("2026-01-01"), None)]
    # On cutoff 03-05 the March row is the last; the January row covers nothing from 02-01 on.
    kept = at_cutoff(stored, d("2026-03-05"), keep_since=d("2026-02-01"))
    assert kept.select("purchase_date", "next_purchase_date").rows() == [(d("2026-03-01"), None)]
    # keep_since 01-10 keeps the January row (it still covers 01-10), with its next purchase.
    kept = at_cutoff(stored, d("2026-03-05"), keep_since=d("2026-01-10"))
    assert kept["purchase_date"].to_list() == [d("2026-01-01"), d("2026-03-01")]


histories = random_histories([f"P{i}" for i in range(6)], 40)


@settings(max_examples=150, deadline=None)
@given(histories, st.dates(dt.date(2026, 1, 1), dt.date(2027, 1, 31)), st.integers(0, 400))
def test_the_stored_coverage_read_at_any_cutoff_equals_the_coverage_computed_at_it(rows, cutoff, back):
    frame = purchases(*[(p, c, b, day.isoformat()) for p, c, b, day in rows])
    keep_since = cutoff - dt.timedelta(days=back)
    stored = stored_rows(coverage(frame, PRODUCTS, FAR, part_rows=7))
    read = coverage_of_stored(at_cutoff(stored, cutoff, keep_since))
    assert _sorted(read).equals(_sorted(coverage(frame, PRODUCTS, cutoff, keep_since=keep_since)))
    assert read.groups["gid"].to_list() == list(range(read.groups.height))
    assert read.rows.select((pl.col("gid").diff() >= 0).all()).item() in (True, None)  # groups laid out together


def test_any_difference_in_the_products_means_computing_again():
    basis = PRODUCTS
    assert not products_changed(PRODUCTS.reverse(), basis)
    assert products_changed(PRODUCTS, basis.clear())  # never computed
    assert products_changed(PRODUCTS.with_columns(pl.col("units_per_box") * 2), basis)
    assert products_changed(PRODUCTS.head(3), basis)  # one removed
