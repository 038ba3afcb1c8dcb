"""Supply stage: read the feeds it needs, compute with ``keqing.supply``, write the result tables.

Three tasks for the whole stage (never one per patient or staff member): one read, one compute,
one write. The write replaces the run_date's rows in one transaction, so a rerun or a retry of the
same run_date leaves exactly one copy of its lists.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from edges.db import get_engine, insert_frame, is_postgres, read_frame, read_table
from keqing.clock import cutoff_for
from keqing.rules import Rules
from keqing.settings import Settings
from keqing.supply.callbacks import CALL_CHANNELS, consult_lookback_days
from keqing.supply.expiry import list_months
from keqing.supply.pipeline import SupplyInputs, SupplyResults, build
from models import (
    CallbackEntry,
    CallbackLoad,
    ExpiryEntry,
    ExpiryTarget,
    HomeVisitPatient,
    HomeVisitPlan,
    PatientSupply,
)
from models.feeds import Consult, Patient, Product, Purchase, Staff, Visit
from tasks import IO_RETRIES, keqing_task, run_logger


@keqing_task(**IO_RETRIES)
def read_supply_inputs(settings: Settings, rules: Rules, run_date: dt.date) -> SupplyInputs:
    """The stage's inputs, each filtered by the cutoff (run_date - 1) in the database already."""
    # Through the engine: ADBC into Arrow on both databases (edges.db.read_frame; on SQLite only
    # while no pysqlite connection of this process is open, see edges.db._adbc_usable).
    inputs = _read_inputs(get_engine(settings.database_url), rules, run_date)
    run_logger().info(
        "supply inputs: %d purchases (%d at free clinics), %d patients, %d products, %d patients called, %d consults",
        inputs.purchases.height,
        inputs.event_purchases.height,
        inputs.patients.height,
        inputs.products.height,
        inputs.contacts.height,
        inputs.consults.height,
    )
    return inputs


def _read_inputs(bind: Engine | Connection, rules: Rules, run_date: dt.date) -> SupplyInputs:
    cutoff = cutoff_for(run_date)
    day_start = dt.datetime.combine(run_date, dt.time())  # datetimes before this are dated <= cutoff
    p, pr, pt, s, v, c = (m.__table__ for m in (Purchase, Product, Patient, Staff, Visit, Consult))
    bought = [p.c.patient_id, p.c.product_code, p.c.boxes, p.c.purchase_date]
    # contact_history in one aggregate: grouped by patient alone, which PostgreSQL runs in parallel
    # (8.5 s for grouping by patient, channel and outcome at `large`, 4.6 s this way).
    completed = v.c.outcome == "completed"  # not null in the table (the feed's default)
    contacts = (
        sa.select(
            v.c.target_id.label("patient_id"),
            sa.func.max(v.c.visit_at).filter(completed).label("last_completed"),
            sa.func.max(v.c.visit_at).label("last_attempt"),
        )
        .where(v.c.target_type == "patient", v.c.channel.in_(CALL_CHANNELS), v.c.visit_at < day_start)
        .group_by(v.c.target_id)
    )
    contact_times = {"patient_id": pl.String, "last_completed": pl.Datetime("us"), "last_attempt": pl.Datetime("us")}
    return SupplyInputs(
        purchases=read_table(bind, sa.select(*bought).where(p.c.purchase_date <= cutoff)),
        event_purchases=read_table(
            bind,
            sa.select(*bought, p.c.event_id).where(p.c.purchase_date <= cutoff, p.c.event_id.is_not(None)),
        ),
        products=read_table(bind, sa.select(pr.c.product_code, pr.c.units_per_box, pr.c.daily_units)),
        patients=read_table(
            bind,
            sa.select(
                pt.c.patient_id,
                pt.c.office_code,
                pt.c.callback_staff_id,
                pt.c.home_visit_staff_id,
                pt.c.informed,
                pt.c.village,
                pt.c.township,
            ),
        ),
        staff=read_table(bind, sa.select(s.c.staff_id, s.c.role, s.c.office_code, s.c.active)),
        contacts=read_frame(bind, contacts, contact_times).with_columns(
            pl.col("last_completed", "last_attempt").dt.date()
        ),
        consults=read_table(
            bind,
            sa.select(c.c.consult_id, c.c.received_at, c.c.came_in, c.c.purchased, c.c.office_code, c.c.staff_id).where(
                c.c.received_at >= day_start - dt.timedelta(days=consult_lookback_days(rules)),
                c.c.received_at < day_start,
            ),
        ),
    )


@keqing_task
def compute_supply(inputs: SupplyInputs, rules: Rules, run_date: dt.date) -> SupplyResults:
    """Supply, adherence, expiry lists, callback lists and home-visit plans (pure Polars)."""
    return build(inputs, run_date, rules)


def _rows_for(table: sa.Table, frame: pl.DataFrame, run_date: dt.date) -> pl.DataFrame:
    """``frame`` with run_date added, as the table's columns (all but a generated id), in its order."""
    frame = frame.with_columns(pl.lit(run_date).alias("run_date"))
    return frame.select([c.name for c in table.columns if not (c.primary_key and c.autoincrement is True)])


@keqing_task(**IO_RETRIES)
def write_supply(settings: Settings, results: SupplyResults, run_date: dt.date) -> dict[str, int]:
    """Replace the run's rows in one transaction; returns rows written per table."""
    tables = {
        m.__tablename__: m.__table__ for m in (PatientSupply, ExpiryEntry, ExpiryTarget, CallbackEntry, CallbackLoad)
    }
    plan, members = HomeVisitPlan.__table__, HomeVisitPatient.__table__
    supply, expiry, targets, calls, load = (
        tables[n] for n in ("patient_supply", "expiry_list", "expiry_targets", "callback_list", "callback_load")
    )
    frames = {
        supply: results.patient_supply,
        expiry: results.expiry_list,
        targets: results.expiry_targets,
        calls: results.callbacks.filter("listed"),
        load: results.callback_load,
        plan: results.home_visit_plan,
        members: results.home_visit_patients,
    }
    written: dict[str, int] = {}
    with get_engine(settings.database_url).begin() as conn:
        # A snapshot: the latest run's view of every patient and product. TRUNCATE (transactional in
        # PostgreSQL) rather than deleting a million rows one by one and leaving them for VACUUM.
        conn.exec_driver_sql(f"TRUNCATE {supply.name}" if is_postgres(conn) else f"DELETE FROM {supply.name}")
        conn.execute(sa.delete(expiry).where(expiry.c.month.in_(list_months(run_date))))
        for table in (targets, calls, load, plan, members):
            conn.execute(sa.delete(table).where(table.c.run_date == run_date))
        for table, frame in frames.items():
            written[table.name] = insert_frame(conn, table, _rows_for(table, frame, run_date))
    run_logger().info("supply written: %s", ", ".join(f"{name} {n}" for name, n in written.items()))
    return written
