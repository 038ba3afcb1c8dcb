"""Month-to-date attainment: capped visit credit, coverage, calls per field working day, what counts as a visit."""

from __future__ import annotations

import datetime as dt

import polars as pl

from keqing.calendar import PACKAGE
from keqing.grading.attainment import customer_standards, rep_attainment
from keqing.grading.periods import Periods
from keqing.rules import Rules, rules_from_mapping
from tests.keqing.grading.frames import customer, customers, grades, staff, visit, visits

COLUMNS = [
    "staff_id",
    "grade",
    "customers",
    "visits_required",
    "visits_done",
    "visits_credited",
    "attainment",
    "customers_visited_month",
    "monthly_coverage",
    "customers_visited_quarter",
    "quarterly_coverage",
    "standard_visits",
    "standard_monthly_coverage",
    "standard_quarterly_coverage",
]
DAILY = [
    "staff_id",
    "grade",
    "month",
    "calls",
    "field_days_so_far",
    "field_days_in_month",
    "avg_calls_per_day",
    "daily_plan",
]


def oct_(day: int) -> dt.date:
    return dt.date(2026, 10, day)


def nov(day: int) -> dt.date:
    return dt.date(2026, 11, day)


def test_a_fifth_visit_to_an_a_doctor_does_not_make_up_for_a_missed_b():
    cust = customers(customer("DA"), customer("DB"))
    gr = grades(("DA", "doctor", "A", "A1"), ("DB", "doctor", "B", "A3"))
    people = staff(("S1", "rep", "M1", "GEN", True))
    seen = visits(*(visit("DA", oct_(d)) for d in (8, 9, 10, 12, 13)), visit("DB", oct_(14)), visit("DB", oct_(15)))
    # The run of 1 November reports October, complete: 18 field working days (1-7 National Day off, Saturday
    # 10 October worked).
    result = rep_attainment(cust, gr, people, seen, Periods.for_run(nov(1), PACKAGE), Rules())
    assert result.select(COLUMNS).rows() == [
        ("S1", "A", 1, 4, 5, 4, 1.0, 1, 1.0, 1, 1.0, 4, 0.9, 1.0),
        ("S1", "ALL", 2, 8, 7, 6, 0.75, 2, 1.0, 2, 1.0, None, None, None),  # 4 + 2 of 8, not 7
        ("S1", "B", 1, 4, 2, 2, 0.5, 1, 1.0, 1, 1.0, 4, 0.9, 1.0),
    ]
    assert result.select(DAILY[2:]).unique().rows() == [(oct_(1), 7, 18, 18, 7 / 18, 12)]


def test_field_working_days_so_far_count_the_adjusted_saturday():
    periods = Periods.for_run(oct_(12), PACKAGE)  # cutoff Sunday 11 October: 8, 9 and Saturday 10 October worked
    assert (periods.report_days_so_far, periods.report_days_in_month) == (3, 18)
    assert Periods.for_run(oct_(9), PACKAGE).workdays_left == 17  # 9, 10, 12-16, 19-23, 26-30
    assert not Periods.for_run(oct_(5), PACKAGE).is_workday and Periods.for_run(oct_(10), PACKAGE).is_workday


def test_field_working_days_of_february_2027_follow_the_rules_files_spring_festival():
    spring = rules_from_mapping(
        {
            "calendar": {
                "holidays": [{"name": "春节", "from": "2027-02-06", "to": "2027-02-13"}],
                "workdays": ["2027-02-14", "2027-02-20"],
            }
        }
    ).work_calendar
    # From Monday 1 February: 20 weekdays, less 8-12 off, plus Sunday 14 and Saturday 20 worked.
    assert Periods.for_run(dt.date(2027, 2, 1), spring).workdays_left == 17
    assert Periods.for_run(dt.date(2027, 2, 1), PACKAGE).workdays_left == 20  # Monday-Friday fallback
    assert Periods.for_run(dt.date(2027, 2, 20), spring).is_workday
    assert not Periods.for_run(dt.date(2027, 2, 8), spring).is_workday


def book() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    cust = customers(
        customer("D1"),
        customer("C1"),
        customer("C2"),
        customer("N1", kind="nonprescriber", title="库管"),
        customer("T1", kind="terminal", institution="村卫生室"),
        customer("T2", kind="terminal", institution="药店"),
        customer("D2", owner="S2"),
        customer("D3", owner="S3"),  # owner inactive: an orphan, not in anyone's attainment
    )
    gr = grades(
        ("D1", "doctor", "A", "A1"),
        ("C1", "doctor", "C", "B1"),
        ("C2", "doctor", "C", "C1"),
        ("N1", "nonprescriber", "N"),
        ("T1", "terminal", "V"),
        ("T2", "terminal", "T"),
        ("D2", "doctor", "B", "A2"),
        ("D3", "doctor", "A", "A1"),
    )
    people = staff(
        ("S1", "rep", "M1", "GEN", True),
        ("S2", "rep", "M1", "ONC", True),
        ("S3", "rep", "M1", "GEN", False),
        ("S4", "rep", "M1", None, True),  # no customers yet
        ("M1", "manager", None, None, True),
    )
    seen = visits(
        visit("D1", nov(2)),
        visit("D1", nov(2), channel="meeting", hour=15),  # same day: one call
        visit("D1", nov(3), channel="phone"),  # a phone call is not a call on a doctor
        visit("D1", nov(4), outcome="not_reached"),
        visit("D1", nov(5)),
        visit("D1", nov(6), staff_id="S2"),  # someone else's visit to S1's doctor
        visit("D1", nov(21)),  # on run_date: after the cutoff
        visit("C1", oct_(20)),  # this quarter, not this month
        visit("N1", nov(9)),
        visit("T1", nov(10), channel="phone"),  # a terminal's contact may be a phone call
        visit("T2", oct_(12), channel="wechat"),
        visit("D2", nov(11)),  # S1 calls on S2's doctor
        visit("D3", nov(12), staff_id="S3"),
    )
    return cust, gr, people, seen


