"""Test double of the ingest stage for the loyalty tests: registers files and loads orders the way ingest does.

Each ``load`` is one new ingest file (status ``done``) whose rows are upserted into ``orders`` with
that file's id and their line numbers, newer lineage winning, as ``tasks.ingest.load_feed`` does.
``hold`` quarantines rows as waiting and ``release`` loads them later with their original lineage.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from edges.db import is_postgres, read_frame, upsert_frame
from models import FEED_MODELS, IngestFile, QuarantineRow

ORDERS = FEED_MODELS["orders"].__table__
CUSTOMERS = FEED_MODELS["customers"].__table__
FILES = IngestFile.__table__
QUARANTINE = QuarantineRow.__table__

# (order_id, customer_id, amount in yuan, order_date, kind)
Row = tuple[str, str, float, dt.date, str]

ORDER_FRAME = {
    "order_id": pl.String,
    "customer_id": pl.String,
    "product_code": pl.String,
    "quantity": pl.Int64,
    "amount": pl.Float64,
    "order_date": pl.Date,
    "kind": pl.String,
    "source_file_id": pl.Int64,
    "source_line": pl.Int64,
}


@dataclass
class Book:
    engine: Engine
    held: list[tuple[int, int, int, Row]] = field(default_factory=list)  # quarantine id, file, line, row

    def terminals(self, owners: dict[str, str], office: str = "OF001") -> None:
        df = pl.DataFrame(
            {
                "customer_id": list(owners),
                "name": [f"{c} 联系人" for c in owners],
                "kind": ["terminal"] * len(owners),
                "institution": [f"{c} 卫生室" for c in owners],
                "terminal_type": ["village_clinic"] * len(owners),
                "is_kol": [False] * len(owners),
                "owner_staff_id": list(owners.values()),
                "office_code": [office] * len(owners),
                "source_file_id": [0] * len(owners),
                "source_line": list(range(2, len(owners) + 2)),
            }
        )
        with self.engine.begin() as conn:
            upsert_frame(conn, CUSTOMERS, df, ["customer_id"])

    def _file(self, conn: sa.Connection, status: str = "done") -> int:
        return conn.execute(
            sa.insert(FILES)
            .values(
                sha256=uuid.uuid4().hex,
                path=f"orders_{uuid.uuid4().hex[:6]}.csv",
                size=1,
                feed="orders",
                status=status,
                messages=[],
                run_date=dt.date(2026, 1, 1),
            )
            .returning(FILES.c.id)
        ).scalar_one()

    @staticmethod
    def _frame(rows: list[tuple[Row, int, int]]) -> pl.DataFrame:
        return pl.DataFrame(
            [
                (oid, cust, "P1", 1, amount, day, kind, file_id, line)
                for (oid, cust, amount, day, kind), file_id, line in rows
            ],
            schema=ORDER_FRAME,
            orient="row",
        )

    def _upsert(self, conn: sa.Connection, rows: list[tuple[Row, int, int]]) -> None:
        # Like the ingest: the latest row per order id within the batch, and newer lineage wins.
        df = self._frame(rows).unique("order_id", keep="last", maintain_order=True)
        upsert_frame(conn, ORDERS, df, ["order_id"], newer_by=("source_file_id", "source_line"))

    def load(self, *rows: Row) -> int:
        """A new orders file with these rows, loaded."""
        with self.engine.begin() as conn:
            file_id = self._file(conn)
            self._upsert(conn, [(row, file_id, line) for line, row in enumerate(rows, start=2)])
        return file_id

    def hold(self, *rows: Row) -> int:
        """A new orders file whose rows all wait in quarantine (e.g. for a customer not known yet)."""
        with self.engine.begin() as conn:
            file_id = self._file(conn)
            for line, row in enumerate(rows, start=2):
                qid = conn.execute(
                    sa.insert(QUARANTINE)
                    .values(
                        file_id=file_id,
                        feed="orders",
                        line=line,
                        reason="unknown_customer",
                        message="waiting",
                        details=[],
                        raw={"order_id": row[0]},
                        status="waiting",
                        first_seen_run_date=dt.date(2026, 1, 1),
                    )
                    .returning(QUARANTINE.c.id)
                ).scalar_one()
                self.held.append((qid, file_id, line, row))
        return file_id

    def release(self) -> int:
        """Load every waiting row with its original file and line, and mark it resolved."""
        held, self.held = self.held, []
        if not held:
            return 0
        with self.engine.begin() as conn:
            self._upsert(conn, [(row, file_id, line) for _, file_id, line, row in held])
            conn.execute(
                sa.update(QUARANTINE).where(QUARANTINE.c.id.in_([q for q, *_ in held])).values(status="resolved")
            )
        return len(held)

    def pending_file(self) -> int:
        """A file discovered but not loaded yet (a failed load keeps it ``pending``)."""
        with self.engine.begin() as conn:
            return self._file(conn, status="pending")

    def load_pending(self, file_id: int, *rows: Row) -> None:
        with self.engine.begin() as conn:
            self._upsert(conn, [(row, file_id, line) for line, row in enumerate(rows, start=2)])
            conn.execute(sa.update(FILES).where(FILES.c.id == file_id).values(status="done"))


def ledger(engine: Engine) -> pl.DataFrame:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT order_id, seq, entry_kind, customer_id, points, dated_quarter, quarter, reverses_order_id "
                "FROM points_ledger ORDER BY order_id, seq"
            )
        ).all()
    return pl.DataFrame(
        [tuple(r) for r in rows],
        schema={
            "order_id": pl.String,
            "seq": pl.Int64,
            "entry_kind": pl.String,
            "customer_id": pl.String,
            "points": pl.Int64,
            "dated_quarter": pl.String,
            "quarter": pl.String,
            "reverses_order_id": pl.String,
        },
        orient="row",
    )


def rows_of(engine: Engine, sql: str) -> list[tuple]:
    """Rows of a raw query, dates as ISO text (SQLite returns them as text from raw SQL)."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text(sql)).all()
    return [tuple(v.isoformat() if isinstance(v, dt.date) else v for v in r) for r in rows]


def read_balances(bind: Engine | Connection, quarter: str | None = None) -> pl.DataFrame:
    """Points by quarter and terminal, summed from the ledger by the view ``points_balances``."""
    query = sa.select(sa.text("quarter, customer_id, points, entries")).select_from(sa.table("points_balances"))
    if quarter is not None:
        query = query.where(sa.column("quarter") == quarter)
    schema = {"quarter": pl.String(), "customer_id": pl.String(), "points": pl.Int64(), "entries": pl.Int64()}
    query = query.order_by(sa.text("quarter, customer_id"))
    if isinstance(bind, Engine) and not is_postgres(bind):
        with bind.connect() as conn:  # not ADBC on SQLite: see edges.db.reading
            return read_frame(conn, query, schema)
    return read_frame(bind, query, schema)
