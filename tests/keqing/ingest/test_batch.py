"""The pure parts of ingest (keqing/ingest/batch.py) that test_checks.py does not show: exact
duplicates within a file, and the latest file and line winning per key."""

from __future__ import annotations

import polars as pl

from keqing.feeds import FEEDS
from keqing.ingest import batch as B

PRODUCTS = FEEDS["products"]


def _rows(rows: list[tuple]) -> pl.DataFrame:
    """(file, line, qid, product_code, name) rows with the feed's other columns empty."""
    frame = pl.DataFrame(rows, schema=[B.FILE, B.LINE, B.QID, "product_code", "name"], orient="row")
    others = [pl.lit(None).alias(c) for c in PRODUCTS.column_names if c not in frame.columns]
    return frame.with_columns(others)


def test_a_row_identical_to_an_earlier_one_of_the_same_file_is_a_duplicate_not_across_files():
    rows = _rows(
        [
            (1, 2, None, "PR01", "心脉通胶囊"),
            (1, 3, None, "PR01", "心脉通胶囊"),  # the same row again in file 1: a duplicate
            (2, 2, None, "PR01", "心脉通胶囊"),  # the same row in file 2: kept
            (1, 4, 7, "PR01", "心脉通胶囊"),  # a quarantined row retried (qid): never a duplicate
        ]
    )
    kept, duplicates = B.split_exact_duplicates(rows, PRODUCTS)
    assert kept.select(B.FILE, B.LINE).rows() == [(1, 2), (2, 2), (1, 4)]
    assert duplicates.rows() == [(1, 1)]


def test_the_latest_file_wins_and_within_a_file_the_later_line():
    rows = _rows(
        [
            (2, 3, None, "PR01", "新名"),
            (1, 9, None, "PR01", "旧名"),
            (2, 2, None, "PR01", "中间"),
            (1, 2, None, "PR02", "降压片"),
        ]
    )
    latest = B.latest_per_key(rows, PRODUCTS).sort("product_code")
    assert latest.select("product_code", "name", B.FILE, B.LINE).rows() == [
        ("PR01", "新名", 2, 3),
        ("PR02", "降压片", 1, 2),
    ]
