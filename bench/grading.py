"""Benchmark of the grading stage's pure compute at ``large`` scale, on synthetic frames built in memory.

200,000 customers (60% doctors, 15% non-prescribers, 25% terminals) in 50 offices, about 1,000 reps
(20% ONC, 2% inactive), two years of visits to customers (about 5 million), 24 months of rx_monthly
and of terminal orders, and a grade history from an earlier run. Times grading (grades, history,
movements) and all targets (attainment, today's lists, orphans); prints wall and CPU seconds per step
and peak RSS. On a busy machine the wall time exceeds the CPU time; the load average is printed too.

    PYTHONPATH=. python bench/grading.py [--customers 200000] [--seed 7]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import time

import numpy as np
import polars as pl

from keqing.calendar import PACKAGE
from keqing.grading import (
    Periods,
    apply_changes,
    due_today,
    grade_customers,
    grade_movements,
    history_changes,
    orphan_customers,
    rep_attainment,
    visit_facts,
    visit_targets,
)
from keqing.grading.history import empty_history
from keqing.rules import Rules

RUN = dt.date(2026, 11, 23)
START = dt.date(2024, 11, 23)  # two years of visits and orders
CHANNELS = np.array(["face", "face", "face", "face", "phone", "meeting", "wechat", "sms"])
OUTCOMES = np.array(["completed"] * 8 + ["not_reached", "refused", "rescheduled"])
TITLES = np.array(["院办领导", "药剂科主任", "库管", "采购", "门诊药房组长", "检验科", "护士长", "医务科"])
DEPARTMENTS = np.array(["心内科", "内分泌科", "神经内科", "肿瘤科", "呼吸科", "药剂科", "院办", None], dtype=object)


def build(n_customers: int, seed: int) -> dict[str, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    n_offices = 50
    n_reps = max(n_customers // 200, 1)
    n_managers = max(n_reps // 10, 1)
    reps = [f"R{i:05d}" for i in range(n_reps)]
    managers = [f"M{i:04d}" for i in range(n_managers)]
    staff = pl.DataFrame(
        {
            "staff_id": reps + managers,
            "role": ["rep"] * n_reps + ["manager"] * n_managers,
            "office_code": [f"OF{(i % n_offices):03d}" for i in range(n_reps)]
            + [f"OF{(i % n_offices):03d}" for i in range(n_managers)],
            "manager_id": [managers[i % n_managers] for i in range(n_reps)] + [None] * n_managers,
            "team": np.where(rng.random(n_reps) < 0.2, "ONC", "GEN").tolist() + [None] * n_managers,
            "active": (rng.random(n_reps) > 0.02).tolist() + [True] * n_managers,
        }
    )
    owner_index = rng.integers(0, n_reps, n_customers)
    kind = rng.choice(np.array(["doctor", "nonprescriber", "terminal"]), n_customers, p=[0.6, 0.15, 0.25])
    customers = pl.DataFrame(
        {
            "customer_id": [f"C{i:07d}" for i in range(n_customers)],
            "kind": kind,
            "institution": [f"H{j:05d}" for j in rng.integers(0, n_customers // 40, n_customers)],
            "department": rng.choice(DEPARTMENTS, n_customers).tolist(),
            "title": np.where(kind == "nonprescriber", rng.choice(TITLES, n_customers), None).tolist(),
            "is_kol": rng.random(n_customers) < 0.03,
            "owner_staff_id": np.array(reps)[owner_index],
            "office_code": np.array([f"OF{(i % n_offices):03d}" for i in range(n_reps)])[owner_index],
        }
    )
    doctors = customers.filter(pl.col("kind") == "doctor")["customer_id"]
    doctors = doctors.sample(fraction=0.95, seed=seed)  # 5% without rx data yet
    months = pl.date_range(dt.date(2024, 11, 1), dt.date(2026, 10, 1), "1mo", eager=True)
    rx = (
        pl.DataFrame({"customer_id": doctors})
        .join(pl.DataFrame({"month": months}), how="cross")
        .join(pl.DataFrame({"product_code": ["PR01", "PR02"]}), how="cross")
        .sample(fraction=0.75, seed=seed)
    )
    scale = rng.lognormal(3.5, 0.9, rx.height)
    rx = rx.with_columns(
        pl.Series("market_rx", scale.round().astype(np.int64)),
        pl.Series("our_rx", (scale * rng.beta(2, 5, rx.height)).round().astype(np.int64)),
    )
    terminals = customers.filter(pl.col("kind") == "terminal")["customer_id"].to_numpy()
    n_orders = len(terminals) * 24
    days = (RUN - START).days
    orders = pl.DataFrame(
        {
            "customer_id": rng.choice(terminals, n_orders),
            "amount": rng.lognormal(6, 1, n_orders).round(2),
            "order_date": np.datetime64(START) + rng.integers(0, days, n_orders).astype("timedelta64[D]"),
            "kind": np.where(rng.random(n_orders) < 0.03, "return", "order"),
        }
    )
    n_visits = n_reps * 10 * 500  # ten calls a working day for two years
    visited = rng.integers(0, n_customers, n_visits)
    by_owner = rng.random(n_visits) < 0.95
    visitor = np.where(
        by_owner, np.array(reps)[owner_index[visited]], np.array(reps)[rng.integers(0, n_reps, n_visits)]
    )
    at = np.datetime64(START) + rng.integers(0, days * 24 * 60, n_visits).astype("timedelta64[m]")
    has_next = rng.random(n_visits) < 0.3
    next_days = rng.integers(1, 30, n_visits)
    visits = pl.DataFrame(
        {
            "visit_id": pl.int_range(n_visits, eager=True).cast(pl.String),
            "staff_id": visitor,
            "target_type": ["customer"] * n_visits,
            "target_id": customers["customer_id"].to_numpy()[visited],
            "visit_at": at.astype("datetime64[us]"),
            "channel": rng.choice(CHANNELS, n_visits),
            "outcome": rng.choice(OUTCOMES, n_visits),
        }
    ).with_columns(
        pl.when(pl.Series(has_next))
        .then(pl.col("visit_at").dt.date() + pl.duration(days=pl.Series(next_days)))
        .alias("next_visit_date")
    )
    return {"customers": customers, "staff": staff, "rx": rx, "orders": orders, "visits": visits}


def cpu_seconds() -> float:
    """User + system CPU time of this process (all threads): the compute, whatever else the machine runs."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    t0 = time.perf_counter()
    data = build(args.customers, args.seed)
    print(
        f"built in {time.perf_counter() - t0:.1f} s: "
        + ", ".join(f"{name} {frame.height:,}" for name, frame in data.items())
        + f"; peak RSS {peak_rss_mb():,.0f} MB"
    )
    rules = Rules()
    c, s, v = data["customers"], data["staff"], data["visits"]
    # An earlier run's history, so this run's history update is the nightly one (some grades change).
    earlier = grade_customers(
        c, data["rx"].filter(pl.col("month") < dt.date(2026, 10, 1)), data["orders"], dt.date(2026, 10, 8), rules
    )
    up, de = history_changes(empty_history(), earlier, dt.date(2026, 10, 8))
    history = apply_changes(empty_history(), up, de)

    load_before = os.getloadavg()[0]
    timings: dict[str, tuple[float, float]] = {}

    def timed(name: str, fn):
        start, cpu_start = time.perf_counter(), cpu_seconds()
        result = fn()
        timings[name] = (time.perf_counter() - start, cpu_seconds() - cpu_start)
        return result

    periods = timed("periods (calendar)", lambda: Periods.for_run(RUN, PACKAGE))
    grades = timed("grade_customers", lambda: grade_customers(c, data["rx"], data["orders"], RUN, rules))
    upserts, deletes = timed("history_changes", lambda: history_changes(history, grades, RUN))
    after = timed("apply_changes", lambda: apply_changes(history, upserts, deletes))
    moves = timed("grade_movements", lambda: grade_movements(after, RUN))
    facts = timed("visit_facts", lambda: visit_facts(v, c, periods, rules))
    attainment = timed("rep_attainment", lambda: rep_attainment(c, grades, s, v, periods, rules, facts=facts))
    due = timed("due_today", lambda: due_today(c, grades, v, periods, rules, facts=facts))
    targets = timed("visit_targets", lambda: visit_targets(c, grades, s, v, periods, rules, due=due))
    orphans = timed("orphan_customers", lambda: orphan_customers(due, s))
    print(f"load average before: {load_before:.1f} on {os.cpu_count()} CPUs; Polars threads: {pl.thread_pool_size()}")
    print(f"  {'step':<20} {'wall s':>7} {'cpu s':>7}")
    for name, (wall, cpu) in timings.items():
        print(f"  {name:<20} {wall:7.2f} {cpu:7.2f}")
    print(f"  {'total':<20} {sum(w for w, _ in timings.values()):7.2f} {sum(c for _, c in timings.values()):7.2f}")
    print(
        f"results: {grades.height:,} grades, {upserts.height:,} history rows written, {moves.height:,} movement rows, "
        f"{attainment.height:,} attainment rows, {targets.height:,} targets for {targets['staff_id'].n_unique():,} "
        f"reps, {orphans.height:,} orphans"
    )
    print(f"peak RSS {peak_rss_mb():,.0f} MB")


if __name__ == "__main__":
    main()
