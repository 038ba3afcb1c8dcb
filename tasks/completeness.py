"""Completeness before publishing: which daily feeds have records for the cutoff day (one query), and
the night's missing feeds and broken batches for the run summary."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from edges.db import get_engine
from keqing.clock import cutoff_for
from keqing.completeness import (
    broken_batches,
    expected_daily_feeds,
    file_frame,
    missing_daily_feeds,
    missing_feed_report,
)
from keqing.feeds import FEEDS
from keqing.rules import Rules
from keqing.settings import Settings
from models import FEED_MODELS
from tasks import IO_RETRIES, keqing_task, run_logger


def feeds_present(engine: Engine, feeds: Sequence[str], day: dt.date) -> dict[str, bool]:
    """{feed: whether it has any record dated ``day``}, in one statement (an EXISTS per feed)."""
    if not feeds:
        return {}
    checks = []
    for feed in feeds:
        table = FEED_MODELS[feed].__table__
        column = table.c[FEEDS[feed].dated_by]
        if isinstance(column.type, sa.DateTime):
            start = dt.datetime.combine(day, dt.time())
            cond = (column >= start) & (column < start + dt.timedelta(days=1))
        else:
            cond = column == day
        checks.append(sa.exists(sa.select(sa.literal(1)).select_from(table).where(cond)).label(feed))
    with engine.connect() as conn:
        row = conn.execute(sa.select(*checks)).one()
    return {feed: bool(row._mapping[feed]) for feed in feeds}


def missing_feeds(engine: Engine, rules: Rules, run_date: dt.date) -> list[str]:
    """The daily feeds of the rules without any record dated the cutoff day (run_date - 1)."""
    cutoff = cutoff_for(run_date)
    expected = expected_daily_feeds(rules.freshness, rules.work_calendar.is_workday(cutoff))
    return missing_daily_feeds(expected, feeds_present(engine, expected, cutoff))


@keqing_task(**IO_RETRIES)
def check_completeness(settings: Settings, rules: Rules, run_date: dt.date, file_reports: Sequence[Mapping]) -> dict:
    """The night's missing daily feeds and broken batches, JSON-ready for the run summary (no personal data)."""
    cutoff = cutoff_for(run_date)
    missing = missing_feeds(get_engine(settings.database_url), rules, run_date)
    broken = broken_batches(file_frame(file_reports), rules.freshness.max_quarantined_share)
    for feed in missing:
        run_logger().warning("%s: no record dated %s (数据未到)", feed, cutoff)
    for path, quarantined, read in broken.select("path", "rows_quarantined", "rows_read").iter_rows():
        run_logger().warning("broken batch %s: %d of %d rows quarantined", path, quarantined, read)
    return {
        "missing_feeds": [missing_feed_report(f, cutoff) for f in missing],
        "broken_batches": broken.to_dicts(),
    }
