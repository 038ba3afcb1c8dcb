"""Loading: one transaction per chunk of a feed that upserts its valid rows, quarantines the rest,
releases waiting rows and marks its files done, so a crash leaves no file half-loaded and no file
marked done that was not."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

import polars as pl
import sqlalchemy as sa

from edges import failpoints
from edges.db import (
    create_missing_indexes,
    drop_secondary_indexes,
    get_engine,
    insert_ignore,
    refresh_statistics,
    upsert_frame,
)
from keqing.clock import utc_now
from keqing.feeds import FEEDS
from keqing.ingest import batch as B
from keqing.ingest.normalise import ROW
from keqing.settings import Settings
from models import FEED_MODELS, IngestFile, QuarantineRow
from tasks import IO_RETRIES, keqing_task, run_logger
from tasks.ingest.read import FeedBatch

# A load this big is followed by VACUUM (ANALYZE) of its table on PostgreSQL: fresh planner statistics,
# and a visibility map for index-only scans (edges.db.refresh_statistics).
ANALYZE_AFTER_ROWS = 100_000


@dataclass
class FeedResult:
    feed: str
    files: int = 0
    rows_read: int = 0
    loaded: int = 0
    quarantined: int = 0
    duplicates: int = 0
    released: int = 0  # waiting rows loaded now
    still_waiting: int = 0
    reasons: Counter = field(default_factory=Counter)
    file_reports: list[dict] = field(default_factory=list)


@keqing_task(**IO_RETRIES)
def load_feed(settings: Settings, batch: FeedBatch, run_date: dt.date, bulk: bool = False) -> FeedResult:
    """One transaction: upsert valid rows, quarantine the rest, release waiting rows, mark files done.
    ``bulk``: a chunk of a load of several (``restore_indexes`` refreshes the statistics after the last)."""
    assert batch.typed is not None
    feed = FEEDS[batch.feed]
    table = FEED_MODELS[batch.feed].__table__
    quarantine = B.assemble_quarantine(batch.rows, batch.errors)
    valid = batch.typed.join(quarantine.select(ROW), on=ROW, how="anti")
    to_load = B.latest_per_key(valid, feed).select(
        *feed.column_names, pl.col(B.FILE).alias("source_file_id"), pl.col(B.LINE).alias("source_line")
    )
    result = FeedResult(batch.feed, files=len(batch.reports))
    engine = get_engine(settings.database_url)
    now = utc_now()
    with engine.begin() as conn:
        upsert_frame(conn, table, to_load, feed.key, newer_by=("source_file_id", "source_line"))
        failpoints.check(f"load:{batch.feed}:after_upsert")
        _resolve_fixed(conn, batch.feed, to_load, run_date, now)
        _write_new_quarantine(conn, batch, quarantine, run_date, now)
        released, still_waiting = _update_waiting(conn, valid, quarantine, run_date, now)
        result.released, result.still_waiting = released, still_waiting
        _finish_files(conn, batch, valid, quarantine, result)
    failpoints.check(f"load:{batch.feed}:committed")
    if to_load.height >= ANALYZE_AFTER_ROWS and not bulk:  # ready for the night's queries
        refresh_statistics(engine, [table], vacuum=True)
    run_logger().info(
        "%s: %d file(s), %d row(s) read, %d loaded, %d quarantined, %d duplicate(s), %d released from quarantine",
        batch.feed,
        result.files,
        result.rows_read,
        result.loaded,
        result.quarantined,
        result.duplicates,
        result.released,
    )
    return result


@keqing_task(**IO_RETRIES)
def suspend_indexes(settings: Settings, feed: str) -> list[str]:
    """Before a load of several chunks (a history): drop the feed table's secondary indexes, so that
    they are built once after the last chunk instead of updated row by row in every chunk."""
    dropped = drop_secondary_indexes(get_engine(settings.database_url), FEED_MODELS[feed].__table__)
    if dropped:
        run_logger().info("%s: indexes %s dropped for the bulk load", feed, ", ".join(dropped))
    return dropped


@keqing_task(**IO_RETRIES)
def restore_indexes(settings: Settings, feed: str) -> list[str]:
    """After a bulk load: build the feed table's missing indexes, then VACUUM (ANALYZE) it (PostgreSQL)."""
    engine = get_engine(settings.database_url)
    table = FEED_MODELS[feed].__table__
    created = create_missing_indexes(engine, [table])
    if created:
        run_logger().info("%s: indexes %s built", feed, ", ".join(created))
    refresh_statistics(engine, [table], vacuum=True)
    return created


