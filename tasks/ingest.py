"""Ingest stage: discover inbox files, read them, validate, check references, load.

The flow calls these once per feed (not per file or row). Each feed's load is one database
transaction that upserts its rows, writes its quarantine entries, releases waiting rows and marks
its files done, so a crash leaves no file half-loaded and no file marked done that was not.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import sqlalchemy as sa

from edges import failpoints
from edges.db import get_engine, insert_ignore, is_postgres, read_frame, upsert_frame
from keqing.clock import utc_now
from keqing.feeds import FEEDS, LOAD_ORDER, feed_for_filename
from keqing.ingest import batch as B
from keqing.ingest.normalise import ROW, normalise
from keqing.ingest.reader import Problem, RawFile, read_file_bytes
from keqing.rules import Rules
from keqing.settings import Settings
from models import FEED_MODELS, InboxPath, IngestFile, QuarantineRow
from tasks import IO_RETRIES, keqing_task, run_logger

HASH_CHUNK = 1 << 20
ANALYZE_AFTER_ROWS = 100_000  # a load this big refreshes the table's planner statistics (PostgreSQL)


# --- discovery -------------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxFile:
    id: int
    path: str  # relative to the inbox
    feed: str
    sha256: str
    size: int


@dataclass
class Discovery:
    files: list[InboxFile] = field(default_factory=list)  # to ingest in this run, in load order
    already_ingested: int = 0
    same_bytes: list[tuple[str, str]] = field(default_factory=list)  # (path, path first seen with them)
    ignored: list[str] = field(default_factory=list)  # not a feed file

    def for_feed(self, feed: str) -> list[InboxFile]:
        return [f for f in self.files if f.feed == feed]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _inbox_entries(inbox: Path) -> list[tuple[str, Path]]:
    if not inbox.exists():
        return []
    return sorted(
        (p.relative_to(inbox).as_posix(), p)
        for p in inbox.rglob("*")
        if p.is_file() and not p.name.startswith((".", "~$"))
    )


@keqing_task(**IO_RETRIES)
def discover_inbox(settings: Settings, run_date: dt.date) -> Discovery:
    """Find the inbox files not ingested yet and register them (status ``pending``)."""
    engine = get_engine(settings.database_url)
    discovery = Discovery()
    entries = _inbox_entries(settings.inbox)
    with engine.begin() as conn:
        known_paths = {
            row.path: row
            for row in conn.execute(sa.select(InboxPath.path, InboxPath.size, InboxPath.mtime_ns, InboxPath.sha256))
        }
        files = {
            row.sha256: row
            for row in conn.execute(sa.select(IngestFile.id, IngestFile.sha256, IngestFile.status, IngestFile.path))
        }
        seen_now: dict[str, str] = {}
        pending: list[tuple[str, str, str, int, int | None]] = []
        for rel, path in entries:
            feed = feed_for_filename(path.name)
            if feed is None:
                discovery.ignored.append(rel)
                continue
            stat = path.stat()
            cached = known_paths.get(rel)
            if cached is not None and cached.size == stat.st_size and cached.mtime_ns == stat.st_mtime_ns:
                sha = cached.sha256
            else:
                sha = sha256_of(path)
                table = InboxPath.__table__
                if cached is None:
                    conn.execute(
                        sa.insert(table).values(path=rel, size=stat.st_size, mtime_ns=stat.st_mtime_ns, sha256=sha)
                    )
                else:
                    conn.execute(
                        sa.update(table)
                        .where(table.c.path == rel)
                        .values(size=stat.st_size, mtime_ns=stat.st_mtime_ns, sha256=sha)
                    )
            if sha in seen_now:
                discovery.same_bytes.append((rel, seen_now[sha]))
                continue
            seen_now[sha] = rel
            known = files.get(sha)
            if known is not None and known.status != "pending":
                discovery.already_ingested += 1
                if known.path != rel:
                    discovery.same_bytes.append((rel, known.path))
                continue
            pending.append((rel, feed, sha, stat.st_size, known.id if known is not None else None))
        pending.sort(key=lambda p: (LOAD_ORDER.index(p[1]), p[0]))
        for rel, feed, sha, size, file_id in pending:
            if file_id is None:
                file_id = conn.execute(
                    sa.insert(IngestFile.__table__)
                    .values(
                        sha256=sha,
                        path=rel,
                        size=size,
                        feed=feed,
                        status="pending",
                        messages=[],
                        run_date=run_date,
                    )
                    .returning(IngestFile.__table__.c.id)
                ).scalar_one()
            discovery.files.append(InboxFile(file_id, rel, feed, sha, size))
    run_logger().info(
        "inbox: %d new file(s), %d already ingested, %d with the same bytes as another, %d not a feed",
        len(discovery.files),
        discovery.already_ingested,
        len(discovery.same_bytes),
        len(discovery.ignored),
    )
    return discovery


# --- reading ---------------------------------------------------------------------------------


@dataclass
class FileReport:
    file: InboxFile
    encoding: str | None = None
    rows_read: int = 0
    duplicates: int = 0
    messages: list[str] = field(default_factory=list)
    rejected: bool = False


@dataclass
class FeedBatch:
    """A feed's rows on their way through the stage (see ``keqing.ingest.batch``)."""

    feed: str
    reports: dict[int, FileReport]
    rows: pl.DataFrame  # text cells + bookkeeping
    problems: pl.DataFrame  # structural problems: _file_id, _line, column, reason, message, raw
    typed: pl.DataFrame | None = None
    errors: pl.DataFrame = field(default_factory=B.empty_errors)

    @property
    def waiting_retried(self) -> int:
        return self.rows.filter(pl.col(B.QID).is_not_null()).height


