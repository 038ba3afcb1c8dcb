"""The supply stage's computation for one run date: inputs in, result frames out, no I/O."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

import polars as pl

from keqing.clock import cutoff_for
from keqing.dates import month_start
from keqing.rules import Rules
from keqing.supply.adherence import adherence
from keqing.supply.callbacks import callback_assignments, callback_list, consult_calls
from keqing.supply.expiry import expiry_list, expiry_targets
from keqing.supply.frames import injective_seed
from keqing.supply.home_visits import home_visit_plan
from keqing.supply.load import callback_load
from keqing.supply.supply import Coverage, coverage, supply_state


@dataclass(frozen=True)
class SupplyInputs:
    """The feeds the stage reads (see the *_SCHEMA constants of the modules for columns)."""

    purchases: pl.DataFrame  # patient_id, product_code, boxes, purchase_date
    event_purchases: pl.DataFrame  # the same plus event_id, only rows with an event
    products: pl.DataFrame  # product_code, units_per_box, daily_units
    patients: pl.DataFrame  # patient_id, office_code, callback/home_visit staff, informed, village, township
    staff: pl.DataFrame  # staff_id, role, office_code, active
    contacts: pl.DataFrame  # patient_id, last_completed, last_attempt: calls up to the cutoff (contact_history)
    consults: pl.DataFrame  # consult_id, received_at, came_in, purchased, office_code, staff_id
    # The coverage read from the database (keqing/supply/state.py) instead of computed from
    # ``purchases``, which may then be empty: trimmed with ``keep_since_for`` as ``build`` trims it.
    coverage: Coverage | None = None


@dataclass(frozen=True)
class SupplyResults:
    patient_supply: pl.DataFrame
    expiry_list: pl.DataFrame
    expiry_targets: pl.DataFrame
    callbacks: pl.DataFrame  # every call of the day; ``listed`` marks those within capacity
    callback_load: pl.DataFrame  # per nurse: calls due against the capacity (keqing/supply/load.py)
    home_visit_plan: pl.DataFrame
    home_visit_patients: pl.DataFrame

    def summary(self) -> dict:
        """Counts for ops (JSON-ready, no personal data)."""
        listed = self.callbacks.filter("listed")
        offices = self.expiry_targets.filter(pl.col("scope") == "office")
        months = offices.group_by("month").agg(pl.col("size", "must_keep", "target", "repurchased").sum()).sort("month")
        today = self.home_visit_plan.filter(pl.col("visit_date") == pl.col("visit_date").min())
        return {
            "patient_products": self.patient_supply.height,
            "status": dict(sorted(Counter(self.patient_supply["status"].to_list()).items())),
            "low_adherence": int(self.patient_supply["low_adherence"].sum() or 0),
            "auto_assigned": int(self.patient_supply["callback_staff_auto"].sum() or 0),
            "without_callback_staff": int(self.patient_supply["callback_staff_id"].null_count()),
            "callbacks": {
                "listed": listed.height,
                "deferred": self.callbacks.height - listed.height,
                "staff": listed["staff_id"].drop_nulls().n_unique(),
                "by_reason": dict(sorted(Counter(listed["reason"].to_list()).items())),
                "staff_over_capacity": self.callback_load.filter(
                    pl.col("staff_id").is_not_null() & (pl.col("waiting") > 0)
                ).height,
            },
            "expiry": {
                row["month"].strftime("%Y-%m"): {k: int(row[k]) for k in ("size", "must_keep", "target", "repurchased")}
                for row in months.iter_rows(named=True)
            },
            "home_visits": {
                "plans": self.home_visit_plan.height,
                "patients": int(self.home_visit_plan["patients"].sum() or 0),
                "next_visit_date": today["visit_date"][0].isoformat() if today.height else None,
            },
        }


def keep_since_for(run_date: dt.date, rules: Rules) -> dt.date:
    """The first day a coverage row must still cover to matter on ``run_date``: the adherence
    window's first day or the first day of the month's expiry list, the earlier."""
    window_start = cutoff_for(run_date) - dt.timedelta(days=rules.adherence.window_days - 1)
    return min(window_start, month_start(run_date))


def build(inputs: SupplyInputs, run_date: dt.date, rules: Rules) -> SupplyResults:
    """Everything the stage produces for ``run_date`` from records dated up to the day before."""
    cutoff = cutoff_for(run_date)
    cov = inputs.coverage
    if cov is None:
        cov = coverage(inputs.purchases, inputs.products, cutoff, keep_since=keep_since_for(run_date, rules))
    state = supply_state(cov, run_date, rules).join(adherence(cov, cutoff, rules), on="gid", how="left")
    consults = consult_calls(inputs.consults, run_date, rules)
    seed = injective_seed(inputs.patients["patient_id"])  # u64 keys for patient ids, checked collision-free
    by_patient, by_consult = callback_assignments(state, consults, inputs.patients, inputs.staff, rules, seed)
    patient_supply = (
        state.drop("gid")
        .rename({"pdc": "pdc_180"})
        .join(
            by_patient.drop("informed").rename({"staff_id": "callback_staff_id", "staff_auto": "callback_staff_auto"}),
            on="patient_id",
            how="inner",
        )
    )
    entries = expiry_list(cov, run_date).join(
        by_patient.select("patient_id", "office_code", pl.col("staff_id").alias("callback_staff_id")),
        on="patient_id",
        how="inner",
    )
    calls = callback_list(state, inputs.contacts, consults, (by_patient, by_consult), run_date, rules, seed)
    plans, members = home_visit_plan(
        inputs.event_purchases, inputs.products, inputs.patients, inputs.staff, run_date, rules, seed
    )
    return SupplyResults(
        patient_supply=patient_supply,
        expiry_list=entries,
        expiry_targets=expiry_targets(entries, rules),
        callbacks=calls,
        callback_load=callback_load(calls, rules.callbacks.max_calls_per_day),
        home_visit_plan=plans,
        home_visit_patients=members,
    )