def _raw_cells(batch: FeedBatch, rows: pl.DataFrame) -> list[dict[str, str | None]]:
    columns = FEEDS[batch.feed].column_names
    text = rows.select(ROW).join(batch.rows.select(ROW, *columns), on=ROW, how="left")
    return text.select(columns).to_dicts()


def _message(feed: str, file_path: str, line: int, column: str | None, reason: str) -> str:
    where = f"{file_path}, line {line}" + (f", column {column}" if column else "")
    return f"{where}: {B.REASON_TEXT.get(reason, reason.replace('_', ' '))}"


def _write_new_quarantine(
    conn: sa.Connection, batch: FeedBatch, quarantine: pl.DataFrame, run_date: dt.date, now: dt.datetime
) -> None:
    paths = {fid: r.file.path for fid, r in batch.reports.items()}
    new = quarantine.filter(pl.col(B.QID).is_null())
    records = []
    if new.height:
        assert batch.typed is not None
        keys = batch.typed.select(ROW, B.record_key(FEEDS[batch.feed]))
        new = new.join(keys, on=ROW, how="left")
        raws = _raw_cells(batch, new)
        for (file_id, line, column, reason, details, status, key), raw in zip(
            new.select(B.FILE, B.LINE, "column", "reason", "details", "status", "record_key").iter_rows(),
            raws,
            strict=True,
        ):
            records.append(
                dict(
                    file_id=file_id,
                    feed=batch.feed,
                    line=line,
                    column_name=column,
                    reason=reason,
                    message=_message(batch.feed, paths[file_id], line, column, reason),
                    details=details,
                    raw=raw,
                    status=status,
                    first_seen_at=now,
                    first_seen_run_date=run_date,
                    record_key=key,
                )
            )
    for file_id, line, column, reason, message, raw in batch.problems.iter_rows():
        records.append(
            dict(
                file_id=file_id,
                feed=batch.feed,
                line=line,
                column_name=column,
                reason=reason,
                message=f"{paths[file_id]}: {message}",
                details=[f"{column or ''}:{reason}"],
                raw=raw,
                status="rejected",
                first_seen_at=now,
                first_seen_run_date=run_date,
                record_key=None,
            )
        )
    if records:
        stmt = insert_ignore(conn, QuarantineRow.__table__)
        conn.execute(stmt, records)


def _resolve_fixed(conn: sa.Connection, feed: str, loaded: pl.DataFrame, run_date: dt.date, now: dt.datetime) -> int:
    """Rejected rows whose record has now been loaded (fixed and re-dropped in a later file) leave
    the open list as ``resolved``. Returns how many."""
    q = QuarantineRow.__table__
    open_rows = pl.DataFrame(
        conn.execute(
            sa.select(q.c.id, q.c.record_key).where(
                q.c.feed == feed, q.c.status == "rejected", q.c.record_key.is_not(None)
            )
        ).all(),
        schema={"id": pl.Int64, "record_key": pl.String},
        orient="row",
    )
    if open_rows.height == 0 or loaded.height == 0:
        return 0
    keys = loaded.select(B.record_key(FEEDS[feed])).drop_nulls()
    fixed = open_rows.join(keys, on="record_key", how="semi")["id"].to_list()
    if fixed:
        conn.execute(
            sa.update(q)
            .where(q.c.id == sa.bindparam("qid"), q.c.status == "rejected")
            .values(status="resolved", resolved_at=now, resolved_run_date=run_date),
            [{"qid": qid} for qid in fixed],
        )
    return len(fixed)


