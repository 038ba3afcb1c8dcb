"""The quarantine table for people: read rows (and their raw cells) for the ops attachment and the
``keqing quarantine`` commands, and dismiss rows. One statement each; the frames go to the pure
functions of ``keqing/quarantine.py``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from keqing.clock import utc_now
from keqing.quarantine import CELL_SCHEMA, ROW_SCHEMA
from models import IngestFile, QuarantineRow

OPEN_STATUSES = ("waiting", "rejected")
Q = QuarantineRow.__table__
F = IngestFile.__table__


def open_rows_filter(
    feed: str | None = None, reason: str | None = None, since: dt.date | None = None
) -> list[sa.ColumnElement[bool]]:
    """The open list (waiting or rejected, neither resolved nor dismissed), optionally narrowed."""
    where = [Q.c.status.in_(OPEN_STATUSES)]
    if feed is not None:
        where.append(Q.c.feed == feed)
    if reason is not None:
        where.append(Q.c.reason == reason)
    if since is not None:
        where.append(Q.c.first_seen_run_date >= since)
    return where


def read_quarantine(
    engine: Engine, where: Sequence[sa.ColumnElement[bool]], limit: int | None = None
) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """(rows, cells, total): the quarantined rows matching ``where`` in file and line order (at most
    ``limit``), their raw cells one per row (personal data: never log them), and how many matched."""
    query = (
        sa.select(
            Q.c.id,
            Q.c.feed,
            F.c.path.label("file"),
            Q.c.line,
            Q.c.column_name.label("column"),
            Q.c.reason,
            Q.c.status,
            Q.c.first_seen_run_date,
            Q.c.raw,
        )
        .join(F, F.c.id == Q.c.file_id)
        .where(*where)
        .order_by(F.c.path, Q.c.line, Q.c.id)
    )
    with engine.connect() as conn:
        count = sa.select(sa.func.count()).select_from(Q.join(F, F.c.id == Q.c.file_id)).where(*where)
        total = conn.execute(count).scalar_one()
        found = conn.execute(query.limit(limit) if limit is not None else query).all()
    schema = ROW_SCHEMA | {"first_seen_run_date": pl.Date}
    rows = pl.DataFrame([r[:-1] for r in found], schema=schema, orient="row")
    cells = pl.DataFrame(
        [(r.id, i, key, value) for r in found for i, (key, value) in enumerate((r.raw or {}).items())],
        schema=CELL_SCHEMA,
        orient="row",
    )
    return rows, cells, total


def dismiss(engine: Engine, ids: Sequence[int], by: str, why: str) -> tuple[list[int], list[int]]:
    """Dismiss open rows (they leave the open list; their files still count them as quarantined).

    Returns (dismissed ids, ids that are not open: unknown, resolved or dismissed already).
    """
    with engine.begin() as conn:
        dismissed = (
            conn.execute(
                sa.update(Q)
                .where(Q.c.id.in_(list(ids)), Q.c.status.in_(OPEN_STATUSES))
                .values(status="dismissed", dismissed_at=utc_now(), dismissed_by=by, dismissed_why=why)
                .returning(Q.c.id)
            )
            .scalars()
            .all()
        )
    return sorted(dismissed), sorted(set(ids) - set(dismissed))
