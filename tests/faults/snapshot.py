"""What must equal an undisturbed run: every keqing table's rows, the outbox folder, the emails received.

A ``Snapshot`` holds, per table, the sorted rows without the columns that record *how* a run got
there rather than *what* it produced, and per ``.eml`` file (any file under the outbox folder,
hidden ones included) a digest of the message without what changes at every rendering.

Left out, and why (each would differ between an undisturbed run and a run that was broken and rerun,
without anything being wrong):

- tables ``runs`` (one row per attempt: a killed attempt stays ``running``, a failed one ``failed``)
  and ``loyalty_accruals`` (one row per accrual, i.e. per attempt that reached the loyalty stage,
  with that attempt's watermarks); the ledger itself, ``points_ledger``, is compared;
- surrogate keys drawn from a sequence: ``ingest_files.id``, ``quarantine.id``,
  ``expiry_targets.id``, ``callback_list.id``, ``callback_load.id``, ``points_ledger.entry_id``,
  ``outbox.id``. A rolled-back transaction still uses up PostgreSQL sequence values, and a rerun
  replaces a date's rows with new ids; the rows are compared by everything else. References to an
  ingest file (``source_file_id`` in every feed table and the ledger, ``quarantine.file_id``) are
  replaced by the file's SHA-256, which is what identifies a file;
- wall-clock timestamps: ``ingest_files.ingested_at``, ``inbox_paths.first_seen_at``,
  ``quarantine.first_seen_at`` and ``resolved_at``, ``points_ledger.posted_at``,
  ``quarter_closes.closed_at``, ``outbox.rendered_at``, ``updated_at`` and ``sent_at``;
- outbox delivery bookkeeping: ``attempts`` (a row sent by a rerun after a refused connection took
  more attempts), ``last_error`` (the text of the fault), ``message_id`` and ``size`` (a new random
  Message-ID at each rendering), and ``message``, replaced by its digest (below);
- in a message: the ``Date`` and ``Message-ID`` headers, the MIME boundaries (made from the
  Message-ID) and Content-IDs (random), which change at every rendering. Everything else (every
  other header, each part's type, name and decoded bytes) is in the digest;
- the ops email's content (its subject and digest): it reports the attempt that sent it (files new
  in that attempt, emails interrupted, ...), so after a fault it rightly says something else. Its
  row, status and recipient are compared like any other.
"""

from __future__ import annotations

import datetime as dt
import email
import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from email import policy
from pathlib import Path

import sqlalchemy as sa

from edges.db import make_engine
from models import Base

EXCLUDED_TABLES = frozenset({"runs", "loyalty_accruals"})
EXCLUDED_COLUMNS: dict[str, frozenset[str]] = {
    "ingest_files": frozenset({"id", "ingested_at"}),
    "inbox_paths": frozenset({"first_seen_at"}),
    "quarantine": frozenset({"id", "first_seen_at", "resolved_at"}),
    "expiry_targets": frozenset({"id"}),
    "callback_list": frozenset({"id"}),
    "callback_load": frozenset({"id"}),
    "points_ledger": frozenset({"entry_id", "posted_at"}),
    "quarter_closes": frozenset({"closed_at"}),
    "outbox": frozenset({"id", "message_id", "size", "attempts", "last_error", "rendered_at", "updated_at", "sent_at"}),
}
FILE_ID_COLUMNS = frozenset({"source_file_id", "file_id"})
VARYING_HEADERS = frozenset({"date", "message-id"})
OPS = "ops"


def message_digest(raw: bytes) -> str:
    """SHA-256 of a MIME message without its Date, Message-ID, boundaries and Content-IDs."""
    msg = email.message_from_bytes(raw, policy=policy.default)
    cids = [p["Content-ID"].strip("<>") for p in msg.walk() if p["Content-ID"]]
    h = hashlib.sha256()
    for number, part in enumerate(msg.walk()):
        for name, value in part.items():
            if name.lower() in VARYING_HEADERS or name.lower() == "content-id":
                continue
            value = re.sub(r';\s*boundary="[^"]*"', "", str(value))
            h.update(f"{number}:{name}:{value}\n".encode())
        if not part.is_multipart():
            data = part.get_payload(decode=True) or b""
            for i, cid in enumerate(cids):
                data = data.replace(cid.encode(), f"cid-{i}".encode())
            h.update(data)
    return h.hexdigest()


def _plain(value: object) -> object:
    """A value that sorts and compares the same way whatever the backend returned."""
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    if isinstance(value, bytes | memoryview):
        return hashlib.sha256(bytes(value)).hexdigest()
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


