"""The peer: today's due callbacks as a user would write them by hand, against keqing's functions.

    PYTHONPATH=$PWD python bench/peer_callbacks.py --date 2026-11-01 [--patients 100000]

Both sides read the same rows from ``KEQING_DATABASE_URL`` (purchases up to the cutoff, products,
the latest call per patient, channel and outcome). keqing: ``coverage`` → ``supply_state`` →
``contact_history`` → ``patient_calls`` (vectorised Polars). The peer: pandas, one loop per
patient and product over its purchases in date order (consecutive coverage), then the same rules
of contract section 4 per row. The two lists must be equal (patient, product, reason, due date,
expiry date, due today); prints one JSON object with both times and their ratio.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import time

import pandas as pd
import polars as pl

from edges.db import make_engine, read_frame
from keqing.clock import cutoff_for
from keqing.rules import Rules
from keqing.supply.callbacks import contact_history, patient_calls
from keqing.supply.supply import coverage, supply_state

COLUMNS = ["patient_id", "product_code", "reason", "due_date", "expiry_date", "due_today"]


def read_inputs(url: str, run_date: dt.date, patients: int | None) -> dict[str, pl.DataFrame]:
    cutoff = cutoff_for(run_date)
    engine = make_engine(url)
    who = ""
    if patients:
        limit = read_frame(engine, f"SELECT patient_id FROM patients ORDER BY patient_id LIMIT 1 OFFSET {patients - 1}")
        who = f" AND patient_id <= '{limit['patient_id'][0]}'"
    purchases = read_frame(
        engine,
        f"SELECT patient_id, product_code, boxes, purchase_date FROM purchases WHERE purchase_date <= '{cutoff}'{who}",
        {"patient_id": pl.String, "product_code": pl.String, "boxes": pl.Int64, "purchase_date": pl.Date},
    )
    products = read_frame(
        engine,
        "SELECT product_code, units_per_box, daily_units FROM products",
        {"product_code": pl.String, "units_per_box": pl.Float64, "daily_units": pl.Float64},
    )
    visits = read_frame(
        engine,
        "SELECT target_type, target_id, channel, outcome, MAX(visit_at) AS visit_at FROM visits "
        f"WHERE target_type = 'patient' AND channel IN ('phone', 'home') AND visit_at < '{run_date}'"
        f"{who.replace('patient_id', 'target_id')} GROUP BY target_type, target_id, channel, outcome",
        {
            "target_type": pl.String,
            "target_id": pl.String,
            "channel": pl.String,
            "outcome": pl.String,
            "visit_at": pl.Datetime("us"),
        },
    )
    engine.dispose()
    return {"purchases": purchases, "products": products, "visits": visits}


def keqing_calls(inputs: dict[str, pl.DataFrame], run_date: dt.date, rules: Rules) -> pl.DataFrame:
    cutoff = cutoff_for(run_date)
    cov = coverage(inputs["purchases"], inputs["products"], cutoff)
    state = supply_state(cov, run_date, rules)
    contacts = contact_history(inputs["visits"], cutoff)
    return patient_calls(state, contacts, run_date, rules)


def _first_offset_after(t: int, days: list[int], every: int) -> int:
    for d in days:
        if t < d:
            return d
    return days[-1] + ((t - days[-1]) // every + 1) * every


def _is_cadence_offset(q: int, days: list[int], every: int) -> bool:
    return q in days or (q > days[-1] and (q - days[-1]) % every == 0)


def peer_calls(purchases: pd.DataFrame, products: pd.DataFrame, visits: pd.DataFrame, run_date: dt.date, rules: Rules):
    """The straightforward version: a Python loop per patient and product."""
    cutoff = cutoff_for(run_date)
    days, every = list(rules.callbacks.cadence_days), rules.callbacks.then_every_days
    until, expiring = rules.callbacks.until_days_after_expiry, rules.supply.expiring_within_days
    per_box = {r.product_code: r.units_per_box / r.daily_units for r in products.itertuples()}
    last_completed: dict[str, dt.date] = {}
    for v in visits.itertuples():
        if v.target_type != "patient" or v.channel not in ("phone", "home") or v.visit_at.date() > cutoff:
            continue
        if v.outcome is None or v.outcome == "completed":
            day = v.visit_at.date()
            if v.target_id not in last_completed or day > last_completed[v.target_id]:
                last_completed[v.target_id] = day
    out = []
    purchases = purchases[purchases["purchase_date"] <= cutoff]
    for (patient, product), group in purchases.groupby(["patient_id", "product_code"], sort=False):
        if product not in per_box:
            continue
        end = None
        last = None
        for bought, boxes in zip(group["purchase_date"], group["boxes"], strict=True):
            supply_days = math.floor(boxes * per_box[product] + 1e-9)
            start = bought if end is None or bought > end else end + dt.timedelta(days=1)
            end = start + dt.timedelta(days=supply_days - 1)
            last = bought if last is None or bought > last else last
        # Purchases come in date order (sorted below), so ``end`` is the current expiry date.
        done = last_completed.get(patient)
        since = max((done - last).days, 0) if done is not None else 0
        first_due = last + dt.timedelta(days=_first_offset_after(since, days, every))
        cadence = first_due <= min(run_date, end + dt.timedelta(days=until))
        lapse_day = end + dt.timedelta(days=until + 1)
        lapse = lapse_day <= run_date and (done is None or done < lapse_day)
        if cadence:
            due = first_due
        elif lapse:
            due = lapse_day
        else:
            continue
        days_left = (end - run_date).days
        if due < run_date:
            reason = "overdue"
        elif not cadence:
            reason = "lapsed"
        elif days_left <= expiring:
            reason = "expiring"
        else:
            reason = "cadence"
        due_today = (
            _is_cadence_offset((run_date - last).days, days, every) and run_date <= end + dt.timedelta(days=until)
        ) or run_date == lapse_day
        out.append((patient, product, reason, due, end, due_today))
    return pd.DataFrame(out, columns=COLUMNS)


def as_pandas(frames: dict[str, pl.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(purchases in date order with ``datetime.date`` days, products, visits) as the peer takes them."""
    purchases = frames["purchases"].sort("purchase_date").to_pandas()
    purchases["purchase_date"] = [d.date() for d in pd.to_datetime(purchases["purchase_date"])]
    return purchases, frames["products"].to_pandas(), frames["visits"].to_pandas()


