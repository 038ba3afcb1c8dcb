"""Days of supply, consecutive coverage (refill carry-over) and the supply status of a patient and product."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keqing.dates import month_start
from keqing.rules import Rules
from keqing.supply import supply as S
from keqing.supply.adherence import adherence
from keqing.supply.expiry import expiry_list
from keqing.supply.supply import coverage, days_of_supply, supply_state
from tests.keqing.supply.scenario import PRODUCTS, d, purchases


def _cov(rows: pl.DataFrame, cutoff: str = "2027-12-31") -> pl.DataFrame:
    return coverage(rows, PRODUCTS, d(cutoff)).frame().sort("patient_id", "product_code", "purchase_date")


def test_days_of_supply_floors_boxes_times_units_over_daily_dose():
    products = pl.DataFrame({"product_code": ["A", "B"], "units_per_box": [28.0, 0.7], "daily_units": [3.0, 0.1]})
    rows = pl.DataFrame(
        {"product_code": ["A", "A", "B", "C"], "boxes": [1, 2, 1, 1]},
        schema={"product_code": pl.String, "boxes": pl.Int64},
    )
    out = days_of_supply(rows, products)
    # A: 28/3 = 9.33 -> 9; 2 boxes 56/3 = 18.67 -> 18 (not 2 x 9); B: 0.7/0.1 is 6.999... in floats, 7 days;
    # C is not a known product and is left out.
    assert out.select("product_code", "boxes", "days").rows() == [("A", 1, 9), ("A", 2, 18), ("B", 1, 7)]


def test_a_refill_bought_before_the_supply_runs_out_starts_after_it():
    # Must show: 3 boxes of 30 tablets at 1 a day bought 2026-10-01 expire 2026-12-29; a second purchase
    # of 3 boxes on 2026-12-01 moves the expiry to 2027-03-29.
    one = _cov(purchases(("P1", "PR30", 3, "2026-10-01")))
    assert one.select("start_date", "expiry_date").rows() == [(d("2026-10-01"), d("2026-12-29"))]
    two = _cov(purchases(("P1", "PR30", 3, "2026-10-01"), ("P1", "PR30", 3, "2026-12-01")))
    assert two.select("purchase_date", "start_date", "expiry_date", "next_purchase_date").rows() == [
        (d("2026-10-01"), d("2026-10-01"), d("2026-12-29"), d("2026-12-01")),
        (d("2026-12-01"), d("2026-12-30"), d("2027-03-29"), None),
    ]


def test_a_purchase_after_a_gap_starts_on_its_own_date_and_products_are_separate():
    rows = purchases(
        ("P1", "PR10", 1, "2026-11-01"),  # 11-01 .. 11-10
        ("P1", "PR10", 2, "2026-11-20"),  # gap: 11-20 .. 12-09
        ("P1", "PR30", 1, "2026-11-05"),  # another product: its own supply, 11-05 .. 12-04
    )
    assert _cov(rows).select("product_code", "start_date", "expiry_date", "first_purchase_date").rows() == [
        ("PR10", d("2026-11-01"), d("2026-11-10"), d("2026-11-01")),
        ("PR10", d("2026-11-20"), d("2026-12-09"), d("2026-11-01")),
        ("PR30", d("2026-11-05"), d("2026-12-04"), d("2026-11-05")),
    ]


def test_purchases_of_one_day_add_up_and_later_ones_wait_for_a_later_run():
    rows = purchases(
        ("P1", "PR10", 1, "2026-11-01"),
        ("P1", "PR10", 2, "2026-11-01"),
        ("P1", "PR10", 5, "2026-11-21"),  # dated after the cutoff of the run for 2026-11-21
    )
    assert _cov(rows, cutoff="2026-11-20").select("purchase_date", "boxes", "days", "expiry_date").rows() == [
        (d("2026-11-01"), 3, 30, d("2026-11-30"))
    ]


@pytest.mark.parametrize(
    ("expiry", "status", "days_left"),
    [
        ("2026-11-29", "active", 8),
        ("2026-11-28", "expiring", 7),  # runs out within 7 days
        ("2026-11-21", "expiring", 0),  # today is the last covered day
        ("2026-11-06", "expiring", -15),  # ran out, but not 15 days without a purchase yet
        ("2026-11-05", "lapsed", -16),  # 15 days after the expiry date passed without a purchase
    ],
)
def test_status_on_the_run_date(expiry, status, days_left):
    start = d(expiry) - dt.timedelta(days=9)  # one box of PR10 covers 10 days
    cov = coverage(purchases(("P1", "PR10", 1, start.isoformat())), PRODUCTS, d("2026-11-20"))
    state = supply_state(cov, d("2026-11-21"), Rules())
    assert state.select("expiry_date", "days_left", "status").rows() == [(d(expiry), days_left, status)]


def _reference(rows: list[tuple[str, str, int, dt.date]]) -> dict[tuple[str, str], list[tuple[dt.date, dt.date]]]:
    """The contract's rule as a plain loop: start on the later of the date and the day after the supply ends."""
    per_box = {"PR07": 7, "PR10": 10, "PR28": 14, "PR30": 30}
    days: dict[tuple[str, str, dt.date], int] = {}
    for patient, product, boxes, day in rows:
        days[(patient, product, day)] = days.get((patient, product, day), 0) + boxes * per_box[product]
    out: dict[tuple[str, str], list[tuple[dt.date, dt.date]]] = {}
    for (patient, product, day), n in sorted(days.items()):
        chain = out.setdefault((patient, product), [])
        start = max(day, chain[-1][1] + dt.timedelta(days=1)) if chain else day
        chain.append((start, start + dt.timedelta(days=n - 1)))
    return out