PROBLEM_SCHEMA = {
    B.FILE: pl.Int64,
    B.LINE: pl.Int64,
    "column": pl.String,
    "reason": pl.String,
    "message": pl.String,
    "raw": pl.Object,
}


def _problem_frame(file_id: int, problems: list[Problem]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            B.FILE: [file_id] * len(problems),
            B.LINE: [p.line for p in problems],
            "column": [p.column for p in problems],
            "reason": [p.reason for p in problems],
            "message": [p.message for p in problems],
            "raw": [p.raw for p in problems],
        },
        schema=PROBLEM_SCHEMA,
    )


def _waiting_schema(feed: str) -> dict[str, pl.DataType]:
    """Waiting rows as ``read_feed`` takes them: quarantine id, file, line and the feed's text cells."""
    return {B.QID: pl.Int64, B.FILE: pl.Int64, B.LINE: pl.Int64, **{c: pl.String for c in FEEDS[feed].column_names}}


def _waiting_rows(settings: Settings, feed: str) -> pl.DataFrame:
    """The feed's rows waiting in quarantine, as text rows with their original file and line."""
    engine = get_engine(settings.database_url)
    q = QuarantineRow.__table__
    with engine.connect() as conn:
        found = conn.execute(
            sa.select(q.c.id, q.c.file_id, q.c.line, q.c.raw)
            .where(q.c.feed == feed, q.c.status == "waiting")
            .order_by(q.c.file_id, q.c.line)
        ).all()
    columns = FEEDS[feed].column_names
    data: dict[str, list] = {B.QID: [], B.FILE: [], B.LINE: [], **{c: [] for c in columns}}
    for qid, file_id, line, raw in found:
        data[B.QID].append(qid)
        data[B.FILE].append(file_id)
        data[B.LINE].append(line)
        for c in columns:
            data[c].append(raw.get(c))
    return pl.DataFrame(data, schema=_waiting_schema(feed))


@keqing_task(**IO_RETRIES)
def read_feed(settings: Settings, feed: str, files: list[InboxFile], retry_waiting: bool = True) -> FeedBatch:
    """Decode and parse the feed's new files, and (with ``retry_waiting``) take back its rows waiting
    in quarantine: the flow asks for them with a feed's first chunk only."""
    frames: list[pl.DataFrame] = []
    problems: list[pl.DataFrame] = []
    reports: dict[int, FileReport] = {}
    for f in files:
        raw = read_file_bytes(feed, f.path, (settings.inbox / f.path).read_bytes())
        report = FileReport(f, encoding=raw.encoding, rows_read=raw.rows_read, messages=list(raw.messages))
        reports[f.id] = report
        if raw.rejected_reason is not None:
            report.rejected = True
            problems.append(_rejected_rows(f, raw))
            continue
        assert raw.rows is not None
        frames.append(
            raw.rows.with_columns(pl.lit(f.id, dtype=pl.Int64).alias(B.FILE), pl.lit(None, dtype=pl.Int64).alias(B.QID))
        )
        problems.append(_problem_frame(f.id, raw.problems))
    waiting = _waiting_rows(settings, feed) if retry_waiting else pl.DataFrame(schema=_waiting_schema(feed))
    columns = [B.FILE, B.LINE, B.QID, *FEEDS[feed].column_names]
    rows = pl.concat([waiting.select(columns), *(f.select(columns) for f in frames)], how="vertical")
    rows = rows.with_row_index(ROW)
    rows, duplicates = B.split_exact_duplicates(rows, FEEDS[feed])
    for file_id, count in duplicates.iter_rows():
        reports[file_id].duplicates = count
    problem_frame = pl.concat(problems) if problems else pl.DataFrame(schema=PROBLEM_SCHEMA)
    return FeedBatch(feed, reports, rows, problem_frame)


