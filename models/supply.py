"""Results of the supply stage (到期与回访), rendered by the email stage.

Ids only: names, phones, diseases and contact persons stay in ``patients`` and ``consults`` and are
joined at render time. Units: days, boxes, shares 0..1. ``run_date`` is the run that wrote a row.

- ``patient_supply``: a snapshot per patient and product, replaced by every run.
- ``expiry_list``: the expiry list (到期名单) of a month as the latest run that computed it saw it
  (a run writes its month and the next one, only the entries that changed; an entry's ``run_date``
  is the run that last changed it).
- ``supply_coverage`` with ``supply_coverage_changes`` and ``supply_coverage_products``: the coverage
  of every loaded purchase, kept between runs and brought up to date for the patients whose
  purchases changed (keqing/supply/state.py).
- ``supply_contacts`` with ``supply_contact_changes``: each patient's last call and last completed
  call, kept between runs and brought up to date for the patients whose calls changed.
- ``expiry_targets``, ``callback_list``, ``callback_load``, ``home_visit_plan``, ``home_visit_patients``:
  per run_date, replaced when that run_date is run again.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, DateTime, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base
from models.feeds import Id


class PatientSupply(Base):
    """Supply state of a patient and product on the run date (the latest run's snapshot)."""

    __tablename__ = "patient_supply"
    patient_id: Mapped[str] = mapped_column(Id, primary_key=True)
    product_code: Mapped[str] = mapped_column(Id, primary_key=True)
    run_date: Mapped[dt.date] = mapped_column(Date)
    office_code: Mapped[str] = mapped_column(Id)
    callback_staff_id: Mapped[str | None] = mapped_column(Id)  # who calls: the feed's, or the office pool's
    callback_staff_auto: Mapped[bool] = mapped_column(Boolean)  # true when the pool policy chose the nurse
    first_purchase_date: Mapped[dt.date] = mapped_column(Date)
    last_purchase_date: Mapped[dt.date] = mapped_column(Date)
    last_boxes: Mapped[int] = mapped_column(Integer)  # boxes bought on the last purchase date
    expiry_date: Mapped[dt.date] = mapped_column(Date)  # 到期日: the last covered day
    days_left: Mapped[int] = mapped_column(Integer)  # expiry_date - run_date; negative once run out
    status: Mapped[str] = mapped_column(String(10))  # active | expiring | lapsed
    pdc_180: Mapped[float] = mapped_column(Float)  # proportion of days covered, 0..1
    low_adherence: Mapped[bool] = mapped_column(Boolean)  # pdc_180 below the threshold (80%)
    # No secondary indexes (dropped in migration 0006): nothing in keqing reads this table by staff or
    # office, and keeping two indexes up to date tripled the nightly rewrite (10 s -> 3 s at `large`).


class ExpiryEntry(Base):
    """An entry of a month's expiry list (到期名单)."""

    __tablename__ = "expiry_list"
    month: Mapped[dt.date] = mapped_column(Date, primary_key=True)  # first day of the month
    patient_id: Mapped[str] = mapped_column(Id, primary_key=True)
    product_code: Mapped[str] = mapped_column(Id, primary_key=True)
    run_date: Mapped[dt.date] = mapped_column(Date)
    expiry_date: Mapped[dt.date] = mapped_column(Date)
    office_code: Mapped[str] = mapped_column(Id)
    callback_staff_id: Mapped[str | None] = mapped_column(Id)
    repurchased: Mapped[bool] = mapped_column(Boolean)  # bought again since (the month's retention)

    __table_args__ = (
        Index("ix_expiry_list_month_staff", "month", "callback_staff_id"),
        Index("ix_expiry_list_month_office", "month", "office_code"),
    )


class ExpiryTarget(Base):
    """Size, must-keep (必保量) and target (目标量) of a month's list per office and per callback nurse."""

    __tablename__ = "expiry_targets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_date: Mapped[dt.date] = mapped_column(Date)
    month: Mapped[dt.date] = mapped_column(Date)
    office_code: Mapped[str] = mapped_column(Id)
    scope: Mapped[str] = mapped_column(String(10))  # office (staff_id null) | staff
    staff_id: Mapped[str | None] = mapped_column(Id)
    size: Mapped[int] = mapped_column(Integer)  # entries (patient and product) on the list
    must_keep: Mapped[int] = mapped_column(Integer)  # ceil(60% x size)
    target: Mapped[int] = mapped_column(Integer)  # ceil(80% x size)
    repurchased: Mapped[int] = mapped_column(Integer)
    retention: Mapped[float] = mapped_column(Float)  # repurchased / size
    must_keep_met: Mapped[bool] = mapped_column(Boolean)
    target_met: Mapped[bool] = mapped_column(Boolean)

    __table_args__ = (Index("ix_expiry_targets_run_month", "run_date", "month", "office_code"),)


class CallbackEntry(Base):
    """One call on a callback nurse's list for a run date (a patient or a consult, never both)."""

    __tablename__ = "callback_list"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_date: Mapped[dt.date] = mapped_column(Date)
    staff_id: Mapped[str | None] = mapped_column(Id)  # null: the office has no callback staff
    office_code: Mapped[str] = mapped_column(Id)
    patient_id: Mapped[str | None] = mapped_column(Id)
    consult_id: Mapped[str | None] = mapped_column(Id)  # consult follow-ups (咨询未到堂)
    product_code: Mapped[str | None] = mapped_column(Id)
    reason: Mapped[str] = mapped_column(String(10))  # overdue | expiring | consult | lapsed | cadence | holiday
    priority: Mapped[int] = mapped_column(Integer)  # 1 = overdue ... 6 = holiday
    position: Mapped[int] = mapped_column(Integer)  # 1.. on the staff member's list
    due_date: Mapped[dt.date] = mapped_column(Date)
    expiry_date: Mapped[dt.date | None] = mapped_column(Date)
    low_adherence: Mapped[bool | None] = mapped_column(Boolean)
    not_informed: Mapped[bool | None] = mapped_column(Boolean)  # call the contact person, never name the disease

    __table_args__ = (
        UniqueConstraint("run_date", "patient_id", name="uq_callback_list_run_date_patient"),
        UniqueConstraint("run_date", "consult_id", name="uq_callback_list_run_date_consult"),
        Index("ix_callback_list_run_staff", "run_date", "staff_id", "position"),
    )


class HomeVisitPlan(Base):
    """A home-visit worker's visit to a village for a free-clinic event on a date."""

    __tablename__ = "home_visit_plan"
    run_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    plan_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[str | None] = mapped_column(Id)  # null: the office has no home-visit staff
    office_code: Mapped[str] = mapped_column(Id)
    event_id: Mapped[str] = mapped_column(Id)
    township: Mapped[str | None] = mapped_column(Text)
    village: Mapped[str | None] = mapped_column(Text)
    event_date: Mapped[dt.date] = mapped_column(Date)
    product_code: Mapped[str] = mapped_column(Id)
    boxes: Mapped[int] = mapped_column(Integer)  # the buyers' most common quantity
    planned_date: Mapped[dt.date] = mapped_column(Date)  # when that quantity runs out (a working day)
    visit_date: Mapped[dt.date] = mapped_column(Date)  # after the daily limit
    patients: Mapped[int] = mapped_column(Integer)  # households to visit

    __table_args__ = (Index("ix_home_visit_plan_run_staff", "run_date", "staff_id", "visit_date"),)


class HomeVisitPatient(Base):
    """The patients of a home-visit plan."""

    __tablename__ = "home_visit_patients"
    run_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    plan_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[str] = mapped_column(Id, primary_key=True)


class CallbackLoad(Base):
    """A callback nurse's load on a run date: every call due against the day's capacity (seed 000: 40
    calls a person a day). ``staff_id`` null: the calls of an office without callback staff."""

    __tablename__ = "callback_load"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_date: Mapped[dt.date] = mapped_column(Date)
    office_code: Mapped[str] = mapped_column(Id)
    staff_id: Mapped[str | None] = mapped_column(Id)
    due: Mapped[int] = mapped_column(Integer)  # calls due today, listed or not
    capacity: Mapped[int] = mapped_column(Integer)  # calls a day (rules.callbacks.max_calls_per_day)
    waiting: Mapped[int] = mapped_column(Integer)  # due calls beyond the capacity, left for the next working day
    waiting_since: Mapped[dt.date | None] = mapped_column(Date)  # the earliest due date among those waiting
    backlog_days: Mapped[int] = mapped_column(Integer)  # working days to clear the waiting calls at capacity

    __table_args__ = (Index("ix_callback_load_run_date_office", "run_date", "office_code"),)


class SupplyCoverage(Base):
    """The coverage of every loaded purchase (keqing.supply.supply.coverage over all of them).

    One row per patient, product and purchase day. A purchase's covered days depend only on the
    purchases dated on or before it, so every run date reads its coverage from this one table
    (keqing/supply/state.py): no copy per run date. ``next_purchase_date`` is the group's next
    purchase day among all loaded purchases (null on its last row).
    """

    __tablename__ = "supply_coverage"
    patient_id: Mapped[str] = mapped_column(Id, primary_key=True)
    product_code: Mapped[str] = mapped_column(Id, primary_key=True)
    purchase_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    boxes: Mapped[int] = mapped_column(Integer)  # boxes bought that day
    days: Mapped[int] = mapped_column(Integer)  # days of supply bought that day
    start_date: Mapped[dt.date] = mapped_column(Date)  # first day covered by that day's purchase
    expiry_date: Mapped[dt.date] = mapped_column(Date)  # last day covered
    next_purchase_date: Mapped[dt.date | None] = mapped_column(Date)
    first_purchase_date: Mapped[dt.date] = mapped_column(Date)  # the group's first purchase day


class SupplyCoverageChange(Base):
    """A patient whose purchases changed since ``supply_coverage`` was brought up to date.

    Written by database triggers on ``purchases`` (migration 0013), whoever writes: ingest, a
    release from quarantine, an operator's correction in SQL. The supply stage recomputes these
    patients' coverage and removes their rows here in the same transaction.
    """

    __tablename__ = "supply_coverage_changes"
    patient_id: Mapped[str] = mapped_column(Id, primary_key=True)


class SupplyCoverageProduct(Base):
    """The product master data ``supply_coverage`` was computed with (days of supply per box).

    When the products table differs (a product added, removed or with other units), the coverage is
    computed again from every purchase. Empty: never computed (a new or upgraded database).
    """

    __tablename__ = "supply_coverage_products"
    product_code: Mapped[str] = mapped_column(Id, primary_key=True)
    units_per_box: Mapped[float] = mapped_column(Float)
    daily_units: Mapped[float] = mapped_column(Float)


class SupplyContact(Base):
    """Per patient: the last call (phone or home visit) and the last completed one, over every loaded visit.

    The maxima of keqing.supply.callbacks.contact_history with no cutoff. A run reads a patient's
    row as it is when the last call is before the run date; only a patient called on or after it
    (a rerun of an old date) has the maxima taken from the visits again (tasks/supply.py).
    """

    __tablename__ = "supply_contacts"
    patient_id: Mapped[str] = mapped_column(Id, primary_key=True)
    last_completed: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_attempt: Mapped[dt.datetime] = mapped_column(DateTime)


class SupplyContactChange(Base):
    """A patient whose calls changed since ``supply_contacts`` was brought up to date.

    Written by database triggers on ``visits`` (migration 0015) for every inserted, corrected or
    deleted call to a patient, whoever writes; the supply stage takes the maxima of these patients
    from the visits again and removes their rows here in the same transaction.
    """

    __tablename__ = "supply_contact_changes"
    patient_id: Mapped[str] = mapped_column(Id, primary_key=True)


SUPPLY_MODELS = (
    PatientSupply,
    ExpiryEntry,
    ExpiryTarget,
    CallbackEntry,
    CallbackLoad,
    HomeVisitPlan,
    HomeVisitPatient,
)
