"""Supply stage: read the feeds it needs, compute with ``keqing.supply``, write the result tables.

Four tasks for the whole stage (never one per patient or staff member): bring the kept coverage up
to date, one read, one compute, one write. The write replaces the run_date's rows in one
transaction, so a rerun or a retry of the same run_date leaves exactly one copy of its lists.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from edges.db import (
    delete_keys,
    frame_changes,
    frame_schema,
    get_engine,
    insert_frame,
    is_postgres,
    read_frame,
    read_table,
    reading,
    refresh_statistics,
)
from edges.locks import INGEST_LOCK, INGEST_LOCK_WAIT_SECONDS, held
from keqing.clock import cutoff_for
from keqing.rules import Rules
from keqing.settings import Settings
from keqing.supply import state
from keqing.supply.callbacks import CALL_CHANNELS, consult_lookback_days
from keqing.supply.expiry import list_months
from keqing.supply.pipeline import SupplyInputs, SupplyResults, build, keep_since_for
from keqing.supply.supply import PURCHASES_SCHEMA, coverage
from models import (
    CallbackEntry,
    CallbackLoad,
    ExpiryEntry,
    ExpiryTarget,
    HomeVisitPatient,
    HomeVisitPlan,
    PatientSupply,
    SupplyContact,
    SupplyContactChange,
    SupplyCoverage,
    SupplyCoverageChange,
    SupplyCoverageProduct,
)
from models.feeds import Consult, Patient, Product, Purchase, Staff, Visit
from tasks import IO_RETRIES, keqing_task, run_logger

KEPT_KEY = [c.name for c in SupplyCoverage.__table__.primary_key.columns]


@keqing_task(**IO_RETRIES)
def sync_coverage(settings: Settings) -> dict[str, int | bool]:
    """Bring ``supply_coverage`` up to date with the purchases (keqing/supply/state.py).

    The patients named in ``supply_coverage_changes`` get their coverage computed again from all
    their purchases, and the rows that differ from the kept ones are replaced; when the products
    differ from those it was computed with, every patient is computed again. Under the ingest lock,
    so no purchase is loaded between the reads and the write; the write is one transaction, so a
    crash or a retry leaves the table and the change list as they were.
    """
    engine = get_engine(settings.database_url)
    kept, changes, basis_table = (m.__table__ for m in (SupplyCoverage, SupplyCoverageChange, SupplyCoverageProduct))
    p, pr = Purchase.__table__, Product.__table__
    with held(settings.database_url, INGEST_LOCK, wait_seconds=INGEST_LOCK_WAIT_SECONDS):
        products = read_table(engine, sa.select(*(pr.c[c] for c in state.PRODUCT_COLUMNS)))
        basis = read_table(engine, sa.select(basis_table))
        rebuild = state.products_changed(products, basis)
        changed = read_table(engine, sa.select(changes.c.patient_id))["patient_id"]
        bought = sa.select(*(p.c[c] for c in PURCHASES_SCHEMA))
        if not rebuild:
            bought = bought.where(p.c.patient_id.in_(sa.select(changes.c.patient_id)))
        purchases = read_table(engine, bought)
        if not rebuild:  # exactly the patients read first, should one have been named in between
            purchases = purchases.filter(pl.col("patient_id").is_in(changed.implode()))
        rows = state.stored_rows(coverage(purchases, products, dt.date.max)).cast(frame_schema(kept))
        deleted = 0
        if not rebuild:
            # Most rows of a changed patient stay as they were (a new purchase changes its own row and
            # the previous one's next_purchase_date): write only the rows that differ.
            before = read_table(engine, sa.select(kept).where(kept.c.patient_id.in_(sa.select(changes.c.patient_id))))
            rows, stale = frame_changes(before.filter(pl.col("patient_id").is_in(changed.implode())), rows, KEPT_KEY)
        with engine.begin() as conn:
            if rebuild:
                for table in (kept, changes, basis_table):
                    # TRUNCATE (transactional in PostgreSQL) rather than deleting millions of rows one by one.
                    conn.exec_driver_sql(f"TRUNCATE {table.name}" if is_postgres(conn) else f"DELETE FROM {table.name}")
                insert_frame(conn, basis_table, products.select(state.PRODUCT_COLUMNS))
            else:
                deleted = delete_keys(conn, kept, stale)
                # Only the patients read above: one named since (by an operator's SQL) stays for next time.
                for part in _chunks(changed.to_list()):
                    conn.execute(sa.delete(changes).where(changes.c.patient_id.in_(part)))
            written = insert_frame(conn, kept, in_key_order(kept, rows))
    if rebuild:  # millions of rows at `large`: ready for the reads that follow
        refresh_statistics(engine, [kept], vacuum=True)
    result: dict[str, int | bool] = {
        "rebuilt": rebuild,
        "patients": changed.len(),
        "purchases": purchases.height,
        "rows": written,
        "rows_deleted": deleted,
    }
    run_logger().info(
        "coverage %s: %d patient(s) with changed purchases, %d purchase(s) read, "
        "%d coverage row(s) deleted (changed or gone), %d written (changed or new)",
        "computed again from every purchase" if rebuild else "brought up to date",
        changed.len(),
        purchases.height,
        deleted,
        written,
    )
    return result


@keqing_task(**IO_RETRIES)
def sync_contacts(settings: Settings) -> dict[str, int]:
    """Bring ``supply_contacts`` up to date with the calls: the patients named in
    ``supply_contact_changes`` get their maxima taken from the visits again.

    Three statements in one transaction, all seeing the changes as they stood when it began (on
    PostgreSQL at REPEATABLE READ, so a patient named meanwhile stays for next time; SQLite has one
    writer at a time), under the ingest lock like sync_coverage.
    """
    engine = get_engine(settings.database_url)
    kept, changes = SupplyContact.__table__, SupplyContactChange.__table__
    changed = sa.select(changes.c.patient_id)
    with held(settings.database_url, INGEST_LOCK, wait_seconds=INGEST_LOCK_WAIT_SECONDS):
        options = {"isolation_level": "REPEATABLE READ"} if is_postgres(engine) else {}
        with engine.connect().execution_options(**options) as conn, conn.begin():
            removed = conn.execute(sa.delete(kept).where(kept.c.patient_id.in_(changed))).rowcount
            maxima = _contacts_query(None, patients=changed)
            added = conn.execute(sa.insert(kept).from_select(["patient_id", "last_completed", "last_attempt"], maxima))
            patients = conn.execute(sa.delete(changes)).rowcount
    result = {"patients": patients, "removed": removed, "written": added.rowcount}
    run_logger().info(
        "contacts brought up to date: %d patient(s) with changed calls, %d row(s) written",
        patients,
        added.rowcount,
    )
    return result


def _contacts_query(before: dt.datetime | None, patients: sa.Select | None = None) -> sa.Select:
    """Per patient called: the last completed call and the last call (contact_history in SQL).

    Calls before ``before`` (all when None), of ``patients`` only when given. Grouped by patient
    alone, which PostgreSQL runs in parallel over every call (8.5 s grouping by patient, channel and
    outcome at `large`, 4.6 s this way).
    """
    v = Visit.__table__
    completed = v.c.outcome == "completed"  # not null in the table (the feed's default)
    query = (
        sa.select(
            v.c.target_id.label("patient_id"),
            sa.func.max(sa.case((completed, v.c.visit_at))).label("last_completed"),
            sa.func.max(v.c.visit_at).label("last_attempt"),
        )
        .where(v.c.target_type == "patient", v.c.channel.in_(CALL_CHANNELS))
        .group_by(v.c.target_id)
    )
    if before is not None:
        query = query.where(v.c.visit_at < before)
    if patients is not None:
        query = query.where(v.c.target_id.in_(patients))
    return query


def _contacts_at(day_start: dt.datetime) -> sa.Select:
    """contact_history for the calls before ``day_start``, from the kept maxima.

    A patient's kept row is that already when their last call is before ``day_start`` (always on
    the newest night: no call dated on or after the run date is loaded yet). For a patient called
    since (a rerun of an old date), the maxima are taken from their calls before it again.
    """
    sc = SupplyContact.__table__
    called_since = sa.select(sc.c.patient_id).where(sc.c.last_attempt >= day_start)
    both = sa.union_all(
        sa.select(sc.c.patient_id, sc.c.last_completed, sc.c.last_attempt).where(sc.c.last_attempt < day_start),
        _contacts_query(day_start, patients=called_since),
    )
    return sa.select(both.subquery())


def _read_contacts(bind: Engine | Connection, query: sa.Select) -> pl.DataFrame:
    """The frame of contact_history (CONTACTS_SCHEMA) from a query of _contacts_query's columns."""
    times = {"patient_id": pl.String, "last_completed": pl.Datetime("us"), "last_attempt": pl.Datetime("us")}
    return read_frame(bind, query, times).with_columns(pl.col("last_completed", "last_attempt").dt.date())


