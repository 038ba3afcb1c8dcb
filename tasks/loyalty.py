"""Loyalty stage: accrue orders into the points ledger, close ended quarters with rewards, list overdue reorders.

Three tasks, each one transaction. The ledger's uniqueness on ``(order_id, seq)`` is what makes a
rerun, a retried task or a replayed file harmless: entries are computed from what the ledger holds
and inserted with ``ON CONFLICT DO NOTHING``. On PostgreSQL a transaction-scoped advisory lock keeps
two accruals (or closes) from interleaving; SQLite serialises writers by itself.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import asdict, dataclass, field

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from edges.db import frame_schema, get_engine, insert_frame, insert_ignore, is_postgres, read_frame
from keqing.clock import cutoff_for, utc_now
from keqing.loyalty.close import open_quarter, quarter_rewards, quarters_to_close
from keqing.loyalty.ledger import ORDER_SCHEMA, POSTED_SCHEMA, PRIOR_SCHEMA, accrue
from keqing.loyalty.quarters import first_day, last_day, parse_quarter, quarter_label
from keqing.loyalty.reorder import reorder_reminders
from keqing.rules import Rules
from keqing.settings import Settings
from models import (
    FEED_MODELS,
    IngestFile,
    LoyaltyAccrual,
    PointsLedgerEntry,
    QuarantineRow,
    QuarterClose,
    QuarterReward,
    ReorderReminder,
)
from tasks import IO_RETRIES, keqing_task, run_logger

LOYALTY_LOCK = 74657105  # pg_advisory_xact_lock key of the loyalty stage

ORDERS = FEED_MODELS["orders"].__table__
CUSTOMERS = FEED_MODELS["customers"].__table__
LEDGER = PointsLedgerEntry.__table__
ACCRUALS = LoyaltyAccrual.__table__
CLOSES = QuarterClose.__table__
REWARDS = QuarterReward.__table__
REMINDERS = ReorderReminder.__table__
FILES = IngestFile.__table__
QUARANTINE = QuarantineRow.__table__


def _reader(engine: Engine, conn: Connection, *, large: bool) -> Engine | Connection:
    """Where a read goes: large reads on PostgreSQL through ADBC (about 0.1 s to connect, then fast);
    everything else through the transaction's own connection. Never ADBC on SQLite: it brings a
    second SQLite library into the process, and its reads of a WAL database this process also
    writes through pysqlite can be stale."""
    return engine if large and is_postgres(engine) else conn


def _lock(conn: Connection) -> None:
    if is_postgres(conn):
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({LOYALTY_LOCK})")


def _scalar(conn: Connection, query: sa.Select) -> object:
    return conn.execute(query).scalar()


def _quarter_or_none(label: object) -> int | None:
    return parse_quarter(str(label)) if label is not None else None


def last_closed_quarter(conn: Connection) -> int | None:
    return _quarter_or_none(_scalar(conn, sa.select(sa.func.max(CLOSES.c.quarter))))


def first_booked_quarter(conn: Connection) -> int | None:
    return _quarter_or_none(_scalar(conn, sa.select(sa.func.min(LEDGER.c.quarter))))


# --- accrual ---------------------------------------------------------------------------------


@dataclass
class AccrualResult:
    mode: str  # full | incremental
    orders_examined: int = 0
    entries: int = 0  # inserted now
    points: int = 0  # net points of those entries
    late_entries: int = 0  # dated in a closed quarter, counted in the open one
    late_by_quarter: dict[str, int] = field(default_factory=dict)  # by the quarter of the order's date
    returns_unmatched: int = 0  # reverse entries with no earlier order to point at

    def summary(self) -> dict:
        return asdict(self)


def _next_watermarks(conn: Connection) -> tuple[int, int]:
    """The lowest ingest file id and quarantine id whose rows may still reach the orders table: the first
    orders file still pending and the first orders row still waiting, else the next ids."""
    pending = _scalar(
        conn, sa.select(sa.func.min(FILES.c.id)).where(FILES.c.feed == "orders", FILES.c.status == "pending")
    )
    newest = _scalar(conn, sa.select(sa.func.max(FILES.c.id))) or 0
    waiting = _scalar(
        conn,
        sa.select(sa.func.min(QUARANTINE.c.id)).where(QUARANTINE.c.feed == "orders", QUARANTINE.c.status == "waiting"),
    )
    newest_q = _scalar(conn, sa.select(sa.func.max(QUARANTINE.c.id))) or 0
    return int(pending if pending is not None else newest + 1), int(waiting if waiting is not None else newest_q + 1)


def _columns(table: sa.Table, names: object) -> list[sa.ColumnElement]:
    """Columns to read into Polars; money as a float (ADBC hands PostgreSQL numerics over as opaque values)."""
    return [
        sa.cast(table.c[name], sa.Float).label(name) if isinstance(table.c[name].type, sa.Numeric) else table.c[name]
        for name in names
    ]


_ORDER_COLUMNS = _columns(ORDERS, ORDER_SCHEMA)


def candidate_orders(cutoff: dt.date, last: sa.Row | None) -> sa.Select:
    """Orders the accrual examines: all of them in full mode (``last`` None), else those that may have
    changed since the last accrual: from newer ingest files, released from quarantine since, or
    dated after its cutoff. Rows dated after ``cutoff`` are dropped by the pure function."""
    if last is None:
        return sa.select(*_ORDER_COLUMNS).where(ORDERS.c.order_date <= cutoff)
    from_files = sa.select(*_ORDER_COLUMNS).where(ORDERS.c.source_file_id >= last.next_file_id)
    newly_dated = sa.select(*_ORDER_COLUMNS).where(ORDERS.c.order_date > last.cutoff, ORDERS.c.order_date <= cutoff)
    released = (
        sa.select(*_ORDER_COLUMNS)
        .select_from(
            QUARANTINE.join(
                ORDERS,
                sa.and_(ORDERS.c.source_file_id == QUARANTINE.c.file_id, ORDERS.c.source_line == QUARANTINE.c.line),
            )
        )
        .where(
            QUARANTINE.c.feed == "orders",
            QUARANTINE.c.status == "resolved",
            QUARANTINE.c.id >= last.next_quarantine_id,
        )
    )
    union = sa.union(from_files, newly_dated, released).subquery("candidates")
    return sa.select(*(union.c[name] for name in ORDER_SCHEMA))


def _posted_for(candidates: sa.Select | None) -> sa.Select:
    query = sa.select(*_columns(LEDGER, POSTED_SCHEMA))
    if candidates is None:
        return query
    ids = candidates.subquery("c")
    return query.where(LEDGER.c.order_id.in_(sa.select(ids.c.order_id)))


def _prior_orders(bind: Engine | Connection, customers: list[str]) -> pl.DataFrame:
    query = sa.select(*(ORDERS.c[name] for name in PRIOR_SCHEMA)).where(
        ORDERS.c.kind == "order", ORDERS.c.customer_id.in_(customers)
    )
    return read_frame(bind, query, PRIOR_SCHEMA)


def accrual_inputs(
    bind: Engine | Connection, cutoff: dt.date, last: sa.Row | None, full: bool
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Candidate orders, their ledger entries, and the orders their new returns may take back."""
    source = candidate_orders(cutoff, None if full else last)
    orders = read_frame(bind, source, ORDER_SCHEMA)
    posted = read_frame(bind, _posted_for(None if full else source), POSTED_SCHEMA)
    new_returns = orders.filter(pl.col("kind") == "return").join(posted, on="order_id", how="anti")
    if full:
        prior = orders.filter(pl.col("kind") == "order").select(*PRIOR_SCHEMA)
    elif new_returns.height:
        prior = _prior_orders(bind, new_returns["customer_id"].unique().sort().to_list())
    else:
        prior = pl.DataFrame(schema=PRIOR_SCHEMA)
    return orders, posted, prior


