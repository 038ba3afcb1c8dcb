"""Ingest: every new inbox file is read, validated, checked and loaded, or quarantined with a reason."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from prefect import flow
from prefect.futures import PrefectFuture
from prefect.utilities.annotations import quote

from keqing.clock import cutoff_for
from keqing.db import get_engine, is_postgres
from keqing.feeds import FEEDS, LOAD_ORDER
from keqing.ingest import expectations
from keqing.ingest.batch import referenced_feeds
from keqing.rules import Rules
from keqing.settings import Settings
from tasks import run_logger
from tasks.ingest import (
    FeedResult,
    InboxFile,
    check_references,
    discover_inbox,
    load_feed,
    read_feed,
    validate_feed,
)

# A feed's new files are processed in chunks of about this many bytes, so a two-year history
# loads in bounded memory (each chunk is read, validated and loaded in its own transaction).
CHUNK_BYTES = 128 * 1024 * 1024


@flow(name="ingest")
def ingest(settings: Settings, rules: Rules, run_date: dt.date) -> dict:
    """Load the inbox's new files, master data first, keeping records dated up to run_date - 1.

    On PostgreSQL a chunk's load runs in a thread while the next chunk is read and validated, so the
    database server and this process work at the same time (two cores, not one after the other). At
    most one load is in flight, and a feed's references are checked only once the feeds it refers to
    are in the database. SQLite loads one chunk after the other: one writer, and reading a database
    that this process is writing would bring a second SQLite library in (see keqing.db).
    """
    expectations.warm_up()
    discovery = discover_inbox(settings, run_date)
    overlap = is_postgres(get_engine(settings.database_url))
    results: list[FeedResult] = []
    in_flight: tuple[str, PrefectFuture] | None = None

    def finish_load() -> None:
        nonlocal in_flight
        if in_flight is not None:
            results.append(in_flight[1].result())
            in_flight = None

    for feed in LOAD_ORDER:
        chunks = file_chunks(discovery.for_feed(feed), CHUNK_BYTES)
        for number, files in enumerate(chunks, start=1):
            if len(chunks) > 1:
                run_logger().info("%s: chunk %d of %d (%d files)", feed, number, len(chunks), len(files))
            # Waiting rows come back once, with the feed's first chunk: what they wait for is in
            # other feeds, which a later chunk of this feed does not change.
            batch = read_feed(settings, feed, files, retry_waiting=number == 1)
            if batch.rows.height == 0 and batch.problems.height == 0 and not batch.reports:
                continue
            batch = validate_feed(batch, rules, run_date)
            if in_flight is not None and in_flight[0] in referenced_feeds(FEEDS[feed]):
                finish_load()
            batch = check_references(settings, batch, cutoff_for(run_date))
            finish_load()
            if overlap:
                in_flight = (feed, load_feed.submit(settings, quote(batch), run_date))
            else:
                results.append(load_feed(settings, batch, run_date))
    finish_load()
    return ingest_summary(discovery, merge_results(results))


def file_chunks(files: list[InboxFile], max_bytes: int) -> list[list[InboxFile]]:
    """Consecutive groups of files of at most ``max_bytes`` (a bigger file is a group of its own).

    Always at least one group, so waiting rows of a feed without new files are retried too.
    """
    chunks: list[list[InboxFile]] = [[]]
    size = 0
    for f in files:
        if chunks[-1] and size + f.size > max_bytes:
            chunks.append([])
            size = 0
        chunks[-1].append(f)
        size += f.size
    return chunks


def merge_results(results: list[FeedResult]) -> list[FeedResult]:
    """One result per feed from the results of its chunks."""
    merged: dict[str, FeedResult] = {}
    for r in results:
        m = merged.setdefault(r.feed, FeedResult(r.feed))
        m.files += r.files
        m.rows_read += r.rows_read
        m.loaded += r.loaded
        m.quarantined += r.quarantined
        m.duplicates += r.duplicates
        m.released += r.released
        m.still_waiting += r.still_waiting  # each waiting row is in exactly one chunk
        m.reasons.update(r.reasons)
        m.file_reports.extend(r.file_reports)
    return list(merged.values())


def ingest_summary(discovery, results: list[FeedResult]) -> dict:
    """What ops need to know about the night's input, JSON-ready (no personal data)."""
    reasons: Counter = Counter()
    for r in results:
        reasons.update(r.reasons)
    return {
        "files_new": len(discovery.files),
        "files_already_ingested": discovery.already_ingested,
        "files_same_bytes": [{"path": p, "same_as": q} for p, q in discovery.same_bytes],
        "files_ignored": discovery.ignored,
        "rows_read": sum(r.rows_read for r in results),
        "rows_loaded": sum(r.loaded for r in results),
        "rows_quarantined": sum(r.quarantined for r in results),
        "rows_duplicate": sum(r.duplicates for r in results),
        "rows_released": sum(r.released for r in results),
        "rows_waiting": sum(r.still_waiting for r in results),
        "quarantined_by_reason": dict(reasons.most_common()),
        "feeds": {
            r.feed: {
                "files": r.files,
                "rows_read": r.rows_read,
                "loaded": r.loaded,
                "quarantined": r.quarantined,
                "duplicates": r.duplicates,
                "released": r.released,
                "waiting": r.still_waiting,
            }
            for r in results
        },
        "files": [fr for r in results for fr in r.file_reports],
    }
