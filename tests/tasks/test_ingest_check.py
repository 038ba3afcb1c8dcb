"""Ingest's checks: Great Expectations on the night's new rows only; reference reads of the ids the rows name."""

from __future__ import annotations

import datetime as dt

import polars as pl
import sqlalchemy as sa

from edges.db import get_engine
from keqing.feeds import FEEDS
from keqing.ingest import batch as B
from keqing.ingest.normalise import ROW
from keqing.rules import Rules
from models.feeds import Office, Staff
from tasks.ingest import check
from tasks.ingest.check import known_references, validate_feed
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


def test_a_reference_check_asks_each_master_feed_about_the_ids_the_rows_name():
    visits = pl.DataFrame(
        {
            "visit_id": ["V1", "V2", "V3", "V4"],
            "staff_id": ["S2", "S1", "S2", None],
            "target_type": ["customer", "patient", "patient", "customer"],
            "target_id": ["C9", "P3", "P1", "C9"],
            "visit_at": [None] * 4,
            "channel": ["face"] * 4,
            "outcome": [None] * 4,
            "products": [None] * 4,
        }
    )
    ids = B.referenced_ids(FEEDS["visits"], visits)
    assert {k: v.to_list() for k, v in ids.items()} == {
        "staff": ["S1", "S2"],
        "customers": ["C9"],
        "patients": ["P1", "P3"],
    }
    assert set(ids) == B.referenced_feeds(FEEDS["visits"])


LINEAGE = {"source_file_id": 1, "source_line": 2}


def _insert_masters(settings) -> None:
    with get_engine(settings.database_url).begin() as conn:
        conn.execute(sa.insert(Office.__table__), [{"office_code": "OF1", "name": "一部", **LINEAGE}])
        conn.execute(
            sa.insert(Staff.__table__),
            [
                {"staff_id": s, "name": "员工", "role": role, "email": f"{s}@x.cn", "office_code": "OF1", **LINEAGE}
                for s, role in (("S1", "rep"), ("S2", "callback"), ("S3", "rep"))
            ],
        )


def test_the_known_references_are_only_the_ids_asked_about(settings):
    _insert_masters(settings)
    known = known_references(
        settings, {"staff": pl.Series(["S2", "S3", "S7"]), "offices": pl.Series([], dtype=pl.String)}
    )
    assert known.staff.sort("staff_id").rows() == [("S2", "callback"), ("S3", "rep")]
    assert known.offices.height == 0 and known.patients.height == 0
    everything = known_references(settings)
    assert everything.staff["staff_id"].sort().to_list() == ["S1", "S2", "S3"]
    assert everything.offices["office_code"].to_list() == ["OF1"]


def test_beyond_the_lookup_limit_the_whole_master_feed_is_read(settings, monkeypatch):
    _insert_masters(settings)
    monkeypatch.setattr(check, "MAX_IDS_LOOKED_UP", 1)
    known = known_references(settings, {"staff": pl.Series(["S2", "S3"])})
    assert known.staff["staff_id"].sort().to_list() == ["S1", "S2", "S3"]