def random_histories(patients: list[str], max_size: int) -> st.SearchStrategy:
    """Purchases (patient, product, boxes, date) of 2026 by the given patients."""
    return st.lists(
        st.tuples(
            st.sampled_from(patients),
            st.sampled_from(["PR07", "PR10", "PR28", "PR30"]),
            st.integers(1, 6),
            st.dates(dt.date(2026, 1, 1), dt.date(2026, 12, 31)),
        ),
        min_size=1,
        max_size=max_size,
    )


histories = random_histories(["P1", "P2", "00P3"], 25)


@settings(max_examples=60, deadline=None)
@given(histories)
def test_coverage_matches_the_plain_loop_on_random_histories(rows):
    frame = purchases(*[(p, c, b, day.isoformat()) for p, c, b, day in rows])
    got: dict[tuple[str, str], list[tuple[dt.date, dt.date]]] = {}
    for patient, product, start, end in (
        _cov(frame).select("patient_id", "product_code", "start_date", "expiry_date").iter_rows()
    ):
        got.setdefault((patient, product), []).append((start, end))
    assert got == _reference(rows)


def test_the_exact_sort_gives_the_same_coverage_as_the_hashed_one(monkeypatch):
    rows = purchases(
        ("P1", "PR30", 3, "2026-10-01"),
        ("P2", "PR10", 1, "2026-10-05"),
        ("P1", "PR30", 3, "2026-12-01"),
        ("P2", "PR10", 1, "2026-10-07"),
    )
    hashed = _cov(rows)
    monkeypatch.setattr(S, "_DAY_BITS", 2)  # a 4-day key: the history does not fit, the string sort is used
    exact = _cov(rows)
    assert exact.equals(hashed)
    assert hashed.select("patient_id", "expiry_date").rows() == [
        ("P1", d("2026-12-29")),
        ("P1", d("2027-03-29")),
        ("P2", d("2026-10-14")),
        ("P2", d("2026-10-24")),
    ]


many_patients = random_histories([f"P{i}" for i in range(8)], 40)


@settings(max_examples=60, deadline=None)
@given(many_patients, st.integers(1, 12))
def test_coverage_in_parts_equals_coverage_in_one(rows, part_rows):
    frame = purchases(*[(p, c, b, day.isoformat()) for p, c, b, day in rows])
    parts = coverage(frame, PRODUCTS, d("2027-12-31"), part_rows=part_rows)
    assert parts.groups["gid"].to_list() == list(range(parts.groups.height))  # gid is the row of its group
    assert parts.frame().sort("patient_id", "product_code", "purchase_date").equals(_cov(frame))


def test_keep_since_drops_the_rows_that_ran_out_before_it_but_never_a_last_row():
    rows = purchases(
        ("P1", "PR30", 1, "2026-01-01"),  # 01-01 .. 01-30: ran out before 03-15, dropped
        ("P1", "PR30", 1, "2026-03-01"),  # 03-01 .. 03-30: still covers 03-15, kept
        ("P1", "PR30", 1, "2026-06-01"),  # 06-01 .. 06-30, kept
        ("P2", "PR10", 1, "2026-02-01"),  # 02-01 .. 02-10: ran out, but the group's last row, kept
    )
    trimmed = coverage(rows, PRODUCTS, d("2026-11-30"), keep_since=d("2026-03-15"), part_rows=2).frame()
    assert trimmed.sort("patient_id", "purchase_date").select(
        "patient_id", "purchase_date", "expiry_date", "next_purchase_date", "first_purchase_date", "is_last"
    ).rows() == [
        ("P1", d("2026-03-01"), d("2026-03-30"), d("2026-06-01"), d("2026-01-01"), False),
        ("P1", d("2026-06-01"), d("2026-06-30"), None, d("2026-01-01"), True),
        ("P2", d("2026-02-01"), d("2026-02-10"), None, d("2026-02-01"), True),
    ]


@settings(max_examples=60, deadline=None)
@given(many_patients, st.dates(dt.date(2026, 2, 1), dt.date(2027, 3, 31)))
def test_the_pipeline_trims_only_rows_that_change_nothing(rows, run_date):
    """State, adherence and the expiry lists from the trimmed coverage equal those of the full one."""
    frame = purchases(*[(p, c, b, day.isoformat()) for p, c, b, day in rows])
    rules, cutoff = Rules(), run_date - dt.timedelta(days=1)
    since = min(cutoff - dt.timedelta(days=rules.adherence.window_days - 1), month_start(run_date))
    full = coverage(frame, PRODUCTS, cutoff)
    trimmed = coverage(frame, PRODUCTS, cutoff, keep_since=since, part_rows=3)

    def per_group(cov: S.Coverage) -> pl.DataFrame:
        state = supply_state(cov, run_date, rules).join(adherence(cov, cutoff, rules), on="gid")
        return state.drop("gid").sort("patient_id", "product_code")

    assert per_group(trimmed).equals(per_group(full))
    assert expiry_list(trimmed, run_date).equals(expiry_list(full, run_date))
