"""Property: the supply stage computed from the kept coverage and contacts (brought up to date from
the changed patients only) gives exactly the lists of the full recomputation from every purchase and
call, over random histories of new purchases, late purchases with old dates, corrections, deletions,
product changes, calls (completed or not, corrected, deleted) and reruns of old dates, on SQLite and
PostgreSQL (keqing/supply/state.py, tasks/supply.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import polars as pl
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edges.db import get_engine, read_table
from keqing.clock import cutoff_for
from keqing.rules import Rules
from keqing.supply.pipeline import SupplyResults, build
from models import SupplyContact, SupplyContactChange, SupplyCoverage, SupplyCoverageChange, SupplyCoverageProduct
from models.feeds import Office, Patient, Product, Purchase, Staff, Visit
from tasks.supply import _contacts_query, _read_contacts, read_supply_inputs, sync_contacts, sync_coverage

RULES = Rules()
FIRST_RUN = dt.date(2026, 9, 7)  # a Monday; nights follow every 1 to 9 days
PATIENTS = ("P1", "P2", "P3", "P4", "P5")
PRODUCTS = {"PR30": 30.0, "PR10": 10.0, "PR14": 14.0}  # units a box, one a day
LINEAGE = {"source_file_id": 1, "source_line": 1}

buy = st.tuples(
    st.just("buy"),
    st.sampled_from(PATIENTS),
    st.sampled_from(sorted(PRODUCTS)),
    st.integers(1, 4),  # boxes
    # Days from the night's cutoff: mostly recent, some after it, some long before the adherence window
    # (180 days) and the month's expiry list, which the read trims (keqing.supply.state.at_cutoff).
    st.one_of(st.integers(-60, 2), st.integers(-60, 2), st.integers(-400, -150)),
)
correct = st.tuples(
    st.just("correct"),
    st.integers(0, 50),  # which existing purchase (modulo their number)
    st.sampled_from(("boxes", "date", "product", "patient")),
    st.integers(-40, 40),
)
delete = st.tuples(st.just("delete"), st.integers(0, 50))
call = st.tuples(
    st.just("call"),
    st.sampled_from(PATIENTS),
    st.one_of(st.integers(-30, 0), st.integers(1, 3)),  # days from the cutoff; after it: a later call
    st.sampled_from(("completed", "completed", "not_reached")),
)
recall = st.tuples(
    st.just("recall"),
    st.integers(0, 50),  # which existing visit (modulo their number)
    st.sampled_from(("outcome", "date", "patient", "channel")),
    st.integers(-20, 20),
)
uncall = st.tuples(st.just("uncall"), st.integers(0, 50))
units = st.tuples(st.just("units"), st.sampled_from(sorted(PRODUCTS)), st.sampled_from((7.0, 20.0, 30.0)))
operation = st.one_of(buy, buy, buy, correct, delete, call, call, recall, uncall, units)
night = st.tuples(
    st.integers(1, 9),  # days since the last night
    st.lists(operation, max_size=8),
    st.one_of(st.none(), st.integers(0, 10)),  # then rerun an earlier night (how many back, modulo)
)


def _reset(engine: sa.Engine) -> None:
    """An empty history with the master data (each example starts over in the test's database)."""
    tables = [m.__table__ for m in (Purchase, Visit, Patient, Staff, Product, Office)]
    state = [
        m.__table__
        for m in (SupplyCoverage, SupplyCoverageChange, SupplyCoverageProduct, SupplyContact, SupplyContactChange)
    ]
    with engine.begin() as conn:
        for table in tables + state:
            conn.execute(sa.delete(table))
        conn.execute(sa.insert(Office.__table__), [{"office_code": "OF1", "name": "杭州办事处", **LINEAGE}])
        conn.execute(
            sa.insert(Staff.__table__),
            [
                {"staff_id": s, "name": s, "role": "callback", "email": f"{s}@example.com", "office_code": "OF1"}
                | LINEAGE
                for s in ("S1", "S2")
            ],
        )
        conn.execute(
            sa.insert(Product.__table__),
            [
                {"product_code": code, "name": code, "units_per_box": n, "daily_units": 1.0} | LINEAGE
                for code, n in PRODUCTS.items()
            ],
        )
        conn.execute(
            sa.insert(Patient.__table__),
            [
                {"patient_id": p, "name": p, "phone": "13800000000", "office_code": "OF1", "informed": True}
                | {"callback_staff_id": "S1" if i % 2 else None}
                | LINEAGE
                for i, p in enumerate(PATIENTS)
            ],
        )


def _apply(conn: sa.Connection, op: tuple, cutoff: dt.date, serial: int) -> None:
    purchases, visits, products = Purchase.__table__, Visit.__table__, Product.__table__
    ids = [r[0] for r in conn.execute(sa.select(purchases.c.purchase_id).order_by(purchases.c.purchase_id))]
    calls = [r[0] for r in conn.execute(sa.select(visits.c.visit_id).order_by(visits.c.visit_id))]
    match op:
        case ("buy", patient, product, boxes, offset):
            row = {"purchase_id": f"U{serial:04d}", "patient_id": patient, "product_code": product, "boxes": boxes}
            when = cutoff + dt.timedelta(days=offset)
            conn.execute(sa.insert(purchases), [row | {"purchase_date": when} | LINEAGE])
        case ("correct", which, column, delta) if ids:
            target = purchases.c.purchase_id == ids[which % len(ids)]
            old = conn.execute(sa.select(purchases).where(target)).one()
            value = {
                "boxes": max(1, old.boxes + delta % 5 - 2),
                "date": old.purchase_date + dt.timedelta(days=delta),
                "product": sorted(PRODUCTS)[delta % len(PRODUCTS)],
                "patient": PATIENTS[delta % len(PATIENTS)],
            }[column]
            name = {"date": "purchase_date", "product": "product_code", "patient": "patient_id"}.get(column, column)
            conn.execute(sa.update(purchases).where(target).values({name: value}))
        case ("delete", which) if ids:
            conn.execute(sa.delete(purchases).where(purchases.c.purchase_id == ids[which % len(ids)]))
        case ("call", patient, offset, outcome):
            at = dt.datetime.combine(cutoff + dt.timedelta(days=offset), dt.time(10))
            visit = {"visit_id": f"V{serial:04d}", "staff_id": "S1", "target_type": "patient", "target_id": patient}
            conn.execute(
                sa.insert(visits), [visit | {"visit_at": at, "channel": "phone", "outcome": outcome} | LINEAGE]
            )
        case ("recall", which, column, delta) if calls:
            target = visits.c.visit_id == calls[which % len(calls)]
            old = conn.execute(sa.select(visits).where(target)).one()
            name = {"date": "visit_at", "patient": "target_id"}.get(column, column)
            value = {
                "outcome": ("completed", "not_reached", "refused")[delta % 3],
                "visit_at": old.visit_at + dt.timedelta(days=delta, hours=delta % 7),
                "target_id": PATIENTS[delta % len(PATIENTS)],
                "channel": ("phone", "home", "wechat")[delta % 3],  # wechat is not a call
            }[name]
            conn.execute(sa.update(visits).where(target).values({name: value}))
        case ("uncall", which) if calls:
            conn.execute(sa.delete(visits).where(visits.c.visit_id == calls[which % len(calls)]))
        case ("units", product, per_box):
            conn.execute(sa.update(products).where(products.c.product_code == product).values(units_per_box=per_box))


def _frames(results: SupplyResults) -> dict[str, pl.DataFrame]:
    """Every result frame in one row order (the two ways number patient-product groups differently)."""
    return {f.name: (df := getattr(results, f.name)).sort(df.columns) for f in dataclasses.fields(results)}


def _both_ways(settings_, run_date: dt.date) -> tuple[dict, dict]:
    """The lists from the kept coverage and contacts (as the flow computes them) and from every
    purchase and call; the contacts themselves compared on the way."""
    sync_coverage.fn(settings_)
    sync_contacts.fn(settings_)
    kept = read_supply_inputs.fn(settings_, RULES, run_date)
    p = Purchase.__table__
    engine = get_engine(settings_.database_url)
    every = read_table(
        engine,
        sa.select(p.c.patient_id, p.c.product_code, p.c.boxes, p.c.purchase_date).where(
            p.c.purchase_date <= cutoff_for(run_date)
        ),
    )
    called = _read_contacts(engine, _contacts_query(dt.datetime.combine(run_date, dt.time())))
    assert kept.contacts.sort("patient_id").equals(called.sort("patient_id")), f"contacts differ on {run_date}"
    full = dataclasses.replace(kept, purchases=every, coverage=None, contacts=called)
    return _frames(build(kept, run_date, RULES)), _frames(build(full, run_date, RULES))


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
@given(nights=st.lists(night, min_size=1, max_size=4))
def test_the_kept_coverage_gives_the_lists_of_the_full_recomputation(nights, settings):
    engine = get_engine(settings.database_url)
    _reset(engine)
    run_date, done, serial = FIRST_RUN, [], 0
    for gap, operations, rerun in nights:
        run_date += dt.timedelta(days=gap)
        with engine.begin() as conn:
            for op in operations:
                serial += 1
                _apply(conn, op, cutoff_for(run_date), serial)
        done.append(run_date)
        dates = [run_date] + ([done[-1 - rerun % len(done)]] if rerun is not None else [])
        for date in dates:
            incremental, full = _both_ways(settings, date)
            for name, frame in full.items():
                assert incremental[name].equals(frame), f"{name} differs on {date}"
    with engine.connect() as conn:  # every change was taken into the kept coverage and contacts
        for changes in (SupplyCoverageChange, SupplyContactChange):
            assert conn.execute(sa.select(sa.func.count()).select_from(changes.__table__)).scalar() == 0
