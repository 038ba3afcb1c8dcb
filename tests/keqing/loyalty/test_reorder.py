"""Reorder reminders: usual interval (median of the last gaps), due date, days overdue, the rep's list."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from keqing.loyalty.reorder import REMINDER_SCHEMA, reorder_reminders, usual_intervals
from keqing.rules import Rules, rules_from_mapping

D = dt.date
RULES = Rules().loyalty
OWNERS = pl.DataFrame({"customer_id": ["T1", "T2", "T3"], "owner_staff_id": ["S1", "S1", "S2"]})


def order_days(customer: str, days: list[dt.date], kind: str = "order") -> pl.DataFrame:
    return pl.DataFrame(
        {"customer_id": [customer] * len(days), "order_date": days, "kind": [kind] * len(days)},
        schema={"customer_id": pl.String, "order_date": pl.Date, "kind": pl.String},
    )


def every(start: dt.date, days: int, count: int) -> list[dt.date]:
    return [start + dt.timedelta(days=days * i) for i in range(count)]


def test_a_terminal_ordering_every_14_days_silent_for_20_days_is_6_days_overdue():
    last = D(2026, 11, 1)
    orders = order_days("T1", every(D(2026, 9, 20), 14, 4))  # 20 Sep, 4 Oct, 18 Oct, 1 Nov
    assert orders["order_date"].max() == last
    got = reorder_reminders(orders, OWNERS, RULES, run_date=last + dt.timedelta(days=20))
    expected = pl.DataFrame(
        [(D(2026, 11, 21), "S1", "T1", 14, 4, last, D(2026, 11, 15), 6)], schema=REMINDER_SCHEMA, orient="row"
    )
    assert got.equals(expected)


@pytest.mark.parametrize(("days_silent", "listed"), [(14, False), (15, True)])
def test_listed_from_the_day_after_the_due_date(days_silent, listed):
    orders = order_days("T1", every(D(2026, 10, 4), 14, 3))  # last 1 Nov, due 15 Nov
    got = reorder_reminders(orders, OWNERS, RULES, run_date=D(2026, 11, 1) + dt.timedelta(days=days_silent))
    assert got.height == int(listed)
    if listed:
        assert got["days_overdue"].to_list() == [1]


def test_fewer_than_three_order_days_give_no_interval():
    orders = pl.concat(
        [
            order_days("T1", [D(2026, 10, 1), D(2026, 10, 15)]),
            order_days("T1", [D(2026, 10, 15)]),  # a second order the same day is the same reorder
        ]
    )
    assert reorder_reminders(orders, OWNERS, RULES, run_date=D(2026, 12, 31)).is_empty()


def test_interval_is_the_median_gap_of_the_last_six_order_days_rounded_up():
    # Old orders 60 days apart, then order days with gaps 10, 12, 11, 30, 11: the last six days give
    # these five gaps, median 11.
    days = [D(2026, 3, 1), D(2026, 4, 30), D(2026, 6, 29)]
    recent = [D(2026, 6, 29) + dt.timedelta(days=d) for d in (10, 22, 33, 63, 74)]
    got = usual_intervals(order_days("T1", days + recent), RULES)
    assert got.rows() == [("T1", 6, D(2026, 9, 11), 11)]  # 29 June + 74 days = 11 September
    # Gaps 10 and 13 (three order days): median 11.5, rounded up to 12 days.
    got = usual_intervals(order_days("T2", [D(2026, 10, 1), D(2026, 10, 11), D(2026, 10, 24)]), RULES)
    assert got.rows() == [("T2", 3, D(2026, 10, 24), 12)]


def test_returns_are_not_reorders_and_records_after_the_cutoff_are_ignored():
    run_date = D(2026, 11, 21)
    orders = pl.concat(
        [
            order_days("T1", every(D(2026, 9, 20), 14, 4)),  # last 1 Nov: 6 days overdue
            order_days("T1", [D(2026, 11, 10)], kind="return"),
            order_days("T1", [run_date]),  # dated the run date: tomorrow's run sees it
        ]
    )
    got = reorder_reminders(orders, OWNERS, RULES, run_date=run_date)
    assert got.select("customer_id", "last_order_date", "days_overdue").rows() == [("T1", D(2026, 11, 1), 6)]


def test_each_rep_gets_their_own_terminals_most_overdue_first():
    run_date = D(2026, 12, 1)
    orders = pl.concat(
        [
            order_days("T1", every(D(2026, 10, 1), 10, 3)),  # last 21 Oct, due 31 Oct: 31 days
            order_days("T2", every(D(2026, 10, 20), 7, 4)),  # last 10 Nov, due 17 Nov: 14 days
            order_days("T3", every(D(2026, 9, 1), 30, 3)),  # last 31 Oct, due 30 Nov: 1 day
            order_days("T4", every(D(2026, 9, 1), 5, 3)),  # nobody owns T4 (not a known terminal)
        ]
    )
    got = reorder_reminders(orders, OWNERS, RULES, run_date=run_date)
    assert got.select("staff_id", "customer_id", "days_overdue").rows() == [
        ("S1", "T1", 31),
        ("S1", "T2", 14),
        ("S2", "T3", 1),
    ]


def test_the_minimum_of_orders_is_configuration():
    rules = rules_from_mapping({"loyalty": {"reorder_min_orders": 4}}).loyalty
    orders = order_days("T1", every(D(2026, 10, 4), 14, 3))
    assert reorder_reminders(orders, OWNERS, rules, run_date=D(2026, 12, 1)).is_empty()