@keqing_task(**IO_RETRIES)
def accrue_points(settings: Settings, rules: Rules, run_date: dt.date) -> AccrualResult:
    """Append the ledger entries of new, returned and corrected orders dated up to the cutoff."""
    cutoff = cutoff_for(run_date)
    engine = get_engine(settings.database_url)
    with engine.begin() as conn:
        _lock(conn)
        # Writing first takes SQLite's write lock, so the reads below see what this accrual builds on.
        accrual_id = conn.execute(
            sa.insert(ACCRUALS)
            .values(
                run_date=run_date,
                cutoff=cutoff,
                mode="running",
                next_file_id=0,
                next_quarantine_id=0,
                orders_examined=0,
                entries=0,
                points=0,
                late_entries=0,
            )
            .returning(ACCRUALS.c.id)
        ).scalar_one()
        last = conn.execute(
            sa.select(ACCRUALS).where(ACCRUALS.c.id < accrual_id).order_by(ACCRUALS.c.id.desc()).limit(1)
        ).first()
        last_closed = last_closed_quarter(conn)
        closing = quarters_to_close(last_closed, first_booked_quarter(conn), cutoff)
        full = last is None or (rules.loyalty.full_check_before_close and bool(closing))
        next_file_id, next_quarantine_id = _next_watermarks(conn)
        orders, posted, prior = accrual_inputs(_reader(engine, conn, large=full), cutoff, last, full)
        entries = accrue(
            orders,
            posted,
            prior,
            rules.loyalty,
            cutoff=cutoff,
            open_quarter=open_quarter(last_closed),
            run_date=run_date,
        )
        posted_at = utc_now()
        inserted = insert_frame(
            conn, LEDGER, entries.with_columns(pl.lit(posted_at).alias("posted_at")), ignore_conflicts=True
        )
        late = entries.filter(pl.col("quarter") != pl.col("dated_quarter"))
        result = AccrualResult(
            mode="full" if full else "incremental",
            orders_examined=orders.filter(pl.col("order_date") <= cutoff).height,
            entries=inserted,
            points=int(entries["points"].sum()),
            late_entries=late.height,
            late_by_quarter=dict(sorted(Counter(late["dated_quarter"].to_list()).items())),
            returns_unmatched=entries.filter(
                (pl.col("entry_kind") == "reverse") & pl.col("reverses_order_id").is_null()
            ).height,
        )
        conn.execute(
            sa.update(ACCRUALS)
            .where(ACCRUALS.c.id == accrual_id)
            .values(
                mode=result.mode,
                next_file_id=next_file_id,
                next_quarantine_id=next_quarantine_id,
                orders_examined=result.orders_examined,
                entries=result.entries,
                points=result.points,
                late_entries=result.late_entries,
            )
        )
    run_logger().info(
        "loyalty: %s accrual examined %d order(s), posted %d entr(ies), net %d point(s), %d late",
        result.mode,
        result.orders_examined,
        result.entries,
        result.points,
        result.late_entries,
    )
    return result


