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
    # Each office: round(calls a day / 36) nurses (36 = 40 a nurse can make, less a tenth for the days
    # a nurse has more due), unanswered calls made again included.
    assert population.STAFFED_FOR == 36
    assert (demand > 200).all()
    assert (per_office == np.round(demand / 36)).all()
    # The office's patients are shared evenly: within an office, patient counts differ by at most one.
    share = patients.filter(pl.col("_callback") >= 0).group_by("_office", "callback_staff_id").len()
    spread = share.group_by("_office").agg((pl.col("len").max() - pl.col("len").min()).alias("spread"))
    assert spread["spread"].max() <= 1
    assert share.height == nurses.height
    # Each nurse's share of her office's demand, by her patients: under 40 a day on average (the
    # median nurse at or under 40), so that only the nurses with a heavy day go a little over.
    load = share.with_columns(
        (
            pl.col("len")
            / pl.col("len").sum().over("_office")
            * pl.col("_office").replace_strict(dict(enumerate(demand)), return_dtype=pl.Float64)
        ).alias("calls")
    )["calls"]
    assert 33 <= load.mean() <= 39
    assert load.median() <= 40
    assert load.max() < 42


def test_callback_staff_by_demand_call_on_weekends_and_again_when_not_answered():
    # A small range: every weekend day has calls by the nurses (their due calls only, at most 40 each
    # besides the evening's second tries), and a call not answered at first is tried again that day.
    small = SCALES["small"]
    cal = Calendar(small.start, 21)
    feeds = build_feeds(small, cal, 3)
    nurses = feeds["staff"].filter(pl.col("role") == "callback")["staff_id"]
    calls = feeds["visits"].filter(pl.col("staff_id").is_in(nurses.implode()) & (pl.col("target_type") == "patient"))
    weekend = [i for i in range(7, cal.days) if not cal.workday[i]]  # the first week: few purchases yet
    on_weekend = calls.filter(pl.col("_day").is_in(weekend))
    assert set(on_weekend["_day"].unique()) == set(weekend)
    first_tries = on_weekend.unique(["staff_id", "_day", "target_id"]).group_by("staff_id", "_day").len()
    assert first_tries["len"].max() <= 40
    twice = calls.group_by("staff_id", "_day", "target_id").len().filter(pl.col("len") == 2)
    assert 0.1 < twice.height / calls.height < 0.3


def test_tiny_and_large_keep_their_share_of_callback_staff():
    # tiny's small fixed figures are asserted by the end-to-end tests; large's by the benchmark.
    assert not SCALES["tiny"].callbacks_by_demand and not SCALES["large"].callbacks_by_demand
    assert SCALES["small"].callbacks_by_demand and SCALES["medium"].callbacks_by_demand