def as_polars(calls: pd.DataFrame) -> pl.DataFrame:
    """The peer's list as a Polars frame with keqing's column types."""
    return pl.from_pandas(calls, schema_overrides={"due_date": pl.Date, "expiry_date": pl.Date})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--date", type=dt.date.fromisoformat, required=True, help="run_date")
    parser.add_argument("--patients", type=int, help="only the first N patients (by id)")
    args = parser.parse_args()
    rules = Rules()
    inputs = read_inputs(os.environ["KEQING_DATABASE_URL"], args.date, args.patients)

    t0 = time.perf_counter()
    ours = keqing_calls(inputs, args.date, rules)
    keqing_seconds = time.perf_counter() - t0

    purchases, products, visits = as_pandas(inputs)
    t0 = time.perf_counter()
    theirs = peer_calls(purchases, products, visits, args.date, rules)
    peer_seconds = time.perf_counter() - t0

    a = ours.select(COLUMNS).sort("patient_id", "product_code")
    b = as_polars(theirs)
    b = b.select(COLUMNS).sort("patient_id", "product_code") if b.height else a.clear()
    same = a.equals(b)
    print(
        json.dumps(
            {
                "purchases": inputs["purchases"].height,
                "patient_products": inputs["purchases"].select("patient_id", "product_code").n_unique(),
                "calls": a.height,
                "peer_calls": b.height,
                "same": same,
                "keqing_seconds": round(keqing_seconds, 3),
                "peer_seconds": round(peer_seconds, 2),
                "ratio": round(peer_seconds / keqing_seconds, 1),
            }
        )
    )
    if not same:
        raise SystemExit("the peer's list differs from keqing's")


if __name__ == "__main__":
    main()
