"""Benchmark of the view builders' pure assembly (reports/assemble.py) at ``large`` scale, frames built in memory.

    python bench/views.py [--staff 2000] [--customers 200000]

(The email benchmark is ``bench/emails.py``, so that no script here shadows the stdlib ``email``.)

Large: 2,000 staff (65% reps with 12 targets, 27% callback staff with 40 calls and 25 expiry entries,
5% home-visit staff with 2 villages of 8 patients, 3% managers over 3 levels), 200,000 customers, a
month's grade history with 10% of the customers moved. Prints the seconds of each role's assembly
(frames -> views) and the peak RSS of the process (``resource.getrusage``). The SQL reads are not
timed here.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import time

import numpy as np
import polars as pl

from keqing.rules import Rules
from reports.assemble import (
    assemble_callback_views,
    assemble_home_visit_views,
    assemble_manager_views,
    assemble_rep_views,
)

RUN_DATE = dt.date(2026, 11, 23)  # a Monday: the ranking is built
GRADES = ["A", "B", "C", "D", "U", "N", "V", "T"]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ids(prefix: str, n: int, start: int = 0) -> list[str]:
    return [f"{prefix}{i:07d}" for i in range(start, start + n)]


def build(n_staff: int, n_customers: int, rng: np.random.Generator) -> dict[str, pl.DataFrame]:
    n_rep, n_cb, n_hv = int(n_staff * 0.65), int(n_staff * 0.27), int(n_staff * 0.05)
    n_mgr = n_staff - n_rep - n_cb - n_hv
    reps, nurses, homes, mgrs = ids("R", n_rep), ids("N", n_cb), ids("H", n_hv), ids("M", n_mgr)
    top = mgrs[: max(1, n_mgr // 10)]
    mid = mgrs[len(top) :]
    workers = reps + nurses + homes
    staff = pl.DataFrame(
        {
            "staff_id": mgrs + workers,
            "name": [f"员工{i}" for i in range(n_staff)],
            "role": ["manager"] * n_mgr + ["rep"] * n_rep + ["callback"] * n_cb + ["home_visit"] * n_hv,
            "email": [f"s{i}@example.com" for i in range(n_staff)],
            "manager_id": [None] * len(top)
            + [top[i % len(top)] for i in range(len(mid))]
            + [mid[i % len(mid)] for i in range(len(workers))],
            "team": ["ONC" if i % 7 == 0 else "GEN" for i in range(n_staff)],
            "active": rng.random(n_staff) > 0.02,
        }
    )
    cust_ids = ids("C", n_customers)
    owner_idx = rng.integers(0, n_rep, n_customers)
    customers = pl.DataFrame(
        {
            "customer_id": cust_ids,
            "customer_name": [f"客户{i}" for i in range(n_customers)],
            "institution": [f"医院{i // 40}" for i in range(n_customers)],
            "owner_staff_id": np.array(reps)[owner_idx],
        }
    )
    by_owner = customers.with_row_index("i").group_by("owner_staff_id").agg(pl.col("customer_id").head(14))
    picks = by_owner.explode("customer_id").with_columns(n=pl.int_range(pl.len()).over("owner_staff_id"))
    targets = (
        picks.filter(pl.col("n") < 12)
        .rename({"owner_staff_id": "staff_id"})
        .with_columns(
            rank=pl.col("n") + 1,
            reason=pl.lit("frequency"),
            grade=pl.lit("B"),
            nine_box=pl.lit("B2"),
            strategy=pl.lit("进攻"),
            visits_this_month=pl.lit(1),
            standard=pl.lit(4),
            last_visit_date=pl.lit(RUN_DATE - dt.timedelta(days=9)),
            institution=pl.lit("医院"),
            department=pl.lit("心内科"),
        )
        .drop("n")
    )
    extra = picks.filter(pl.col("n") >= 12).rename({"owner_staff_id": "staff_id"})
    reorders = extra.filter(pl.col("n") == 12).select(
        "staff_id",
        "customer_id",
        last_order_date=pl.lit(dt.date(2026, 10, 1)),
        due_date=pl.lit(dt.date(2026, 11, 1)),
        days_overdue=pl.lit(22),
    )
    rewards = extra.filter(pl.col("n") == 13).select(
        pl.lit("2026Q3").alias("quarter"),
        "customer_id",
        pl.col("staff_id").alias("owner_staff_id"),
        points=pl.lit(620),
        tier=pl.lit("bronze"),
    )
    att = pl.DataFrame({"staff_id": reps}).join(pl.DataFrame({"grade": [*GRADES, "ALL"]}), how="cross")
    attainment = att.with_columns(
        customers=pl.lit(20),
        visits_required=pl.lit(40),
        visits_credited=pl.lit(25),
        customers_visited_month=pl.lit(12),
        customers_visited_quarter=pl.lit(18),
        monthly_coverage=pl.lit(0.6),
        quarterly_coverage=pl.lit(0.9),
        standard_monthly_coverage=pl.lit(0.9),
        standard_quarterly_coverage=pl.lit(1.0),
        avg_calls_per_day=pl.lit(10.5),
        daily_plan=pl.lit(12),
        field_days_so_far=pl.lit(15),
    )
    n_calls, n_exp = n_cb * 40, n_cb * 25
    pids = ids("P", n_calls + n_exp)
    patients = pl.DataFrame(
        {
            "patient_id": pids,
            "name": [f"患者{i}" for i in range(len(pids))],
            "phone": [f"138{i:08d}" for i in range(len(pids))],
            "disease": ["高血压"] * len(pids),
            "informed": rng.random(len(pids)) > 0.1,
            "contact_name": ["家属"] * len(pids),
            "contact_relation": ["子女"] * len(pids),
        }
    )
    calls = pl.DataFrame(
        {
            "staff_id": np.repeat(nurses, 40),
            "patient_id": pids[:n_calls],
            "consult_id": [None] * n_calls,
            "product_code": ["PR01"] * n_calls,
            "reason": ["cadence"] * n_calls,
            "position": np.tile(np.arange(1, 41), n_cb),
            "due_date": [RUN_DATE] * n_calls,
            "expiry_date": [RUN_DATE + dt.timedelta(days=5)] * n_calls,
            "low_adherence": rng.random(n_calls) > 0.8,
        },
        schema_overrides={"consult_id": pl.String},
    )
    consults = pl.DataFrame(schema={"consult_id": pl.String, "name": pl.String, "phone": pl.String})
    expiry = pl.DataFrame(
        {
            "month": [RUN_DATE.replace(day=1)] * n_exp,
            "patient_id": pids[n_calls:],
            "product_code": ["PR01"] * n_exp,
            "expiry_date": [RUN_DATE + dt.timedelta(days=int(d)) for d in rng.integers(-20, 7, n_exp)],
            "callback_staff_id": np.repeat(nurses, 25),
            "repurchased": rng.random(n_exp) > 0.3,
        }
    )
    targets_cb = pl.DataFrame(
        {"month": [RUN_DATE.replace(day=1)] * n_cb, "scope": ["staff"] * n_cb, "staff_id": nurses}
    ).with_columns(must_keep=pl.lit(15), target=pl.lit(20))
    products = pl.DataFrame({"product_code": ["PR01"], "name": ["心脉通胶囊"]})
    n_plans = n_hv * 2
    plans = pl.DataFrame(
        {
            "plan_no": np.arange(1, n_plans + 1),
            "staff_id": np.repeat(homes, 2),
            "event_id": [f"E{i}" for i in range(n_plans)],
            "township": ["青山镇"] * n_plans,
            "village": [f"村{i}" for i in range(n_plans)],
            "boxes": [3] * n_plans,
            "visit_date": [RUN_DATE] * n_plans,
        }
    )
    plan_patients = pl.DataFrame(
        {"plan_no": np.repeat(np.arange(1, n_plans + 1), 8), "patient_id": pids[: n_plans * 8]}
    )
    bought = plan_patients.join(plans.select("plan_no", "event_id"), on="plan_no").select(
        "event_id", "patient_id", boxes=pl.lit(3, pl.Int64)
    )
    moved = customers.sample(fraction=0.1, seed=1)["customer_id"]
    history = pl.concat(
        [
            pl.DataFrame({"customer_id": moved, "valid_from": [dt.date(2026, 10, 2)] * len(moved), "grade": "C"}),
            pl.DataFrame({"customer_id": moved, "valid_from": [dt.date(2026, 11, 10)] * len(moved), "grade": "B"}),
        ]
    )
    done = pl.DataFrame({"staff_id": reps + nurses, "completed": rng.integers(0, 200, n_rep + n_cb)})
    return {
        "staff": staff,
        "customers": customers,
        "targets": targets,
        "attainment": attainment,
        "reorders": reorders,
        "rewards": rewards,
        "calls": calls,
        "patients": patients,
        "consults": consults,
        "products": products,
        "expiry": expiry,
        "expiry_targets": targets_cb,
        "plans": plans,
        "plan_patients": plan_patients,
        "bought": bought,
        "history": history,
        "done": done,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--staff", type=int, default=2_000)
    parser.add_argument("--customers", type=int, default=200_000)
    args = parser.parse_args()
    f = build(args.staff, args.customers, np.random.default_rng(7))
    rules = Rules()
    print(f"frames built: {sum(x.height for x in f.values()):,} rows; peak RSS {peak_rss_mb():.0f} MB")
    steps = {
        "rep": lambda: assemble_rep_views(
            RUN_DATE, f["staff"], f["customers"], f["targets"], f["attainment"], f["reorders"], f["rewards"]
        ),
        "callback": lambda: assemble_callback_views(
            RUN_DATE,
            f["staff"],
            f["calls"],
            f["patients"],
            f["consults"],
            f["products"],
            f["expiry"],
            f["expiry_targets"],
        ),
        "home_visit": lambda: assemble_home_visit_views(
            RUN_DATE, f["staff"], f["plans"], f["plan_patients"], f["patients"], f["bought"]
        ),
        "manager": lambda: assemble_manager_views(
            RUN_DATE, rules, f["staff"], f["customers"], f["attainment"], f["history"], f["done"]
        ),
    }
    total = 0.0
    for name, step in steps.items():
        start = time.perf_counter()
        views = step()
        seconds = time.perf_counter() - start
        total += seconds
        rows = sum(sum(1 for _ in v.owned()) for v in views)
        print(f"{name:<10} {len(views):>5} views {rows:>8,} rows  {seconds:6.2f} s")
    print(f"total {total:.2f} s; peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