@dataclass
class Snapshot:
    tables: dict[str, list[tuple]] = field(default_factory=dict)
    columns: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # outbox folder: relative path -> digest

    def rows(self, table: str) -> list[dict]:
        return [dict(zip(self.columns[table], row, strict=True)) for row in self.tables[table]]

    def outbox_counts(self) -> Counter[tuple[str, str, str]]:
        """(recipient, kind, status) -> rows."""
        return Counter((r["recipient"], r["kind"], r["status"]) for r in self.rows("outbox"))


def _outbox_row(row: dict) -> dict:
    digest = message_digest(bytes(row["message"]))
    if row["kind"] == OPS:
        return row | {"message": OPS, "subject": OPS}
    return row | {"message": digest}


def database_snapshot(database_url: str) -> Snapshot:
    engine = make_engine(database_url, poolclass=sa.pool.NullPool)
    snap = Snapshot()
    try:
        with engine.connect() as conn:
            names = sorted(sa.inspect(conn).get_table_names())
            reflected = sa.MetaData()
            reflected.reflect(conn, only=[n for n in names if n not in Base.metadata.tables])
            sha_of = dict(conn.execute(sa.text("SELECT id, sha256 FROM ingest_files")).tuples().all())
            for name in names:
                if name in EXCLUDED_TABLES:
                    continue
                table = Base.metadata.tables[name] if name in Base.metadata.tables else reflected.tables[name]
                keep = [c for c in table.columns if c.name not in EXCLUDED_COLUMNS.get(name, frozenset())]
                rows = []
                for row in conn.execute(sa.select(*keep)).mappings():
                    record = dict(row)
                    for column in FILE_ID_COLUMNS & record.keys():
                        record[column] = sha_of.get(record[column], record[column])
                    if name == "outbox":
                        record = _outbox_row(record)
                    rows.append(tuple(_plain(v) for v in record.values()))
                snap.columns[name] = [c.name for c in keep]
                snap.tables[name] = sorted(rows, key=repr)
    finally:
        engine.dispose()
    return snap


def outbox_folder_snapshot(folder: Path) -> dict[str, str]:
    """Every file under the outbox folder: relative path -> message digest (``ops`` for ops emails)."""
    if not folder.exists():
        return {}
    files = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        files[rel] = OPS if path.name.startswith(f"{OPS}-") else message_digest(path.read_bytes())
    return files


def snapshot(database_url: str, outbox: Path) -> Snapshot:
    snap = database_snapshot(database_url)
    snap.files = outbox_folder_snapshot(outbox)
    return snap


def differences(actual: Snapshot, expected: Snapshot, limit: int = 5) -> list[str]:
    """What differs, table by table (empty when the snapshots are equal)."""
    out = []
    for name in sorted(set(actual.tables) | set(expected.tables)):
        a, e = Counter(actual.tables.get(name, [])), Counter(expected.tables.get(name, []))
        extra, missing = list((a - e).elements()), list((e - a).elements())
        if extra or missing:
            cols = actual.columns.get(name) or expected.columns.get(name)
            out.append(f"{name} ({cols}): {len(extra)} row(s) not expected, {len(missing)} missing")
            out += [f"  + {r}" for r in extra[:limit]] + [f"  - {r}" for r in missing[:limit]]
    for rel in sorted(set(actual.files) | set(expected.files)):
        if actual.files.get(rel) != expected.files.get(rel):
            out.append(f"outbox file {rel}: {actual.files.get(rel)} != expected {expected.files.get(rel)}")
    return out


def expected_outbox(reference: Snapshot, *, transport: str, statuses: dict[tuple[str, str], str]) -> Snapshot:
    """The reference night as it would be with emails sent over ``transport`` (no files in the outbox
    folder for SMTP) and the rows of ``statuses`` ({(kind, staff_id): status}) in another status."""
    columns = reference.columns["outbox"]
    kind, staff, status, via = (columns.index(c) for c in ("kind", "staff_id", "status", "transport"))
    rows = []
    for row in reference.tables["outbox"]:
        values = list(row)
        values[via] = transport
        values[status] = statuses.get((row[kind], row[staff]), row[status])
        rows.append(tuple(values))
    files = reference.files if transport == "file" else {}
    return Snapshot(reference.tables | {"outbox": sorted(rows, key=repr)}, reference.columns, files)


def received(messages: list) -> Counter[tuple[str, str]]:
    """(recipient, kind) -> copies, of the messages an SMTP sink accepted."""
    out: Counter[tuple[str, str]] = Counter()
    for m in messages:
        kind = email.message_from_bytes(m.data, policy=policy.default)["X-Keqing-Kind"]
        out.update((rcpt, str(kind)) for rcpt in m.rcpt_tos)
    return out