def _rejected_rows(f: InboxFile, raw: RawFile) -> pl.DataFrame:
    """A rejected file: every data line is quarantined with the file's reason (or one entry at line 1)."""
    message = raw.messages[-1]
    if raw.rows_read == 0:
        return _problem_frame(
            f.id,
            [Problem(1, raw.rejected_column, raw.rejected_reason, f"line 1: {message}", {"_text": raw.header_line})],
        )
    return _problem_frame(
        f.id,
        [
            Problem(
                line,
                raw.rejected_column,
                raw.rejected_reason,
                f"line {line}: {message}",
                {"_header": raw.header_line, "_text": text},
            )
            for line, text in raw.rejected_lines
        ],
    )


# --- validation ------------------------------------------------------------------------------


@keqing_task
def validate_feed(batch: FeedBatch, rules: Rules, run_date: dt.date) -> FeedBatch:
    """Parse types in Polars, then run the feed's Great Expectations suite on the parsed rows."""
    from keqing.ingest.expectations import validate

    batch.typed, parse_errors = normalise(batch.feed, batch.rows)
    clean = batch.typed.join(parse_errors.select(ROW).unique(), on=ROW, how="anti")
    earliest = dt.date.fromisoformat(rules.ingest.earliest_date)
    latest = run_date + dt.timedelta(days=366)
    suite_errors = validate(batch.feed, clean, earliest, latest)
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
    references = B.reference_errors(feed, remaining, known_references(settings, B.referenced_feeds(feed)))
    batch.errors = pl.concat([batch.errors, late, references])
    return batch


REFERENCE_QUERIES = {
    "offices": ("SELECT office_code FROM offices", {"office_code": pl.String}),
    "staff": ("SELECT staff_id, role FROM staff", {"staff_id": pl.String, "role": pl.String}),
    "products": ("SELECT product_code FROM products", {"product_code": pl.String}),
    "customers": ("SELECT customer_id, kind FROM customers", {"customer_id": pl.String, "kind": pl.String}),
    "patients": ("SELECT patient_id FROM patients", {"patient_id": pl.String}),
}


def known_references(settings: Settings, feeds: set[str] | None = None) -> B.Known:
    """The ids of the master feeds in ``feeds`` (default all); the others are left empty.

    Read through the engine (ADBC into Arrow): a million patient ids take a fraction of a second,
    where fetching them as Python tuples took seconds per feed.
    """
    engine = get_engine(settings.database_url)
    frames = {
        name: read_frame(engine, sql, schema) if feeds is None or name in feeds else pl.DataFrame(schema=schema)
        for name, (sql, schema) in REFERENCE_QUERIES.items()
    }
    return B.Known(**frames)


# --- loading ---------------------------------------------------------------------------------


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
def load_feed(settings: Settings, batch: FeedBatch, run_date: dt.date) -> FeedResult:
    """One transaction: upsert valid rows, quarantine the rest, release waiting rows, mark files done."""
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
        _write_new_quarantine(conn, batch, quarantine, run_date, now)
        released, still_waiting = _update_waiting(conn, valid, quarantine, run_date, now)
        result.released, result.still_waiting = released, still_waiting
        _finish_files(conn, batch, valid, quarantine, result)
    failpoints.check(f"load:{batch.feed}:committed")
    if is_postgres(engine) and to_load.height >= ANALYZE_AFTER_ROWS:
        # Fresh statistics for the night's queries: after a bulk load the planner would otherwise
        # guess a dozen rows for a table of millions until autovacuum gets round to it.
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(f"ANALYZE {table.name}")
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
        raws = _raw_cells(batch, new)
        for (file_id, line, column, reason, details, status), raw in zip(
            new.select(B.FILE, B.LINE, "column", "reason", "details", "status").iter_rows(), raws, strict=True
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
            )
        )
    if records:
        stmt = insert_ignore(conn, QuarantineRow.__table__)
        conn.execute(stmt, records)


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
                "status": "rejected" if report.rejected else "done",
                "encoding": report.encoding,
                "messages": report.messages,
                **counts,
            }
        )
