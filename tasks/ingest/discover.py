"""Discovery: the inbox files not ingested yet, each registered (``pending``) under the SHA-256 of its bytes."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from edges.db import get_engine
from keqing.feeds import LOAD_ORDER, feed_for_filename
from keqing.settings import Settings
from models import InboxPath, IngestFile
from tasks import IO_RETRIES, NotRetried, keqing_task, run_logger

HASH_CHUNK = 1 << 20


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


class InboxUnavailable(NotRetried):
    """The inbox folder is missing or cannot be read: the run fails (exit 1) rather than publish an empty night."""


def _inbox_entries(inbox: Path) -> list[tuple[str, Path]]:
    """Every file under the inbox (hidden files and Office lock files left out).

    A missing or unreadable inbox is an error, never an empty night (contract section 2).
    """
    if not inbox.is_dir():
        what = "is not a folder" if inbox.exists() else "does not exist"
        raise InboxUnavailable(f"the inbox {inbox} {what}; check KEQING_INBOX (no file was read, no email sent)")
    try:
        with os.scandir(inbox):  # rglob skips a folder it may not read; the inbox itself must be readable
            pass
        return sorted(
            (p.relative_to(inbox).as_posix(), p)
            for p in inbox.rglob("*")
            if p.is_file() and not p.name.startswith((".", "~$"))
        )
    except OSError as exc:
        raise InboxUnavailable(f"the inbox {inbox} cannot be read: {exc.strerror or exc}; check KEQING_INBOX") from None


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
