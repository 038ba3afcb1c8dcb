"""Ingest's checks: Great Expectations runs on the night's new rows only, not on rows back from quarantine."""

from __future__ import annotations

import datetime as dt

import polars as pl

from keqing.ingest import batch as B
from keqing.ingest.normalise import ROW
from keqing.rules import Rules
from tasks.ingest.check import validate_feed
from tasks.ingest.read import FeedBatch


def _purchases(rows: list[tuple]) -> pl.DataFrame:
    columns = [B.FILE, B.LINE, B.QID, "purchase_id", "patient_id", "product_code", "boxes", "purchase_date"]
    frame = pl.DataFrame(rows, schema=columns, orient="row")
    for c in ("purchase_id", "patient_id", "product_code", "boxes", "purchase_date"):
        frame = frame.with_columns(pl.col(c).cast(pl.String))
    for c in ("channel", "event_id", "staff_id"):
        frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(c))
    return frame.with_row_index(ROW)


def test_the_suite_checks_new_rows_and_leaves_rows_back_from_quarantine_alone():
    # Both rows have a purchase date before the earliest plausible date: the suite would flag both.
    # Row 1 is back from quarantine (it waited for its patient): it was checked when it arrived.
    rows = _purchases(
        [
            (7, 2, 41, "PU1", "P1", "PR01", "2", "1990-01-05"),
            (8, 2, None, "PU2", "P1", "PR01", "3", "1990-01-06"),
            (8, 3, None, "PU3", "P1", "PR01", "1", "2026-10-30"),
        ]
    )
    batch = FeedBatch("purchases", {}, rows, pl.DataFrame(schema=B.PROBLEM_SCHEMA))
    checked = validate_feed.fn(batch, Rules(), dt.date(2026, 11, 2))
    assert checked.errors.select(ROW, "column", "reason").rows() == [(1, "purchase_date", "implausible_date")]
    assert checked.typed is not None and checked.typed.height == 3


def test_rows_back_from_quarantine_alone_are_parsed_without_the_suite():
    rows = _purchases([(7, 2, 41, "PU1", "P1", "PR01", "2", "1990-01-05")])
    batch = FeedBatch("purchases", {}, rows, pl.DataFrame(schema=B.PROBLEM_SCHEMA))
    checked = validate_feed.fn(batch, Rules(), dt.date(2026, 11, 2))
    assert checked.errors.height == 0
    assert checked.typed is not None and checked.typed["boxes"].to_list() == [2]
