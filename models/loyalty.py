"""Loyalty points (积分): the append-only points ledger, its accrual log, quarter closes, rewards, reorder reminders.

No personal data: every table holds ids (terminal customers, staff, orders), dates and points.
Units: points are whole points (signed), money in yuan, intervals in days. Quarters are labelled
``YYYYQn`` (``2026Q4``), which sorts in time order.

Balances are never stored: the view ``points_balances`` (see the migration) sums the ledger by
terminal and quarter.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from keqing.clock import utc_now
from models.base import Base, Money
from models.feeds import Id, Order

Quarter = String(6)  # YYYYQn


class PointsLedgerEntry(Base):
    """One posting of points for one source order (or return) row.

    ``(order_id, seq)`` is unique: ``seq`` 0 is the order's one ``earn`` (or the return's one
    ``reverse``) entry; a later correction of the order appends ``adjust`` entries numbered 1, 2, ...
    with the difference. ``customer_id``, ``order_kind`` and ``order_amount`` record the state of the
    order the entry brings the ledger to. The database refuses UPDATE and DELETE (triggers).
    """

    __tablename__ = "points_ledger"
    entry_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(Id)
    seq: Mapped[int] = mapped_column(Integer)
    entry_kind: Mapped[str] = mapped_column(String(10))  # earn | reverse | adjust
    customer_id: Mapped[str] = mapped_column(Id)
    product_code: Mapped[str] = mapped_column(Id)
    order_date: Mapped[dt.date] = mapped_column(Date)
    order_kind: Mapped[str] = mapped_column(String(10))  # order | return
    order_amount: Mapped[float] = mapped_column(Money)  # yuan
    points: Mapped[int] = mapped_column(Integer)  # signed
    dated_quarter: Mapped[str] = mapped_column(Quarter)  # the quarter of order_date
    quarter: Mapped[str] = mapped_column(Quarter)  # the quarter the points count in (later when dated_quarter closed)
    reverses_order_id: Mapped[str | None] = mapped_column(Id)  # reverse entries: the order the return takes back
    run_date: Mapped[dt.date] = mapped_column(Date)  # the run that posted the entry
    source_file_id: Mapped[int] = mapped_column(Integer)  # the order version posted (orders lineage)
    source_line: Mapped[int] = mapped_column(Integer)
    posted_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)

    __table_args__ = (
        UniqueConstraint("order_id", "seq", name="uq_points_ledger_order_seq"),
        CheckConstraint(
            "(seq = 0 AND entry_kind IN ('earn', 'reverse')) OR (seq > 0 AND entry_kind = 'adjust')",
            name="entry_kind_seq",
        ),
        CheckConstraint("reverses_order_id IS NULL OR entry_kind = 'reverse'", name="reverses_only_reversals"),
        # Covers the balances view and the quarter close (sum of points by quarter and terminal).
        Index("ix_points_ledger_quarter_customer_points", "quarter", "customer_id", "points"),
    )


class LoyaltyAccrual(Base):
    """One accrual of the ledger (one per run, retries and reruns included), with the watermarks of the next.

    The next accrual examines only orders that may have changed since: rows from ingest files with
    id >= ``next_file_id``, rows released from quarantine entries with id >= ``next_quarantine_id``,
    and rows dated after ``cutoff``. ``mode`` is ``full`` when every order was examined.
    """

    __tablename__ = "loyalty_accruals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_date: Mapped[dt.date] = mapped_column(Date)
    cutoff: Mapped[dt.date] = mapped_column(Date)
    mode: Mapped[str] = mapped_column(String(12))  # full | incremental
    next_file_id: Mapped[int] = mapped_column(Integer)
    next_quarantine_id: Mapped[int] = mapped_column(Integer)
    orders_examined: Mapped[int] = mapped_column(Integer)
    entries: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(Integer)  # net points posted
    late_entries: Mapped[int] = mapped_column(Integer)
    accrued_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)


class QuarterClose(Base):
    """A closed quarter: written once, by the first run whose cutoff is on or after the quarter's last day."""

    __tablename__ = "quarter_closes"
    quarter: Mapped[str] = mapped_column(Quarter, primary_key=True)
    quarter_start: Mapped[dt.date] = mapped_column(Date)
    quarter_end: Mapped[dt.date] = mapped_column(Date)
    run_date: Mapped[dt.date] = mapped_column(Date, index=True)
    terminals: Mapped[int] = mapped_column(Integer)  # terminals with ledger entries in the quarter
    points: Mapped[int] = mapped_column(Integer)  # net points of the quarter
    rewards: Mapped[int] = mapped_column(Integer)
    closed_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)


class QuarterReward(Base):
    """A terminal's reward for a closed quarter, for its owning rep to deliver (a reason to visit)."""

    __tablename__ = "quarter_rewards"
    quarter: Mapped[str] = mapped_column(ForeignKey("quarter_closes.quarter"), primary_key=True)
    customer_id: Mapped[str] = mapped_column(Id, primary_key=True)
    owner_staff_id: Mapped[str] = mapped_column(Id, index=True)  # the owner at the close
    office_code: Mapped[str] = mapped_column(Id)
    points: Mapped[int] = mapped_column(Integer)  # the quarter's total
    tier: Mapped[str] = mapped_column(String(20))  # bronze | silver | gold (rules.loyalty.tiers)


class ReorderReminder(Base):
    """A terminal whose usual reorder interval has passed without a new order, on its rep's list for run_date."""

    __tablename__ = "reorder_reminders"
    run_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    customer_id: Mapped[str] = mapped_column(Id, primary_key=True)
    staff_id: Mapped[str] = mapped_column(Id)  # the owning rep
    usual_interval_days: Mapped[int] = mapped_column(Integer)
    orders_counted: Mapped[int] = mapped_column(Integer)  # order days the interval comes from
    last_order_date: Mapped[dt.date] = mapped_column(Date)
    due_date: Mapped[dt.date] = mapped_column(Date)
    days_overdue: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_reorder_reminders_run_date_staff", "run_date", "staff_id"),)


# Incremental accrual finds the night's changed orders by lineage and by date (migration 0004).
ORDERS_SOURCE_INDEX = Index(
    "ix_orders_source_file_line", Order.__table__.c.source_file_id, Order.__table__.c.source_line
)
ORDERS_DATE_INDEX = Index("ix_orders_order_date", Order.__table__.c.order_date)
# Reorder reminders read each terminal's order days from this index alone (no table lookups).
ORDERS_KIND_CUSTOMER_DATE_INDEX = Index(
    "ix_orders_kind_customer_date",
    Order.__table__.c.kind,
    Order.__table__.c.customer_id,
    Order.__table__.c.order_date,
)
