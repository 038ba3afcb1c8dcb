"""Doctor grades A-D and the nine-box on each side of every threshold, U/N/T codes, the rx window, YAML overrides."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from keqing.grading.grades import doctor_scores, grade_customers, rx_window
from keqing.rules import Rules, load_rules, rules_from_mapping
from tests.keqing.grading.frames import customer, customers, orders, rx

RUN = dt.date(2026, 11, 10)  # window: Aug, Sep, Oct 2026 (November is not complete)
NO_ORDERS = orders()


def three_months(customer_id: str, our: int, market: int) -> list[tuple]:
    return [(m, customer_id, our, market) for m in ("2026-08", "2026-09", "2026-10")]


def graded(frame_rx: pl.DataFrame, ids: list[str], rules: Rules | None = None) -> pl.DataFrame:
    cust = customers(*(customer(i) for i in ids))
    return grade_customers(cust, frame_rx, NO_ORDERS, RUN, rules or Rules()).select(
        "customer_id", "grade", "nine_box", "potential", "support"
    )


# (market_rx a month, our_rx a month) -> grade, nine-box. Defaults: high potential >= 100, high support >= 30,
# nine-box middle bands from potential 50 and support 10.
THRESHOLD_CASES = [
    (100, 30, "A", "A1"),
    (100, 29, "B", "A2"),
    (99, 30, "C", "B1"),
    (99, 29, "D", "B2"),
    (100, 10, "B", "A2"),
    (100, 9, "B", "A3"),
    (50, 10, "D", "B2"),
    (49, 10, "D", "C2"),
    (50, 9, "D", "B3"),
    (49, 9, "D", "C3"),
    (40, 35, "C", "C1"),
    (0, 0, "D", "C3"),
]


@pytest.mark.parametrize(("market", "ours", "grade", "box"), THRESHOLD_CASES)
def test_each_side_of_each_threshold(market, ours, grade, box):
    result = graded(rx(*three_months("D1", ours, market)), ["D1"])
    assert result.row(0) == ("D1", grade, box, float(market), float(ours))


def test_averages_over_the_three_months_and_add_up_products():
    frame = rx(
        ("2026-08", "D1", 29, 90),
        ("2026-09", "D1", 30, 100),
        ("2026-10", "D1", 31, 110),  # average 100 / 30 -> A
        ("2026-08", "D2", 30, 90),
        ("2026-09", "D2", 30, 100),
        ("2026-10", "D2", 30, 109),  # potential 299/3 = 99.67 -> C
        ("2026-10", "D3", 20, 60, "PR01"),
        ("2026-10", "D3", 10, 40, "PR02"),  # one month, two products: 100 / 30 -> A
        ("2026-07", "D4", 500, 900),  # before the window: no data in it -> U
        ("2026-11", "D5", 500, 900),  # November is not complete on 10 November -> U
    )
    result = graded(frame, ["D1", "D2", "D3", "D4", "D5"])
    assert result.to_dicts() == [
        {"customer_id": "D1", "grade": "A", "nine_box": "A1", "potential": 100.0, "support": 30.0},
        {"customer_id": "D2", "grade": "C", "nine_box": "B1", "potential": 299 / 3, "support": 30.0},
        {"customer_id": "D3", "grade": "A", "nine_box": "A1", "potential": 100.0, "support": 30.0},
        {"customer_id": "D4", "grade": "U", "nine_box": None, "potential": None, "support": None},
        {"customer_id": "D5", "grade": "U", "nine_box": None, "potential": None, "support": None},
    ]


def test_missing_months_skip_or_zero():
    frame = rx(("2026-09", "D1", 30, 150), ("2026-10", "D1", 30, 150), ("2026-10", "D2", 0, 0))
    assert graded(frame, ["D1"]).row(0) == ("D1", "A", "A1", 150.0, 30.0)  # over its 2 months of data
    zero = rules_from_mapping({"grading": {"missing_months": "zero"}})
    assert graded(frame, ["D1"], zero).row(0) == ("D1", "B", "A2", 100.0, 20.0)  # (150+150+0)/3, (30+30+0)/3


def test_rx_window_is_anchored_on_the_newest_complete_month():
    frame = rx(("2026-06", "D1", 1, 1), ("2026-08", "D1", 1, 1), ("2026-09", "D2", 1, 1), ("2026-11", "D1", 1, 1))
    months = [dt.date(2026, m, 1) for m in (7, 8, 9)]  # October has not arrived: July-September
    assert rx_window(frame, RUN, Rules()) == months
    assert rx_window(frame, dt.date(2026, 12, 1), Rules()) == [dt.date(2026, m, 1) for m in (9, 10, 11)]
    assert rx_window(rx(("2026-11", "D1", 1, 1)), RUN, Rules()) == []
    assert doctor_scores(frame, months, Rules()).sort("customer_id").rows() == [
        ("D1", 1.0, 1.0, 1),
        ("D2", 1.0, 1.0, 1),
    ]


def test_codes_for_ungraded_doctors_nonprescribers_and_terminals_and_the_kol_flag():
    cust = customers(
        customer("D1", is_kol=True),
        customer("D2"),
        customer("N1", kind="nonprescriber", title="药剂科主任", is_kol=True),
        customer("T1", kind="terminal", institution="卫生院"),
        customer("T2", kind="terminal", institution="诊所"),
    )
    frame = rx(*three_months("D1", 40, 120), *three_months("N1", 40, 120))  # N1's rx rows do not make it a doctor
    result = grade_customers(cust, frame, orders(("T1", 500.0, dt.date(2026, 10, 1))), RUN, Rules())
    assert result.select("customer_id", "kind", "grade", "nine_box", "potential", "is_kol").rows() == [
        ("D1", "doctor", "A", "A1", 120.0, True),
        ("D2", "doctor", "U", None, None, False),
        ("N1", "nonprescriber", "N", None, None, True),
        ("T1", "terminal", "V", None, None, False),
        ("T2", "terminal", "T", None, None, False),
    ]


def test_thresholds_from_a_rules_yaml_change_the_grades(tmp_path):
    frame = rx(*three_months("D1", 30, 100), *three_months("D2", 26, 130), *three_months("D3", 9, 60))
    assert graded(frame, ["D1", "D2", "D3"])["nine_box"].to_list() == ["A1", "A2", "B3"]
    path = tmp_path / "rules.yaml"
    path.write_text(
        "grading:\n  high_potential_rx: 120\n  high_support_rx: 25\n"
        "  medium_potential_rx: 70\n  medium_support_rx: 5\n",
        encoding="utf-8",
    )
    result = graded(frame, ["D1", "D2", "D3"], load_rules(path))
    # D1: 100 < 120 -> low potential, 30 >= 25 -> C (B1); D2: 130 >= 120, 26 >= 25 -> A; D3: 60 < 70 -> C band, 9 >= 5.
    assert result.select("grade", "nine_box").rows() == [("C", "B1"), ("A", "A1"), ("D", "C2")]
