"""The benchmark's peer (a per-patient pandas loop) must compute the same due callbacks as keqing,
or its speed ratio means nothing."""

from __future__ import annotations

import datetime as dt

from bench.peer_callbacks import COLUMNS, as_pandas, as_polars, keqing_calls, peer_calls
from bench.supply import synthetic_with_visits
from keqing.rules import Rules


def test_the_pandas_peer_lists_the_same_due_callbacks_as_keqing():
    run_date, rules = dt.date(2026, 11, 23), Rules()
    inputs, visits = synthetic_with_visits(patients=3_000, purchases=30_000, run_date=run_date)
    frames = {"purchases": inputs.purchases, "products": inputs.products, "visits": visits}
    ours = keqing_calls(frames, run_date, rules).select(COLUMNS).sort("patient_id", "product_code")
    theirs = as_polars(peer_calls(*as_pandas(frames), run_date, rules))
    theirs = theirs.select(COLUMNS).sort("patient_id", "product_code")
    assert ours.height > 500  # a real list, with every reason
    assert set(ours["reason"]) == {"cadence", "expiring", "overdue", "lapsed"}
    assert ours.equals(theirs)
