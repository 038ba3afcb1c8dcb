"""Ingest: every new inbox file is read, validated, checked and loaded, or quarantined with a reason."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from prefect import flow

from keqing.clock import cutoff_for
from keqing.feeds import LOAD_ORDER
from keqing.ingest import expectations
from keqing.rules import Rules
from keqing.settings import Settings
from tasks import run_logger
from tasks.completeness import check_completeness
from tasks.ingest import (
    FeedResult,
    InboxFile,
    check_references,
    discover_inbox,
    load_feed,
    read_feed,
    restore_indexes,
    suspend_indexes,
    validate_feed,
)

# A feed's new files are processed in chunks of about this many bytes, so a two-year history
# loads in bounded memory (each chunk is read, validated and loaded in its own transaction).
CHUNK_BYTES = 128 * 1024 * 1024


@flow(name="ingest")
def ingest(settings: Settings, rules: Rules, run_date: dt.date) -> dict:
    """Load the inbox's new files, master data first, keeping records dated up to run_date - 1.

    One chunk after the other, in this thread. Loading a chunk in a second thread while the next one
    was read and validated hung a two-year `large` history for good:
    Polars 2.1 deadlocks when two Python threads call it at once (one in ``to_pandas`` holding the
    GIL while waiting for its thread pool, a pool thread waiting for the GIL; see pola-rs/polars
    #27396 for the same family). Do not call Polars from two threads of one process.
    """
    discovery = discover_inbox(settings, run_date)
    if discovery.files:  # rows waiting in quarantine alone are not validated again (validate_feed)
        expectations.warm_up()
    results: list[FeedResult] = []
    for feed in LOAD_ORDER:
        chunks = file_chunks(discovery.for_feed(feed), CHUNK_BYTES)
        bulk = len(chunks) > 1  # a history: the table's indexes are built once, after its last chunk
        if bulk:
            suspend_indexes(settings, feed)
        try:
            for number, files in enumerate(chunks, start=1):
                if bulk:
                    run_logger().info("%s: chunk %d of %d (%d files)", feed, number, len(chunks), len(files))
                # Waiting rows come back once, with the feed's first chunk: what they wait for is in
                # other feeds, which a later chunk of this feed does not change.
                batch = read_feed(settings, feed, files, retry_waiting=number == 1)
                if batch.rows.height == 0 and batch.problems.height == 0 and not batch.reports:
                    continue
                batch = validate_feed(batch, rules, run_date)
                batch = check_references(settings, batch, cutoff_for(run_date))
                results.append(load_feed(settings, batch, run_date, bulk=bulk))
        finally:  # after a failed chunk too; a run that dies here gets them back from the next run's start
            if bulk:
                restore_indexes(settings, feed)
    summary = ingest_summary(discovery, merge_results(results))
    # Completeness before publishing: daily feeds without records for the cutoff day, broken batches.
    return summary | check_completeness(settings, rules, run_date, summary["files"])


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
