"""Quarter close: which quarters close when, reward tiers, and the reward list per owning rep."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from keqing.loyalty.close import open_quarter, quarter_rewards, quarters_to_close, tier_expr
from keqing.loyalty.quarters import parse_quarter, quarter_label
from keqing.rules import Rules, rules_from_mapping

D = dt.date


def labels(indexes: list[int]) -> list[str]:
    return [quarter_label(q) for q in indexes]


@pytest.mark.parametrize(
    ("last_closed", "first_booked", "cutoff", "closing"),
    [
        (None, None, D(2026, 10, 1), []),  # nothing in the ledger: nothing to close
        (None, "2026Q4", D(2026, 12, 30), []),  # the first quarter is still running
        (None, "2026Q3", D(2026, 9, 29), []),  # the run of 30 September: Q3 not over
        (None, "2026Q3", D(2026, 9, 30), ["2026Q3"]),  # the run of 1 October closes Q3
        ("2026Q3", "2026Q3", D(2026, 10, 1), []),  # and the run of 2 October does not again
        ("2026Q2", "2026Q1", D(2026, 9, 30), ["2026Q3"]),
        (None, "2025Q4", D(2026, 7, 1), ["2025Q4", "2026Q1", "2026Q2"]),  # first run on old history
        ("2026Q3", "2026Q1", D(2026, 3, 15), []),  # a rerun of an old date closes nothing
    ],
)
def test_quarters_to_close(last_closed, first_booked, cutoff, closing):
    got = quarters_to_close(
        parse_quarter(last_closed) if last_closed else None,
        parse_quarter(first_booked) if first_booked else None,
        cutoff,
    )
    assert labels(got) == closing


def test_the_open_quarter_follows_the_last_closed_one():
    assert open_quarter(None) is None
    assert quarter_label(open_quarter(parse_quarter("2026Q4"))) == "2027Q1"


def test_tiers_at_500_2000_and_5000_points():
    points = pl.DataFrame({"p": [-20, 0, 499, 500, 1999, 2000, 4999, 5000, 12000]})
    got = points.select(tier_expr(pl.col("p"), Rules().loyalty.tiers).alias("t"))["t"].to_list()
    assert got == [None, None, None, "bronze", "bronze", "silver", "silver", "gold", "gold"]


def test_tiers_follow_the_rules_in_any_order():
    tiers = rules_from_mapping({"loyalty": {"tiers": {"gold": 300, "bronze": 100}}}).loyalty.tiers
    got = pl.DataFrame({"p": [99, 100, 299, 300]}).select(tier_expr(pl.col("p"), tiers).alias("t"))["t"].to_list()
    assert got == [None, "bronze", "bronze", "gold"]


def test_reward_list_per_owning_rep():
    totals = pl.DataFrame(
        {
            "quarter": ["2026Q3"] * 5 + ["2026Q4"],
            "customer_id": ["T1", "T2", "T3", "T4", "T9", "T1"],
            "points": [5200, 499, 2000, 800, 900, 600],
        }
    )
    owners = pl.DataFrame(
        {
            "customer_id": ["T1", "T2", "T3", "T4"],  # T9 unknown: no reward row
            "owner_staff_id": ["S2", "S1", "S1", "S2"],
            "office_code": ["OF1", "OF1", "OF1", "OF2"],
        }
    )
    got = quarter_rewards(totals, owners, Rules().loyalty)
    assert got.rows() == [
        ("2026Q3", "T3", "S1", "OF1", 2000, "silver"),
        ("2026Q3", "T1", "S2", "OF1", 5200, "gold"),
        ("2026Q3", "T4", "S2", "OF2", 800, "bronze"),
        ("2026Q4", "T1", "S2", "OF1", 600, "bronze"),
    ]