def test_counting_rules_coverage_and_calls_per_field_working_day():
    cust, gr, people, seen = book()
    result = rep_attainment(cust, gr, people, seen, Periods.for_run(nov(21), PACKAGE), Rules())
    assert result.select(COLUMNS).rows() == [
        ("S1", "A", 1, 4, 2, 2, 0.5, 1, 1.0, 1, 1.0, 4, 0.9, 1.0),
        ("S1", "ALL", 6, 9, 4, 4, 4 / 9, 3, 0.5, 5, 5 / 6, None, None, None),
        ("S1", "C", 2, 2, 0, 0, 0.0, 0, 0.0, 1, 0.5, 1, 0.6, 0.8),
        ("S1", "N", 1, 2, 1, 1, 0.5, 1, 1.0, 1, 1.0, 2, 0.5, 0.8),
        ("S1", "T", 1, 0, 0, 0, None, 0, 0.0, 1, 1.0, 0, 0.0, 1.0),
        ("S1", "V", 1, 1, 1, 1, 1.0, 1, 1.0, 1, 1.0, 1, 1.0, 1.0),
        ("S2", "ALL", 1, 4, 0, 0, 0.0, 0, 0.0, 0, 0.0, None, None, None),
        ("S2", "B", 1, 4, 0, 0, 0.0, 0, 0.0, 0, 0.0, 4, 0.9, 1.0),
        ("S4", "ALL", 0, 0, 0, 0, None, 0, None, 0, None, None, None, None),
    ]
    # Calls: S1 on D1 (2 and 5 November), N1 and S2's D2 = 4; S2 on D1 = 1. November 1-20 has 15 field
    # working days, the month 21. ONC plans 10 a day.
    assert result.filter(grade="ALL").select(DAILY).rows() == [
        ("S1", "ALL", nov(1), 4, 15, 21, 4 / 15, 12),
        ("S2", "ALL", nov(1), 1, 15, 21, 1 / 15, 10),
        ("S4", "ALL", nov(1), 0, 15, 21, 0.0, 12),
    ]


def test_counting_everyone_s_visits_is_a_rule():
    cust, gr, people, seen = book()
    anyone = rules_from_mapping({"visits": {"count_visits_by": "anyone"}})
    result = rep_attainment(cust, gr, people, seen, Periods.for_run(nov(21), PACKAGE), anyone)
    assert result.filter(grade="A").select("visits_done", "visits_credited").row(0) == (3, 3)  # 2, 5 and 6 Nov
    assert result.filter(staff_id="S2", grade="B").select("visits_done").item() == 1  # S1's call on 11 Nov


def test_standards_by_grade_title_and_terminal():
    cust = customers(
        customer("U1"),
        customer("N1", kind="nonprescriber", title="院办领导"),
        customer("N2", kind="nonprescriber", title="门诊药房组长"),
        customer("N3", kind="nonprescriber", title="医务科"),
        customer("N4", kind="nonprescriber", title="医务科", is_kol=True),
        customer("N5", kind="nonprescriber", title="护士长", is_kol=True),
        customer("D1"),
    )
    gr = grades(
        ("U1", "doctor", "U"),
        ("N1", "nonprescriber", "N"),
        ("N2", "nonprescriber", "N"),
        ("N3", "nonprescriber", "N"),
        ("N4", "nonprescriber", "N", None, True),
        ("N5", "nonprescriber", "N", None, True),
        ("D1", "doctor", "D", "C3"),
    )
    result = customer_standards(cust, gr, Rules()).sort("customer_id")
    assert result.rows() == [
        ("D1", 0, None, 0.2, 0.6),  # D: as needed
        ("N1", 1, None, 0.5, 0.8),
        ("N2", 2, None, 0.5, 0.8),  # contains 药房组长
        ("N3", 0, None, 0.5, 0.8),  # not in the table: as needed
        ("N4", 1, None, 0.5, 0.8),  # non-prescribing KOL
        ("N5", 2, None, 0.5, 0.8),  # KOL and 护士长: the higher
        ("U1", 1, None, 0.6, 0.8),  # not graded yet: visited like C
    ]
