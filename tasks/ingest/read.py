"""Reading: a feed's new files decoded and parsed into text rows, with its rows waiting in quarantine."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl
import sqlalchemy as sa

from edges.db import get_engine
from keqing.feeds import FEEDS
from keqing.ingest import batch as B
from keqing.ingest.normalise import ROW
from keqing.ingest.reader import read_file_bytes
from keqing.settings import Settings
from models import QuarantineRow
from tasks import IO_RETRIES, keqing_task
from tasks.ingest.discover import InboxFile


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
    return B.waiting_frame(feed, found)


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
            problems.append(B.rejected_file_problems(f.id, raw))
            continue
        assert raw.rows is not None
        frames.append(
            raw.rows.with_columns(pl.lit(f.id, dtype=pl.Int64).alias(B.FILE), pl.lit(None, dtype=pl.Int64).alias(B.QID))
        )
        problems.append(B.problem_frame(f.id, raw.problems))
    waiting = _waiting_rows(settings, feed) if retry_waiting else pl.DataFrame(schema=B.waiting_schema(feed))
    columns = [B.FILE, B.LINE, B.QID, *FEEDS[feed].column_names]
    rows = pl.concat([waiting.select(columns), *(f.select(columns) for f in frames)], how="vertical")
    rows = rows.with_row_index(ROW)
    rows, duplicates = B.split_exact_duplicates(rows, FEEDS[feed])
    for file_id, count in duplicates.iter_rows():
        reports[file_id].duplicates = count
    problem_frame = pl.concat(problems) if problems else pl.DataFrame(schema=B.PROBLEM_SCHEMA)
    return FeedBatch(feed, reports, rows, problem_frame)
