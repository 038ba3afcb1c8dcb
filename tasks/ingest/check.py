"""Checks: types parsed in Polars, the feed's Great Expectations suite, the cutoff and the references."""

from __future__ import annotations

import datetime as dt

import polars as pl
import sqlalchemy as sa

from edges.db import get_engine, read_frame
from keqing.feeds import FEEDS
from keqing.ingest import batch as B
from keqing.ingest.normalise import ROW, normalise
from keqing.rules import Rules
from keqing.settings import Settings
from tasks import IO_RETRIES, keqing_task
from tasks.ingest.read import FeedBatch


@keqing_task
def validate_feed(batch: FeedBatch, rules: Rules, run_date: dt.date) -> FeedBatch:
    """Parse types in Polars, then run the feed's Great Expectations suite on the parsed new rows."""
    from keqing.ingest.expectations import validate

    batch.typed, parse_errors = normalise(batch.feed, batch.rows)
    clean = batch.typed.join(parse_errors.select(ROW).unique(), on=ROW, how="anti")
    earliest = dt.date.fromisoformat(rules.ingest.earliest_date)
    latest = run_date + dt.timedelta(days=rules.ingest.latest_days_ahead)
    # Rows back from quarantine passed the suite when they arrived and wait only for a reference or
    # the cutoff (contract section 2): only the night's new rows pay for Great Expectations.
    suite_errors = validate(batch.feed, clean.filter(pl.col(B.QID).is_null()), earliest, latest)
    batch.errors = pl.concat([B._errors(parse_errors), suite_errors])
    return batch


@keqing_task(**IO_RETRIES)
def check_references(settings: Settings, batch: FeedBatch, cutoff: dt.date) -> FeedBatch:
    """Hold back rows dated after the cutoff and rows whose references are not (yet) known."""
    assert batch.typed is not None
    feed = FEEDS[batch.feed]
    remaining = batch.typed.join(batch.errors.select(ROW).unique(), on=ROW, how="anti")
    late = B.cutoff_errors(feed, remaining, cutoff)
    remaining = remaining.join(late.select(ROW), on=ROW, how="anti")
    references = B.reference_errors(feed, remaining, known_references(settings, B.referenced_ids(feed, remaining)))
    batch.errors = pl.concat([batch.errors, late, references])
    return batch


# The columns read from each master feed for the reference checks (its key first).
REFERENCE_COLUMNS: dict[str, dict[str, pl.DataType]] = {
    "offices": {"office_code": pl.String},
    "staff": {"staff_id": pl.String, "role": pl.String},
    "products": {"product_code": pl.String},
    "customers": {"customer_id": pl.String, "kind": pl.String},
    "patients": {"patient_id": pl.String},
}

# Up to this many ids a master feed is asked about, only their rows are read; more (a chunk of a
# history load), and the whole table is, which is then cheaper than a list of ids in the query.
MAX_IDS_LOOKED_UP = 50_000


def known_references(settings: Settings, ids: dict[str, pl.Series] | None = None) -> B.Known:
    """The rows of the master feeds named in ``ids`` (default all, whole) whose key is among their ids;
    the other feeds are left empty.

    Read through the engine (ADBC into Arrow): a million patient ids take a fraction of a second,
    where fetching them as Python tuples took seconds per feed.
    """
    engine = get_engine(settings.database_url)
    frames: dict[str, pl.DataFrame] = {}
    for name, schema in REFERENCE_COLUMNS.items():
        wanted = None if ids is None else ids.get(name)
        if ids is not None and (wanted is None or wanted.len() == 0):
            frames[name] = pl.DataFrame(schema=schema)
            continue
        query = sa.select(*(sa.column(c) for c in schema)).select_from(sa.table(name))
        if wanted is not None and wanted.len() <= MAX_IDS_LOOKED_UP:
            query = query.where(sa.column(next(iter(schema))).in_(wanted.to_list()))
        frames[name] = read_frame(engine, query, schema)
    return B.Known(**frames)
