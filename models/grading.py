"""Grading stage: grade history, grade movements, attainment, visit targets and orphaned customers.

These tables hold ids and codes, no personal data: names are joined from ``customers``/``staff``
when the email stage renders them. Institution and department names are organisations, not persons.
Units: potential/support in prescriptions a month; coverage and attainment as shares (0..1).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base
from models.feeds import Id

Code = String(8)


class CustomerGrade(Base):
    """Grade history: a row holds on ``valid_from <= day < valid_to`` (``valid_to`` null = current).

    grade: A/B/C/D doctors, U doctor without rx data yet (未分级), N non-prescriber, V VIP terminal,
    T other terminal. potential/support: the averages when the row began.
    """

    __tablename__ = "customer_grades"
    customer_id: Mapped[str] = mapped_column(Id, primary_key=True)
    valid_from: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    grade: Mapped[str] = mapped_column(Code)
    nine_box: Mapped[str | None] = mapped_column(Code)
    is_kol: Mapped[bool] = mapped_column(Boolean)
    potential: Mapped[float | None] = mapped_column(Float)  # market_rx a month
    support: Mapped[float | None] = mapped_column(Float)  # our_rx a month
    rx_months: Mapped[int | None] = mapped_column(Integer)  # months of rx data behind the averages

    __table_args__ = (Index("ix_customer_grades_valid_to", "valid_to"),)


class RepAttainment(Base):
    """Month-to-date attainment per rep and grade (``ALL`` = the rep's total), for the cutoff's month."""

    __tablename__ = "rep_attainment"
    run_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    staff_id: Mapped[str] = mapped_column(Id, primary_key=True)
    grade: Mapped[str] = mapped_column(Code, primary_key=True)
    office_code: Mapped[str | None] = mapped_column(Id)
    team: Mapped[str | None] = mapped_column(Text)
    month: Mapped[dt.date] = mapped_column(Date)
    customers: Mapped[int] = mapped_column(Integer)
    visits_required: Mapped[int] = mapped_column(Integer)  # sum of the customers' monthly standards
    visits_done: Mapped[int] = mapped_column(Integer)
    visits_credited: Mapped[int] = mapped_column(Integer)  # capped at each customer's standard
    attainment: Mapped[float | None] = mapped_column(Float)  # credited / required
    customers_visited_month: Mapped[int] = mapped_column(Integer)
    monthly_coverage: Mapped[float | None] = mapped_column(Float)
    customers_visited_quarter: Mapped[int] = mapped_column(Integer)
    quarterly_coverage: Mapped[float | None] = mapped_column(Float)
    standard_visits: Mapped[int | None] = mapped_column(Integer)  # null when it varies (N by title)
    standard_monthly_coverage: Mapped[float | None] = mapped_column(Float)
    standard_quarterly_coverage: Mapped[float | None] = mapped_column(Float)
    calls: Mapped[int] = mapped_column(Integer)  # the rep's calls this month, any customer
    field_days_so_far: Mapped[int] = mapped_column(Integer)
    field_days_in_month: Mapped[int] = mapped_column(Integer)
    avg_calls_per_day: Mapped[float | None] = mapped_column(Float)
    daily_plan: Mapped[int] = mapped_column(Integer)


class VisitTarget(Base):
    """Today's visit list of a rep: ``rank`` is the route order, ``priority`` the urgency order."""

    __tablename__ = "visit_targets"
    run_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    staff_id: Mapped[str] = mapped_column(Id, primary_key=True)
    customer_id: Mapped[str] = mapped_column(Id, primary_key=True)
    rank: Mapped[int] = mapped_column(Integer)
    priority: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(
        String(20)
    )  # appointment | reorder | frequency | coverage | reward | vip_contact
    other_reasons: Mapped[str | None] = mapped_column(String(80))  # the other reasons that apply, ;-separated
    channel: Mapped[str] = mapped_column(String(10))  # face | phone
    grade: Mapped[str] = mapped_column(Code)
    nine_box: Mapped[str | None] = mapped_column(Code)
    is_kol: Mapped[bool] = mapped_column(Boolean)
    strategy: Mapped[str | None] = mapped_column(String(10))  # 防御 进攻 维持 观察 (doctors A-D)
    visits_this_month: Mapped[int] = mapped_column(Integer)
    standard: Mapped[int] = mapped_column(Integer)  # visits (terminals: contacts) a month
    last_visit_date: Mapped[dt.date | None] = mapped_column(Date)
    institution: Mapped[str] = mapped_column(Text)
    department: Mapped[str | None] = mapped_column(Text)
    office_code: Mapped[str] = mapped_column(Id)


class OrphanCustomer(Base):
    """Customers of inactive staff, listed each run for the nearest active manager until reassigned."""

    __tablename__ = "orphan_customers"
    run_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    customer_id: Mapped[str] = mapped_column(Id, primary_key=True)
    former_staff_id: Mapped[str] = mapped_column(Id)
    manager_id: Mapped[str | None] = mapped_column(Id)  # null: no active manager up the chain
    office_code: Mapped[str] = mapped_column(Id)
    grade: Mapped[str] = mapped_column(Code)
    nine_box: Mapped[str | None] = mapped_column(Code)
    is_kol: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(String(20))  # what today would have held, or null
    visits_this_month: Mapped[int] = mapped_column(Integer)
    standard: Mapped[int] = mapped_column(Integer)
    last_visit_date: Mapped[dt.date | None] = mapped_column(Date)
    institution: Mapped[str] = mapped_column(Text)
    department: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_orphan_customers_run_date_manager", "run_date", "manager_id"),)