def _chunks(ids: list[str], size: int = 10_000) -> list[list[str]]:
    """``ids`` in lists short enough for one statement's parameters (SQLite allows 32,766)."""
    return [ids[i : i + size] for i in range(0, len(ids), size)]


@keqing_task(**IO_RETRIES)
def read_supply_inputs(settings: Settings, rules: Rules, run_date: dt.date) -> SupplyInputs:
    """The stage's inputs, each filtered by the cutoff (run_date - 1) in the database already."""
    # Through the engine: ADBC into Arrow on both databases (edges.db.read_frame; on SQLite only
    # while no pysqlite connection of this process is open, see edges.db._adbc_usable).
    inputs = _read_inputs(get_engine(settings.database_url), rules, run_date)
    run_logger().info(
        "supply inputs: %d coverage rows (%d purchases at free clinics), %d patients, %d products, "
        "%d patients called, %d consults",
        inputs.coverage.rows.height,
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
    p, pr, pt, s, c = (m.__table__ for m in (Purchase, Product, Patient, Staff, Consult))
    sc = SupplyCoverage.__table__
    # The kept coverage as it stood on the cutoff (keqing.supply.state.at_cutoff, here in SQL).
    kept = sa.select(*(sc.c[name] for name in state.STORED_COLUMNS)).where(
        sc.c.purchase_date <= cutoff,
        sa.or_(
            sc.c.expiry_date >= keep_since_for(run_date, rules),
            sc.c.next_purchase_date.is_(None),
            sc.c.next_purchase_date > cutoff,
        ),
    )
    bought = [p.c.patient_id, p.c.product_code, p.c.boxes, p.c.purchase_date]
    return SupplyInputs(
        purchases=pl.DataFrame(schema=PURCHASES_SCHEMA),
        coverage=state.coverage_of_stored(state.at_cutoff(read_table(bind, kept), cutoff)),
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
        contacts=_read_contacts(bind, _contacts_at(day_start)),
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


def in_key_order(table: sa.Table, frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` sorted by ``table``'s primary key when it holds the key's columns (not a generated id).

    A b-tree filled in key order writes each page once. At `large` on PostgreSQL, the 1 M-row
    snapshot copies in 4.0-4.3 s sorted, 4.8-5.1 s in the computation's order (7.0 s shuffled), and
    the month's 356,000 expiry entries in 4.7-5.2 s against 5.5 s; the sort costs a fraction of that.
    """
    key = [c.name for c in table.primary_key.columns]
    return frame.sort(key) if all(k in frame.columns for k in key) else frame


def _write_expiry_months(engine: Engine, conn: Connection, entries: pl.DataFrame, run_date: dt.date) -> int:
    """Make the expiry lists of run_date's two months equal to ``entries``, writing only what changed.

    From one night to the next almost every entry stays as it was (at `large`, 356,000 entries of
    which a few thousand change), so the entries that changed or left are deleted and the changed or
    new ones inserted, stamped with this run_date: an entry's run_date is the run that last changed
    it. Returns the entries written.
    """
    table = ExpiryEntry.__table__
    content = [c.name for c in table.columns if c.name != "run_date"]
    key = [c.name for c in table.primary_key.columns]
    if is_postgres(conn):
        # Other writers of the lists wait for this transaction; readers do not. So the read below, on
        # a connection of its own (committed data, ADBC), sees what this transaction would see.
        conn.exec_driver_sql(f"LOCK TABLE {table.name} IN SHARE ROW EXCLUSIVE MODE")
    with reading(engine, conn) as bind:
        kept = read_table(
            bind, sa.select(*(table.c[c] for c in content)).where(table.c.month.in_(list_months(run_date)))
        )
    fresh, stale = frame_changes(kept, entries.select(content).cast(frame_schema(table, content)), key)
    deleted = delete_keys(conn, table, stale)
    written = insert_frame(conn, table, in_key_order(table, _rows_for(table, fresh, run_date)))
    run_logger().info(
        "expiry lists: %d entries, %d as they were, %d deleted (changed or gone), %d written (changed or new)",
        entries.height,
        entries.height - written,
        deleted,
        written,
    )
    return written


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
        targets: results.expiry_targets,
        calls: results.callbacks.filter("listed"),
        load: results.callback_load,
        plan: results.home_visit_plan,
        members: results.home_visit_patients,
    }
    written: dict[str, int] = {}
    engine = get_engine(settings.database_url)
    with engine.begin() as conn:
        # A snapshot: the latest run's view of every patient and product. TRUNCATE (transactional in
        # PostgreSQL) rather than deleting a million rows one by one and leaving them for VACUUM.
        conn.exec_driver_sql(f"TRUNCATE {supply.name}" if is_postgres(conn) else f"DELETE FROM {supply.name}")
        written[expiry.name] = _write_expiry_months(engine, conn, results.expiry_list, run_date)
        for table in (targets, calls, load, plan, members):
            conn.execute(sa.delete(table).where(table.c.run_date == run_date))
        for table, frame in frames.items():
            written[table.name] = insert_frame(conn, table, in_key_order(table, _rows_for(table, frame, run_date)))
    # The email views read the patients on tonight's lists. With statistics from before tonight's
    # rows, the planner expects a handful and loops over the patients' index: 1.3 s at `large`
    # (200,000 patients) against 0.55 s with fresh statistics, which cost 0.2 s to sample.
    refresh_statistics(engine, (expiry, calls))
    run_logger().info("supply written: %s", ", ".join(f"{name} {n}" for name, n in written.items()))
    return written
