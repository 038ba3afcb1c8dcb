"""Quarter arithmetic: index, label, bounds, and the last quarter ended by a cutoff."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from keqing.loyalty.quarters import (
    first_day,
    last_day,
    last_ended_quarter,
    parse_quarter,
    quarter_index,
    quarter_index_expr,
    quarter_label,
    quarter_label_expr,
)


@pytest.mark.parametrize(
    ("day", "label", "start", "end"),
    [
        (dt.date(2026, 1, 1), "2026Q1", dt.date(2026, 1, 1), dt.date(2026, 3, 31)),
        (dt.date(2026, 3, 31), "2026Q1", dt.date(2026, 1, 1), dt.date(2026, 3, 31)),
        (dt.date(2026, 4, 1), "2026Q2", dt.date(2026, 4, 1), dt.date(2026, 6, 30)),
        (dt.date(2026, 9, 30), "2026Q3", dt.date(2026, 7, 1), dt.date(2026, 9, 30)),
        (dt.date(2026, 12, 31), "2026Q4", dt.date(2026, 10, 1), dt.date(2026, 12, 31)),
    ],
)
def test_quarter_of_a_day(day, label, start, end):
    index = quarter_index(day)
    assert quarter_label(index) == label
    assert parse_quarter(label) == index
    assert (first_day(index), last_day(index)) == (start, end)


def test_quarter_after_q4_is_next_years_q1():
    assert quarter_label(parse_quarter("2026Q4") + 1) == "2027Q1"


@pytest.mark.parametrize(
    ("cutoff", "ended"),
    [
        (dt.date(2026, 9, 29), "2026Q2"),  # Q3 still has a day to go
        (dt.date(2026, 9, 30), "2026Q3"),  # the run of 1 October sees all of Q3
        (dt.date(2026, 10, 1), "2026Q3"),
        (dt.date(2027, 1, 1), "2026Q4"),
    ],
)
def test_last_ended_quarter(cutoff, ended):
    assert quarter_label(last_ended_quarter(cutoff)) == ended


def test_bad_label_is_refused():
    with pytest.raises(ValueError, match="2026Q5"):
        parse_quarter("2026Q5")


def test_expressions_match_the_scalar_functions():
    days = pl.DataFrame({"d": [dt.date(2025, 12, 31), dt.date(2026, 1, 1), dt.date(2026, 8, 15)]})
    got = days.select(quarter_label_expr(quarter_index_expr(pl.col("d"))).alias("q"))
    assert got["q"].to_list() == ["2025Q4", "2026Q1", "2026Q3"]
