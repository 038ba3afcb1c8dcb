"""Tiny inline frames for the supply tests: master data, purchases, calls and consults."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import polars as pl

from keqing.clock import cutoff_for
from keqing.rules import Rules
from keqing.supply.callbacks import CONSULTS_SCHEMA, CONTACTS_SCHEMA, PATIENTS_SCHEMA, VISITS_SCHEMA, contact_history
from keqing.supply.home_visits import EVENT_PURCHASES_SCHEMA
from keqing.supply.pipeline import SupplyInputs, SupplyResults, build
from keqing.supply.supply import PURCHASES_SCHEMA

# Days per box: PR30 30, PR10 10, PR07 7, PR28 14 (28 tablets, 2 a day).
PRODUCTS = pl.DataFrame(
    {
        "product_code": ["PR07", "PR10", "PR28", "PR30"],
        "units_per_box": [7.0, 10.0, 28.0, 30.0],
        "daily_units": [1.0, 1.0, 2.0, 1.0],
    }
)
STAFF = pl.DataFrame(
    {
        "staff_id": ["S1", "S2", "S3", "S9", "H1", "H2"],
        "role": ["callback", "callback", "callback", "callback", "home_visit", "home_visit"],
        "office_code": ["OF1", "OF1", "OF2", "OF1", "OF2", "OF2"],
        "active": [True, True, True, False, True, True],
    }
)


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def purchases(*rows: tuple) -> pl.DataFrame:
    """(patient_id, product_code, boxes, 'YYYY-MM-DD')"""
    return pl.DataFrame([(p, c, b, d(day)) for p, c, b, day in rows], schema=PURCHASES_SCHEMA, orient="row")


def event_purchases(*rows: tuple) -> pl.DataFrame:
    """(patient_id, product_code, boxes, 'YYYY-MM-DD', event_id)"""
    return pl.DataFrame([(p, c, b, d(day), e) for p, c, b, day, e in rows], schema=EVENT_PURCHASES_SCHEMA, orient="row")


def patients(*rows: tuple) -> pl.DataFrame:
    """(patient_id, office_code, callback_staff_id[, informed[, village, township, home_visit_staff_id]])"""
    full = []
    for row in rows:
        pid, office, callback, *rest = row
        informed = rest[0] if rest else True
        village, township, home = [*rest[1:4], None, None, None][:3]
        full.append((pid, office, callback, home, informed, village, township))
    return pl.DataFrame(full, schema=PATIENTS_SCHEMA, orient="row")


def visits(*rows: tuple) -> pl.DataFrame:
    """(patient_id, 'YYYY-MM-DD'[, outcome[, channel]]): calls to patients, in the evening."""
    full = []
    for row in rows:
        pid, day, *rest = row
        outcome = rest[0] if rest else "completed"
        channel = rest[1] if len(rest) > 1 else "phone"
        full.append(("patient", pid, channel, outcome, dt.datetime.combine(d(day), dt.time(19, 30))))
    return pl.DataFrame(full, schema=VISITS_SCHEMA, orient="row")


def consults(*rows: tuple) -> pl.DataFrame:
    """(consult_id, 'YYYY-MM-DD', office_code[, came_in[, purchased[, staff_id]]])"""
    full = []
    for row in rows:
        cid, day, office, *rest = row
        came_in = rest[0] if rest else False
        purchased = rest[1] if len(rest) > 1 else False
        staff = rest[2] if len(rest) > 2 else None
        full.append((cid, dt.datetime.combine(d(day), dt.time(10)), came_in, purchased, office, staff))
    return pl.DataFrame(full, schema=CONSULTS_SCHEMA, orient="row")


@dataclass(frozen=True)
class Scenario:
    """Supply inputs and the call records; ``at(run_date)`` reduces the calls as the task's query does."""

    inputs: SupplyInputs
    visits: pl.DataFrame

    def at(self, run_date: dt.date) -> SupplyInputs:
        return replace(self.inputs, contacts=contact_history(self.visits, cutoff_for(run_date)))


def inputs(
    purchase_rows: pl.DataFrame,
    patient_rows: pl.DataFrame,
    visit_rows: pl.DataFrame | None = None,
    consult_rows: pl.DataFrame | None = None,
    events: pl.DataFrame | None = None,
    staff: pl.DataFrame = STAFF,
) -> Scenario:
    supply_inputs = SupplyInputs(
        purchases=purchase_rows,
        event_purchases=events if events is not None else pl.DataFrame(schema=EVENT_PURCHASES_SCHEMA),
        products=PRODUCTS,
        patients=patient_rows,
        staff=staff,
        contacts=pl.DataFrame(schema=CONTACTS_SCHEMA),
        consults=consult_rows if consult_rows is not None else pl.DataFrame(schema=CONSULTS_SCHEMA),
    )
    return Scenario(supply_inputs, visit_rows if visit_rows is not None else pl.DataFrame(schema=VISITS_SCHEMA))


def run(data: Scenario, run_date: str, rules: Rules | None = None) -> SupplyResults:
    return build(data.at(d(run_date)), d(run_date), rules or Rules())


def listed(data: Scenario, run_date: str, rules: Rules | None = None) -> pl.DataFrame:
    """The day's callback lists (listed entries only), by staff and position."""
    return run(data, run_date, rules).callbacks.filter("listed").sort("staff_id", "position")
