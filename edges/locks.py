"""Locks that die with their holder: one nightly run per run_date, one ingest at a time.

PostgreSQL: a session advisory lock on a dedicated connection (released when the session ends,
also when the process is killed). SQLite: ``flock`` on a file beside the database (released by the
kernel when the process dies). Nothing to clean up after a crash.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import re
import time
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

# One ingest at a time across run dates; the supply stage takes it too while it brings the kept
# coverage up to date (tasks.supply.sync_coverage), so no purchase is loaded in between.
INGEST_LOCK = "ingest"
INGEST_LOCK_WAIT_SECONDS = 30 * 60  # a run for another date waits this long for it


class LockBusy(RuntimeError):
    """Someone else holds the lock."""


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_lock`` (same name, same key, every process)."""
    return int.from_bytes(hashlib.blake2b(f"keqing:{name}".encode(), digest_size=8).digest(), "big", signed=True)


@contextlib.contextmanager
def held(database_url: str, name: str, *, wait_seconds: float = 0) -> Iterator[None]:
    """Hold the lock ``name`` for the block; wait up to ``wait_seconds`` for it, else raise ``LockBusy``."""
    url = sa.make_url(database_url)
    if url.get_backend_name() == "sqlite":
        with _file_lock(url.database, name, wait_seconds):
            yield
    else:
        with _advisory_lock(database_url, name, wait_seconds):
            yield


@contextlib.contextmanager
def _advisory_lock(database_url: str, name: str, wait_seconds: float) -> Iterator[None]:
    from edges.db import make_engine

    engine = make_engine(database_url, poolclass=sa.pool.NullPool)
    key = lock_key(name)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            deadline = time.monotonic() + wait_seconds
            while not conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar_one():
                if time.monotonic() >= deadline:
                    raise LockBusy(name)
                time.sleep(0.5)
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
    finally:
        engine.dispose()


@contextlib.contextmanager
def _file_lock(database: str | None, name: str, wait_seconds: float) -> Iterator[None]:
    if not database or database == ":memory:":
        yield  # a private in-memory database has no other users
        return
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
    path = Path(f"{database}.{slug}.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as fh:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockBusy(name) from None
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
