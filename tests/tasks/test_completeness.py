"""Which daily feeds have records for the cutoff day, read in one query, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from edges.db import get_engine
from keqing.rules import Rules, rules_from_mapping
from models.feeds import Purchase, Visit
from tasks.completeness import feeds_present, missing_feeds

CUTOFF = dt.date(2026, 11, 2)  # a Monday: run_date 2026-11-03


def _visit(visit_id: str, at: dt.datetime) -> dict:
    return dict(
        visit_id=visit_id,
        staff_id="S001",
        target_type="customer",
        target_id="C1",
        visit_at=at,
        channel="face",
        outcome="completed",
        source_file_id=1,
        source_line=2,
    )


def test_a_feed_is_present_when_a_record_is_dated_the_cutoff_day_whatever_its_time(database_url):
    engine = get_engine(database_url)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(Visit.__table__),
            [_visit("V1", dt.datetime(2026, 11, 1, 23, 59, 59)), _visit("V2", dt.datetime(2026, 11, 3, 0, 0))],
        )
        conn.execute(
            sa.insert(Purchase.__table__),
            [
                dict(
                    purchase_id="B1",
                    patient_id="P1",
                    product_code="PR01",
                    boxes=1,
                    purchase_date=CUTOFF,
                    source_file_id=1,
                    source_line=2,
                )
            ],
        )
    # Visits just before and just after the cutoff day do not count.
    assert feeds_present(engine, ["purchases", "visits", "orders"], CUTOFF) == {
        "purchases": True,
        "visits": False,
        "orders": False,
    }
    assert missing_feeds(engine, Rules(), dt.date(2026, 11, 3)) == ["visits"]
    with engine.begin() as conn:
        conn.execute(sa.insert(Visit.__table__), [_visit("V3", dt.datetime(2026, 11, 2, 0, 0))])
    assert feeds_present(engine, ["visits"], CUTOFF) == {"visits": True}
    assert missing_feeds(engine, Rules(), dt.date(2026, 11, 3)) == []
    # The day before a Sunday cutoff: visits are not expected, purchases are (none on 2026-11-01).
    assert missing_feeds(engine, Rules(), dt.date(2026, 11, 2)) == ["purchases"]
    only_orders = rules_from_mapping({"freshness": {"daily_feeds": ["orders"]}})
    assert missing_feeds(engine, only_orders, dt.date(2026, 11, 3)) == ["orders"]
