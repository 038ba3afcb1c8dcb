"""Ledger accrual rules: points per yuan, first entries, corrections as differences, returns, booking quarter."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from keqing.loyalty.ledger import (
    ENTRY_SCHEMA,
    ORDER_SCHEMA,
    POSTED_SCHEMA,
    PRIOR_SCHEMA,
    accrue,
    balances,
    match_returns,
    points_expr,
)
from keqing.loyalty.quarters import parse_quarter
from keqing.rules import Rules, rules_from_mapping

D = dt.date
RULES = Rules().loyalty
CUTOFF = D(2026, 4, 10)
RUN = D(2026, 4, 11)


def orders(*rows: tuple) -> pl.DataFrame:
    """(order_id, customer_id, amount, order_date[, kind[, product_code]]) with lineage file 1, line = position."""
    data = []
    for line, row in enumerate(rows, start=2):
        order_id, customer, amount, day, *rest = row
        kind = rest[0] if rest else "order"
        product = rest[1] if len(rest) > 1 else "P1"
        data.append((order_id, customer, product, amount, kind, day, 1, line))
    return pl.DataFrame(data, schema=ORDER_SCHEMA, orient="row")


def posted(*rows: tuple) -> pl.DataFrame:
    """(order_id, seq, customer_id, order_kind, order_amount, points)."""
    return pl.DataFrame(list(rows), schema=POSTED_SCHEMA, orient="row")


def expected(*rows: tuple) -> pl.DataFrame:
    """(order_id, seq, entry_kind, customer_id, order_date, order_kind, order_amount, points, dated_q, q, reverses)
    with product P1, run_date RUN, and the lineage given by ``lines`` of the orders() call."""
    data = [
        (oid, seq, kind, cust, "P1", day, okind, amount, pts, dq, q, rev, RUN, 1, line)
        for (oid, seq, kind, cust, day, okind, amount, pts, dq, q, rev, line) in rows
    ]
    return pl.DataFrame(data, schema=ENTRY_SCHEMA, orient="row")


def run(current: pl.DataFrame, before: pl.DataFrame | None = None, open_quarter: str | None = None, rules=RULES):
    prior = current.filter(pl.col("kind") == "order").select(*PRIOR_SCHEMA)
    return accrue(
        current,
        before if before is not None else posted(),
        prior,
        rules,
        cutoff=CUTOFF,
        open_quarter=parse_quarter(open_quarter) if open_quarter else None,
        run_date=RUN,
    )


@pytest.mark.parametrize(
    ("overrides", "amounts", "points"),
    [
        ({}, [0.01, 9.99, 10.00, 19.99, 15.00, 1234.56], [0, 0, 1, 1, 1, 123]),  # 1 point per *full* 10 yuan
        ({"rounding": "ceil"}, [0.01, 9.99, 10.00, 19.99, 15.00, 1234.56], [1, 1, 1, 2, 2, 124]),
        ({"rounding": "round"}, [0.01, 9.99, 10.00, 19.99, 15.00, 1234.56], [0, 1, 1, 2, 2, 123]),  # half up
        ({"yuan_per_point": 12.5}, [12.49, 12.50, 24.99, 25.00], [0, 1, 1, 2]),
        ({"yuan_per_point": 0.1}, [0.3, 0.7, 1.1], [3, 7, 11]),  # exact in fen, where 0.3 / 0.1 < 3 in floats
    ],
)
def test_points_per_amount(overrides, amounts, points):
    rules = rules_from_mapping({"loyalty": overrides}).loyalty
    got = pl.DataFrame({"amount": amounts}).select(points_expr(pl.col("amount"), rules).alias("p"))["p"].to_list()
    assert got == points


def test_every_order_row_gets_one_first_entry_and_a_return_reverses_its_points():
    current = orders(
        ("O1", "T1", 100.00, D(2026, 3, 30)),
        ("O2", "T1", 99.99, D(2026, 4, 2)),
        ("R1", "T1", 50.00, D(2026, 4, 5), "return"),
        ("O4", "T2", 5.00, D(2026, 4, 6)),  # under 10 yuan: a zero entry, so the order is on record
        ("O5", "T2", 500.00, D(2026, 4, 11)),  # after the cutoff: a later run's
    )
    assert_frame_equal(
        run(current),
        expected(
            ("O1", 0, "earn", "T1", D(2026, 3, 30), "order", 100.00, 10, "2026Q1", "2026Q1", None, 2),
            ("O2", 0, "earn", "T1", D(2026, 4, 2), "order", 99.99, 9, "2026Q2", "2026Q2", None, 3),
            ("O4", 0, "earn", "T2", D(2026, 4, 6), "order", 5.00, 0, "2026Q2", "2026Q2", None, 5),
            ("R1", 0, "reverse", "T1", D(2026, 4, 5), "return", 50.00, -5, "2026Q2", "2026Q2", "O2", 4),
        ),
    )


def test_nothing_is_posted_twice_for_an_unchanged_order():
    current = orders(("O1", "T1", 100.00, D(2026, 3, 30)), ("R1", "T1", 30.00, D(2026, 4, 1), "return"))
    before = posted(("O1", 0, "T1", "order", 100.00, 10), ("R1", 0, "T1", "return", 30.00, -3))
    assert run(current, before).is_empty()
    # Only the date or the lineage changed: the points stay where they were posted.
    moved = orders(("O1", "T1", 100.00, D(2026, 4, 2)), ("R1", "T1", 30.00, D(2026, 4, 3), "return"))
    assert run(moved, before).is_empty()


def test_a_corrected_amount_posts_the_difference_and_a_correction_back_posts_it_back():
    before = posted(("O1", 0, "T1", "order", 100.00, 10))
    assert_frame_equal(
        run(orders(("O1", "T1", 150.00, D(2026, 4, 1))), before),
        expected(("O1", 1, "adjust", "T1", D(2026, 4, 1), "order", 150.00, 5, "2026Q2", "2026Q2", None, 2)),
    )
    before = posted(("O1", 0, "T1", "order", 100.00, 10), ("O1", 1, "T1", "order", 150.00, 5))
    assert_frame_equal(
        run(orders(("O1", "T1", 100.00, D(2026, 4, 1))), before),
        expected(("O1", 2, "adjust", "T1", D(2026, 4, 1), "order", 100.00, -5, "2026Q2", "2026Q2", None, 2)),
    )


def test_a_correction_that_keeps_the_points_is_recorded_with_zero_points():
    before = posted(("O1", 0, "T1", "order", 101.00, 10))
    assert_frame_equal(
        run(orders(("O1", "T1", 105.00, D(2026, 4, 1))), before),
        expected(("O1", 1, "adjust", "T1", D(2026, 4, 1), "order", 105.00, 0, "2026Q2", "2026Q2", None, 2)),
    )


def test_an_order_moved_to_another_terminal_takes_its_points_along():
    before = posted(("O1", 0, "T1", "order", 100.00, 10))
    assert_frame_equal(
        run(orders(("O1", "T2", 120.00, D(2026, 4, 1))), before),
        expected(
            ("O1", 1, "adjust", "T1", D(2026, 4, 1), "order", 120.00, -10, "2026Q2", "2026Q2", None, 2),
            ("O1", 2, "adjust", "T2", D(2026, 4, 1), "order", 120.00, 12, "2026Q2", "2026Q2", None, 2),
        ),
    )
    # ... and back again: T2 gives up its 12, T1 (holding 0 now) gets the 10 of 100 yuan.
    before = posted(
        ("O1", 0, "T1", "order", 100.00, 10),
        ("O1", 1, "T1", "order", 120.00, -10),
        ("O1", 2, "T2", "order", 120.00, 12),
    )
    assert_frame_equal(
        run(orders(("O1", "T1", 100.00, D(2026, 4, 1))), before),
        expected(
            ("O1", 3, "adjust", "T2", D(2026, 4, 1), "order", 100.00, -12, "2026Q2", "2026Q2", None, 2),
            ("O1", 4, "adjust", "T1", D(2026, 4, 1), "order", 100.00, 10, "2026Q2", "2026Q2", None, 2),
        ),
    )


def test_an_order_corrected_into_a_return_flips_its_points():
    before = posted(("O1", 0, "T1", "order", 100.00, 10))
    assert_frame_equal(
        run(orders(("O1", "T1", 100.00, D(2026, 4, 1), "return")), before),
        expected(("O1", 1, "adjust", "T1", D(2026, 4, 1), "return", 100.00, -20, "2026Q2", "2026Q2", None, 2)),
    )


def test_entries_dated_in_a_closed_quarter_count_in_the_open_quarter():
    current = orders(
        ("O1", "T1", 300.00, D(2026, 3, 28)),  # late: Q1 is closed
        ("R1", "T1", 100.00, D(2026, 4, 3), "return"),  # returns O1, in Q2
    )
    assert_frame_equal(
        run(current, open_quarter="2026Q2"),
        expected(
            ("O1", 0, "earn", "T1", D(2026, 3, 28), "order", 300.00, 30, "2026Q1", "2026Q2", None, 2),
            ("R1", 0, "reverse", "T1", D(2026, 4, 3), "return", 100.00, -10, "2026Q2", "2026Q2", "O1", 3),
        ),
    )
    before = posted(("O1", 0, "T1", "order", 300.00, 30))
    assert_frame_equal(
        run(orders(("O1", "T1", 250.00, D(2026, 3, 28))), before, open_quarter="2026Q2"),
        expected(("O1", 1, "adjust", "T1", D(2026, 3, 28), "order", 250.00, -5, "2026Q1", "2026Q2", None, 2)),
    )


def test_a_return_points_at_the_latest_earlier_order_of_its_terminal_and_product():
    prior = pl.DataFrame(
        [
            ("A", "T1", "P1", D(2026, 4, 1)),
            ("C", "T1", "P1", D(2026, 4, 3)),
            ("B", "T1", "P1", D(2026, 4, 3)),
            ("D", "T1", "P2", D(2026, 4, 4)),
            ("E", "T1", "P1", D(2026, 4, 9)),
            ("F", "T2", "P1", D(2026, 4, 2)),
        ],
        schema=PRIOR_SCHEMA,
        orient="row",
    )
    returns = pl.DataFrame(
        [
            ("R1", "T1", "P1", D(2026, 4, 5)),  # A, B, C before; B and C the latest day: the larger id
            ("R2", "T1", "P2", D(2026, 4, 4)),  # same day counts
            ("R3", "T2", "P1", D(2026, 4, 1)),  # F is later
            ("R4", "T3", "P1", D(2026, 4, 5)),  # no orders at all
        ],
        schema=PRIOR_SCHEMA,
        orient="row",
    )
    got = match_returns(returns, prior).sort("order_id")
    assert got.rows() == [("R1", "C"), ("R2", "D"), ("R3", None), ("R4", None)]


def test_balances_sum_the_ledger_by_quarter_and_terminal():
    entries = pl.DataFrame(
        {
            "quarter": ["2026Q1", "2026Q1", "2026Q2", "2026Q2", "2026Q2"],
            "customer_id": ["T1", "T1", "T1", "T2", "T1"],
            "points": [10, 5, -3, 7, 0],
        }
    )
    assert balances(entries).rows() == [("2026Q1", "T1", 15, 2), ("2026Q2", "T1", -3, 2), ("2026Q2", "T2", 7, 1)]
