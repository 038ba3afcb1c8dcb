"""Benchmark of the supply stage's pure computation on synthetic frames built in memory.

    PYTHONPATH=$PWD python bench/supply.py --scale large [--run-date 2026-11-23] [--repeat 1]

Scales (patients / purchases): small 10k / 100k, medium 100k / 1M, large 1M / 10M. Prints the
seconds of each step and of the whole ``pipeline.build``, and the peak RSS of the process
(``resource.getrusage``), which includes the input frames themselves.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import time
from contextlib import contextmanager

import numpy as np
import polars as pl

from keqing.clock import cutoff_for
from keqing.rules import Rules
from keqing.supply import pipeline
from keqing.supply.adherence import adherence
from keqing.supply.callbacks import (
    callback_assignments,
    callback_list,
    consult_calls,
    contact_history,
)
from keqing.supply.expiry import expiry_list, expiry_targets
from keqing.supply.frames import injective_seed
from keqing.supply.home_visits import home_visit_plan
from keqing.supply.supply import coverage, supply_state

SCALES = {"small": (10_000, 100_000), "medium": (100_000, 1_000_000), "large": (1_000_000, 10_000_000)}
EPOCH = dt.date(1970, 1, 1)


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB on Linux


def ids(prefix: str, numbers: np.ndarray, width: int) -> pl.Series:
    return pl.select(pl.format(prefix + "{}", pl.lit(pl.Series(numbers)).cast(pl.String).str.zfill(width))).to_series()


def where(mask: np.ndarray, values: pl.Series) -> pl.Series:
    """``values`` where ``mask``, null elsewhere."""
    return pl.select(pl.when(pl.lit(pl.Series(mask))).then(pl.lit(values))).to_series()


def synthetic(patients: int, purchases: int, run_date: dt.date, seed: int = 7) -> pipeline.SupplyInputs:
    """The inputs of ``synthetic_with_visits``."""
    return synthetic_with_visits(patients, purchases, run_date, seed)[0]


def synthetic_with_visits(
    patients: int, purchases: int, run_date: dt.date, seed: int = 7
) -> tuple[pipeline.SupplyInputs, pl.DataFrame]:
    """Supply inputs and the call records their contacts come from. Realistic shapes: ~4,000
    patients an office, 8 callback and 2 home-visit staff an office, 10% of patients without a
    callback nurse, refills every one to three months over two years, 5% of purchases at free
    clinics of rural offices."""
    rng = np.random.default_rng(seed)
    offices = max(3, patients // 4000)
    office_codes = ids("OF", np.arange(offices), 4)
    rural = np.arange(offices) % 5 == 0  # every fifth office is rural

    callback_per, home_per = 8, 2
    staff_n = offices * (callback_per + home_per)
    staff_office = np.repeat(np.arange(offices), callback_per + home_per)
    staff_role = np.tile(np.array(["callback"] * callback_per + ["home_visit"] * home_per), offices)
    staff = pl.DataFrame(
        {
            "staff_id": ids("S", np.arange(staff_n), 6),
            "role": staff_role,
            "office_code": office_codes.gather(staff_office),
            "active": rng.random(staff_n) > 0.02,
        }
    )

    p_office = rng.integers(0, offices, patients)
    cb_pick = p_office * (callback_per + home_per) + rng.integers(0, callback_per, patients)
    hv_pick = p_office * (callback_per + home_per) + callback_per + rng.integers(0, home_per, patients)
    staff_ids = staff["staff_id"]
    patient_ids = ids("P", np.arange(patients), 7)
    is_rural = rural[p_office]
    village = p_office * 50 + rng.integers(0, 50, patients)
    patients_df = pl.DataFrame(
        {
            "patient_id": patient_ids,
            "office_code": office_codes.gather(p_office),
            "callback_staff_id": where(rng.random(patients) > 0.1, staff_ids.gather(cb_pick)),
            "home_visit_staff_id": where(is_rural, staff_ids.gather(hv_pick)),
            "informed": pl.Series(rng.choice([True, False], patients, p=[0.88, 0.12])),
            "village": where(is_rural, ids("村", village, 6)),
            "township": where(is_rural, ids("镇", village // 10, 5)),  # 10 villages a township
        }
    )

    products = pl.DataFrame(
        {
            "product_code": ids("PR", np.arange(20), 2),
            "units_per_box": rng.choice([7.0, 14.0, 28.0, 30.0, 60.0], 20),
            "daily_units": rng.choice([1.0, 2.0, 3.0], 20),
        }
    )

    # Purchases: each patient has one or two products and a history of refills over two years.
    per_patient = rng.poisson(purchases / patients - 1, patients) + 1
    scale = purchases / per_patient.sum()
    per_patient = np.maximum(1, np.round(per_patient * scale).astype(np.int64))
    n = int(per_patient.sum())
    owner = np.repeat(np.arange(patients), per_patient)
    second = rng.random(patients) < 0.2
    main_product = rng.integers(0, 20, patients)
    other_product = (main_product + 1 + rng.integers(0, 19, patients)) % 20
    use_other = second[owner] & (rng.random(n) < 0.3)
    product = np.where(use_other, other_product[owner], main_product[owner])
    end = (cutoff_for(run_date) - EPOCH).days
    start = end - rng.integers(30, 730, patients)
    day = start[owner] + (rng.random(n) * (end - start[owner] + 1)).astype(np.int64)
    boxes = rng.choice([1, 2, 3, 5, 7, 10], n, p=[0.2, 0.2, 0.3, 0.1, 0.15, 0.05])
    free_clinic = is_rural[owner] & (rng.random(n) < 0.25)
    event = np.where(free_clinic, p_office[owner] * 1000 + (day // 30) % 1000, -1)
    purchases_df = pl.DataFrame(
        {
            "patient_id": patient_ids.gather(owner),
            "product_code": products["product_code"].gather(product),
            "boxes": boxes.astype(np.int64),
            "purchase_date": pl.Series(day.astype(np.int32)).cast(pl.Date),
            "event_id": pl.Series(event).cast(pl.String),
        }
    ).with_columns(pl.when(pl.col("event_id") != "-1").then(pl.format("EV{}", pl.col("event_id"))).alias("event_id"))
    event_purchases = purchases_df.filter(pl.col("event_id").is_not_null())

    # Calls: one per patient, reduced by contact_history as the task's query reduces them.
    called = rng.random(patients) < 0.8
    who = np.flatnonzero(called)
    visits = pl.DataFrame(
        {
            "target_type": "patient",
            "target_id": patient_ids.gather(who),
            "channel": rng.choice(["phone", "home"], who.size, p=[0.9, 0.1]),
            "outcome": rng.choice(["completed", "not_reached"], who.size, p=[0.8, 0.2]),
            "visit_at": pl.Series((end - rng.integers(0, 40, who.size)).astype(np.int32))
            .cast(pl.Date)
            .cast(pl.Datetime("us")),
        }
    )
    consult_n = max(100, patients // 20)
    consults = pl.DataFrame(
        {
            "consult_id": ids("C", np.arange(consult_n), 8),
            "received_at": pl.Series((end - rng.integers(0, 30, consult_n)).astype(np.int32))
            .cast(pl.Date)
            .cast(pl.Datetime("us")),
            "came_in": rng.random(consult_n) < 0.3,
            "purchased": rng.random(consult_n) < 0.2,
            "office_code": office_codes.gather(rng.integers(0, offices, consult_n)),
            "staff_id": pl.Series([None] * consult_n, dtype=pl.String),
        }
    )
    supply_inputs = pipeline.SupplyInputs(
        purchases=purchases_df.drop("event_id"),
        event_purchases=event_purchases,
        products=products,
        patients=patients_df,
        staff=staff,
        contacts=contact_history(visits, cutoff_for(run_date)),
        consults=consults,
    )
    return supply_inputs, visits


@contextmanager
def timed(label: str):
    t0, c0 = time.perf_counter(), time.process_time()
    yield
    print(f"  {label:<28} {time.perf_counter() - t0:7.2f} s wall {time.process_time() - c0:7.2f} s CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=sorted(SCALES), default="medium")
    parser.add_argument("--run-date", type=dt.date.fromisoformat, default=dt.date(2026, 11, 23))
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    patients, purchases = SCALES[args.scale]
    rules, run_date = Rules(), args.run_date
    cutoff = cutoff_for(run_date)

    t0 = time.perf_counter()
    inputs = synthetic(patients, purchases, run_date)
    print(
        f"{args.scale}: {inputs.patients.height:,} patients, {inputs.purchases.height:,} purchases "
        f"({inputs.event_purchases.height:,} at free clinics), {inputs.staff.height:,} staff; "
        f"built in {time.perf_counter() - t0:.1f} s, RSS so far {peak_rss_gb():.2f} GB"
    )

    print("steps:")
    with timed("coverage"):
        cov = coverage(inputs.purchases, inputs.products, cutoff)
    with timed("supply_state"):
        state = supply_state(cov, run_date, rules)
    with timed("adherence (PDC)"):
        state = state.join(adherence(cov, cutoff, rules), on="gid")
    with timed("consult_calls"):
        consults = consult_calls(inputs.consults, run_date, rules)
    with timed("patient key + assignments"):
        seed = injective_seed(inputs.patients["patient_id"])
        assignments = callback_assignments(state, consults, inputs.patients, inputs.staff, rules, seed)
    with timed("expiry_list"):
        entries = expiry_list(cov, run_date).join(
            assignments[0].select("patient_id", "office_code", pl.col("staff_id").alias("callback_staff_id")),
            on="patient_id",
        )
    with timed("expiry_targets"):
        expiry_targets(entries, rules)
    with timed("callback_list"):
        callback_list(state, inputs.contacts, consults, assignments, run_date, rules, seed)
    with timed("home_visit_plan"):
        home_visit_plan(inputs.event_purchases, inputs.products, inputs.patients, inputs.staff, run_date, rules, seed)
    del cov, state, consults, assignments, entries

    for i in range(args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        results = pipeline.build(inputs, run_date, rules)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        print(f"pipeline.build (all of the above) run {i + 1}: {wall:.2f} s wall, {cpu:.2f} s CPU (both cores)")
    summary = results.summary()
    print(
        f"patient-products {summary['patient_products']:,}, status {summary['status']}, "
        f"calls listed {summary['callbacks']['listed']:,} deferred {summary['callbacks']['deferred']:,}, "
        f"expiry entries {results.expiry_list.height:,}, home-visit plans {results.home_visit_plan.height:,}"
    )
    print(f"peak RSS {peak_rss_gb():.2f} GB")


if __name__ == "__main__":
    main()
