"""Ingest bookkeeping: files seen, quarantined rows, and nightly runs."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from keqing.clock import utc_now
from models.base import Base


class IngestFile(Base):
    """One distinct file content (by SHA-256) that the inbox has offered, and what became of it."""

    __tablename__ = "ingest_files"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    path: Mapped[str] = mapped_column(Text)  # relative to the inbox, where first seen
    size: Mapped[int] = mapped_column(BigInteger)
    feed: Mapped[str] = mapped_column(String(20))
    encoding: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))  # done | rejected
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_loaded: Mapped[int] = mapped_column(Integer, default=0)
    rows_quarantined: Mapped[int] = mapped_column(Integer, default=0)
    rows_duplicate: Mapped[int] = mapped_column(Integer, default=0)
    messages: Mapped[list[str]] = mapped_column(JSON, default=list)
    run_date: Mapped[dt.date] = mapped_column(Date)
    ingested_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)


class InboxPath(Base):
    """Every path seen in the inbox with its size and mtime, so unchanged files are not hashed again."""

    __tablename__ = "inbox_paths"
    path: Mapped[str] = mapped_column(Text, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    first_seen_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)


class QuarantineRow(Base):
    """A row that was not loaded, with where it came from and why.

    status: ``waiting`` (a missing reference or a date after the cutoff; retried every run),
    ``rejected`` (bad data; fix the source and send it again), ``resolved`` (loaded later, or the
    same record fixed and loaded from a later file), ``dismissed`` (an operator decided it will
    never be fixed: ``keqing quarantine dismiss``, with who and why). Waiting and rejected rows are
    the open list. A row's file still counts it as quarantined whatever its status.
    ``raw`` holds the row's original text by canonical column; it may contain personal data and
    stays in the database. ``record_key`` is the feed's key of the row as parsed (``|``-joined),
    when it could be parsed.
    """

    __tablename__ = "quarantine"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("ingest_files.id"))
    feed: Mapped[str] = mapped_column(String(20))
    line: Mapped[int] = mapped_column(Integer)
    column_name: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[list[list[str]]] = mapped_column(JSON, default=list)
    raw: Mapped[dict[str, str | None]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20))
    first_seen_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)
    first_seen_run_date: Mapped[dt.date] = mapped_column(Date)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    resolved_run_date: Mapped[dt.date | None] = mapped_column(Date)
    record_key: Mapped[str | None] = mapped_column(Text)
    dismissed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    dismissed_by: Mapped[str | None] = mapped_column(String(64))
    dismissed_why: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("file_id", "line", name="uq_quarantine_file_line"),
        Index("ix_quarantine_status_feed", "status", "feed"),
    )


class Run(Base):
    """One nightly run (or rerun) for a run_date, with its summary; or one region's email run of a
    fan-out (``flows/regional.py``), whose summary names the region."""

    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_date: Mapped[dt.date] = mapped_column(Date, index=True)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # running | succeeded | failed | crashed (its process died: its lock was free while it said running)
    status: Mapped[str] = mapped_column(String(20))
    prefect_flow_run_id: Mapped[str | None] = mapped_column(String(64))
    summary: Mapped[dict] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str | None] = mapped_column(String(255))  # where the run's process ran, and its pid
    pid: Mapped[int | None] = mapped_column(Integer)
    lock_name: Mapped[str | None] = mapped_column(String(255))  # the lock (edges/locks.py) it held while running
    # The run_date of the ops email that named this crashed run (it names it once; a rerun of that date again).
    crash_reported_on: Mapped[dt.date | None] = mapped_column(Date)
