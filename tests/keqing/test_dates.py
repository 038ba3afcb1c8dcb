"""Month and quarter arithmetic on hand-picked dates: year ends, leap years, short months."""

from __future__ import annotations

import datetime as dt

import pytest

from keqing.dates import add_months, month_end, month_start, quarter_start

d = dt.date


@pytest.mark.parametrize(
    ("day", "ahead", "expected"),
    [(d(2026, 11, 24), 0, d(2026, 11, 1)), (d(2026, 11, 24), 2, d(2027, 1, 1)), (d(2026, 1, 31), -1, d(2025, 12, 1))],
)
def test_month_start(day, ahead, expected):
    assert month_start(day, ahead) == expected


def test_month_end_knows_leap_years_and_december():
    assert month_end(d(2028, 2, 10)) == d(2028, 2, 29)
    assert month_end(d(2026, 2, 10)) == d(2026, 2, 28)
    assert month_end(d(2026, 12, 1)) == d(2026, 12, 31)


def test_add_months_clamps_to_a_shorter_month():
    assert add_months(d(2026, 3, 31), -1) == d(2026, 2, 28)
    assert add_months(d(2028, 3, 31), -1) == d(2028, 2, 29)
    assert add_months(d(2026, 11, 30), 3) == d(2027, 2, 28)
    assert add_months(d(2026, 11, 15), -12) == d(2025, 11, 15)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (d(2026, 1, 1), d(2026, 1, 1)),
        (d(2026, 3, 31), d(2026, 1, 1)),
        (d(2026, 4, 1), d(2026, 4, 1)),
        (d(2026, 12, 31), d(2026, 10, 1)),
    ],
)
def test_quarter_start(day, expected):
    assert quarter_start(day) == expected
