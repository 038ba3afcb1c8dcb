"""Offices get callback staff for their callback demand (seed 000: 40 calls a person a day)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from keqing.generate import build_feeds, population
from keqing.generate.scales import SCALES, Calendar


@pytest.mark.parametrize(("days", "seed"), [(93, 42), (250, 7)])
def test_small_offices_have_callback_staff_for_about_forty_calls_due_a_day(days: int, seed: int, monkeypatch):
    small = SCALES["small"]
    seen = {}
    hire = population.staff_callbacks_by_demand

    def spy(seed, staff, patients, demand):
        seen["demand"] = demand
        seen["staff"], seen["patients"] = hire(seed, staff, patients, demand)
        return seen["staff"], seen["patients"]

    monkeypatch.setattr(population, "staff_callbacks_by_demand", spy)
    build_feeds(small, Calendar(small.start, days), seed)
    staff, patients, demand = seen["staff"], seen["patients"], seen["demand"]
    nurses = staff.filter((pl.col("role") == "callback") & pl.col("active"))
    per_office = nurses.group_by("_office").len().sort("_office")["len"].to_numpy()
    # Each office: round(calls a working day / 40) nurses, unanswered calls made again included.
    assert (demand > 200).all()
    assert (per_office == np.round(demand / 40)).all()
    # Each nurse's share of her office's demand, by her patients: about 40 a day, some a little over.
    share = patients.filter(pl.col("_callback") >= 0).group_by("_office", "callback_staff_id").len()
    load = share.with_columns(
        (
            pl.col("len")
            / pl.col("len").sum().over("_office")
            * pl.col("_office").replace_strict(dict(enumerate(demand)), return_dtype=pl.Float64)
        ).alias("calls")
    )["calls"]
    assert 36 <= load.mean() <= 44
    assert 0 < (load > 40).sum() < load.len()
    assert load.max() < 60


def test_tiny_and_large_keep_their_share_of_callback_staff():
    # tiny's small fixed figures are asserted by the end-to-end tests; large's by the benchmark.
    assert not SCALES["tiny"].callbacks_by_demand and not SCALES["large"].callbacks_by_demand
    assert SCALES["small"].callbacks_by_demand and SCALES["medium"].callbacks_by_demand