# --- quarter close ---------------------------------------------------------------------------


@keqing_task(**IO_RETRIES)
def close_quarters(settings: Settings, rules: Rules, run_date: dt.date) -> list[dict]:
    """Close every quarter ended by the cutoff and not closed yet, each exactly once, with its rewards."""
    cutoff = cutoff_for(run_date)
    closed: list[dict] = []
    with get_engine(settings.database_url).begin() as conn:
        _lock(conn)
        quarters = quarters_to_close(last_closed_quarter(conn), first_booked_quarter(conn), cutoff)
        if not quarters:
            return closed
        labels = [quarter_label(q) for q in quarters]
        totals = read_frame(
            conn,
            sa.select(sa.text("quarter, customer_id, points"))
            .select_from(sa.table("points_balances"))
            .where(sa.column("quarter").in_(labels)),
            {"quarter": pl.String(), "customer_id": pl.String(), "points": pl.Int64()},
        )
        owners = read_frame(
            conn,
            sa.select(CUSTOMERS.c.customer_id, CUSTOMERS.c.owner_staff_id, CUSTOMERS.c.office_code),
            frame_schema(CUSTOMERS, ["customer_id", "owner_staff_id", "office_code"]),
        )
        rewards = quarter_rewards(totals, owners, rules.loyalty)
        for index, label in zip(quarters, labels, strict=True):
            quarter_totals = totals.filter(pl.col("quarter") == label)
            quarter_rewards_ = rewards.filter(pl.col("quarter") == label)
            stmt = insert_ignore(conn, CLOSES).values(
                quarter=label,
                quarter_start=first_day(index),
                quarter_end=last_day(index),
                run_date=run_date,
                terminals=quarter_totals.height,
                points=int(quarter_totals["points"].sum()),
                rewards=quarter_rewards_.height,
            )
            if conn.execute(stmt.returning(CLOSES.c.quarter)).first() is None:
                continue  # closed meanwhile by another run: its rewards are already there
            closed.append(
                {
                    "quarter": label,
                    "terminals": quarter_totals.height,
                    "points": int(quarter_totals["points"].sum()),
                    "rewards": dict(sorted(Counter(quarter_rewards_["tier"].to_list()).items())),
                }
            )
        # One set-based insert for every quarter closed now (the staging table lives per transaction).
        insert_frame(conn, REWARDS, rewards.filter(pl.col("quarter").is_in([c["quarter"] for c in closed])))
    for item in closed:
        run_logger().info("loyalty: closed %s with %d reward(s)", item["quarter"], sum(item["rewards"].values()))
    return closed