def _update_waiting(
    conn: sa.Connection, valid: pl.DataFrame, quarantine: pl.DataFrame, run_date: dt.date, now: dt.datetime
) -> tuple[int, int]:
    q = QuarantineRow.__table__
    released = valid.filter(pl.col(B.QID).is_not_null())[B.QID].to_list()
    if released:
        conn.execute(
            sa.update(q)
            .where(q.c.id == sa.bindparam("qid"))
            .values(status="resolved", resolved_at=now, resolved_run_date=run_date),
            [{"qid": qid} for qid in released],
        )
    still = quarantine.filter(pl.col(B.QID).is_not_null())
    if still.height:
        conn.execute(
            sa.update(q)
            .where(q.c.id == sa.bindparam("qid"))
            .values(
                reason=sa.bindparam("new_reason"),
                column_name=sa.bindparam("new_column"),
                status=sa.bindparam("new_status"),
                details=sa.bindparam("new_details"),
            ),
            [
                {
                    "qid": qid,
                    "new_reason": reason,
                    "new_column": column,
                    "new_status": status,
                    "new_details": details,
                }
                for qid, reason, column, status, details in still.select(
                    B.QID, "reason", "column", "status", "details"
                ).iter_rows()
            ],
        )
    return len(released), quarantine.filter(pl.col("status") == "waiting").height


def _finish_files(
    conn: sa.Connection, batch: FeedBatch, valid: pl.DataFrame, quarantine: pl.DataFrame, result: FeedResult
) -> None:
    new_valid = valid.filter(pl.col(B.QID).is_null()).group_by(B.FILE).len()
    loaded = dict(new_valid.iter_rows())
    quarantined = Counter(dict(quarantine.filter(pl.col(B.QID).is_null()).group_by(B.FILE).len().iter_rows()))
    # A rejected file without data rows (empty, unreadable) has one entry at line 1 for the file
    # itself: it stands for no row, so it is not counted as a quarantined row.
    whole_files = [fid for fid, r in batch.reports.items() if r.rejected and r.rows_read == 0]
    row_problems = batch.problems.filter(~pl.col(B.FILE).is_in(whole_files))
    quarantined.update(dict(row_problems.group_by(B.FILE).len().iter_rows()))
    reasons = Counter(quarantine.filter(pl.col(B.QID).is_null())["reason"].to_list())
    reasons.update(batch.problems["reason"].to_list())
    result.reasons = reasons
    f = IngestFile.__table__
    for file_id, report in batch.reports.items():
        counts = dict(
            rows_read=report.rows_read,
            rows_loaded=loaded.get(file_id, 0),
            rows_quarantined=quarantined.get(file_id, 0),
            rows_duplicate=report.duplicates,
        )
        if counts["rows_read"] != counts["rows_loaded"] + counts["rows_quarantined"] + counts["rows_duplicate"]:
            raise RuntimeError(f"{report.file.path}: rows do not reconcile: {counts}")
        conn.execute(
            sa.update(f)
            .where(f.c.id == file_id)
            .values(
                status="rejected" if report.rejected else "done",
                encoding=report.encoding,
                messages=report.messages,
                ingested_at=utc_now(),
                **counts,
            )
        )
        result.rows_read += counts["rows_read"]
        result.loaded += counts["rows_loaded"]
        result.quarantined += counts["rows_quarantined"]
        result.duplicates += counts["rows_duplicate"]
        result.file_reports.append(
            {
                "path": report.file.path,
                "feed": batch.feed,
                "status": "rejected" if report.rejected else "done",
                "encoding": report.encoding,
                "messages": report.messages,
                **counts,
            }
        )
