"""The benchmark's peer (a per-patient pandas loop) must compute the same due callbacks as keqing,
or its speed ratio means nothing."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import polars as pl

from bench.peer_callbacks import COLUMNS, keqing_calls, peer_calls
from bench.supply import synthetic
from keqing.rules import Rules


def _peer_frame(inputs, run_date: dt.date, rules: Rules) -> pl.DataFrame:
    purchases = inputs.purchases.sort("purchase_date").to_pandas()
    purchases["purchase_date"] = [d.date() for d in pd.to_datetime(purchases["purchase_date"])]
    theirs = peer_calls(purchases, inputs.products.to_pandas(), inputs.visits.to_pandas(), run_date, rules)
    return pl.from_pandas(theirs, schema_overrides={"due_date": pl.Date, "expiry_date": pl.Date})


def test_the_pandas_peer_lists_the_same_due_callbacks_as_keqing():
    run_date, rules = dt.date(2026, 11, 23), Rules()
    inputs = synthetic(patients=3_000, purchases=30_000, run_date=run_date)
    frames = {"purchases": inputs.purchases, "products": inputs.products, "visits": inputs.visits}
    ours = keqing_calls(frames, run_date, rules).select(COLUMNS).sort("patient_id", "product_code")
    theirs = _peer_frame(inputs, run_date, rules).select(COLUMNS).sort("patient_id", "product_code")
    assert ours.height > 500  # a real list, with every reason
    assert set(ours["reason"]) == {"cadence", "expiring", "overdue", "lapsed"}
    assert ours.equals(theirs)