# --- reorder reminders -----------------------------------------------------------------------


@keqing_task(**IO_RETRIES)
def remind_reorders(settings: Settings, rules: Rules, run_date: dt.date) -> dict:
    """Replace run_date's reorder reminders: terminals past their usual reorder interval, per rep."""
    engine = get_engine(settings.database_url)
    with engine.begin() as conn:
        conn.execute(sa.delete(REMINDERS).where(REMINDERS.c.run_date == run_date))
        reminders = _reorder_list(_reader(engine, conn, large=True), conn, rules, run_date)
        insert_frame(conn, REMINDERS, reminders)
    summary = {
        "reminders": reminders.height,
        "reps": reminders["staff_id"].n_unique(),
        "max_days_overdue": int(reminders["days_overdue"].max()) if reminders.height else 0,
    }
    run_logger().info("loyalty: %d reorder reminder(s) for %d rep(s)", summary["reminders"], summary["reps"])
    return summary


def _reorder_list(bind: Engine | Connection, conn: Connection, rules: Rules, run_date: dt.date) -> pl.DataFrame:
    # Not DISTINCT: several orders of a terminal on one day are rare, and usual_intervals drops them.
    # DISTINCT made PostgreSQL walk the (kind, customer_id, order_date) index in order: 1.8 M order days
    # of two years at `large` in 1.8 s (6.0 s before the table's first VACUUM), against 0.8 s (1.0 s).
    order_days = read_frame(
        bind,
        sa.select(ORDERS.c.customer_id, ORDERS.c.order_date, ORDERS.c.kind).where(
            ORDERS.c.kind == "order", ORDERS.c.order_date <= cutoff_for(run_date)
        ),
        frame_schema(ORDERS, ["customer_id", "order_date", "kind"]),
    )
    owners = read_frame(
        conn,
        sa.select(CUSTOMERS.c.customer_id, CUSTOMERS.c.owner_staff_id),
        frame_schema(CUSTOMERS, ["customer_id", "owner_staff_id"]),
    )
    return reorder_reminders(order_days, owners, rules.loyalty, run_date)
