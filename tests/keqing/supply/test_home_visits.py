"""Rural home-visit plans: the village's most common quantity decides the date; 10 households a day per worker."""

from __future__ import annotations

import polars as pl

from keqing.rules import Rules, rules_from_mapping
from keqing.supply.home_visits import home_visit_plan, village_runs_out
from tests.keqing.supply.scenario import PRODUCTS, STAFF, d, event_purchases, patients


def _villagers(prefix: str, count: int, village: str, worker: str | None = "H1", office: str = "OF2") -> list[tuple]:
    return [(f"{prefix}{i:02d}", office, None, True, village, "临安镇", worker) for i in range(1, count + 1)]


def test_the_seed_village_is_visited_when_seven_boxes_run_out():
    # Seed 000: of 10 buyers in 甲村 at the free clinic, 2 bought 5 boxes and 7 bought 7 boxes (and one
    # bought 3): the visit is when 7 boxes are used up. PR10: a box lasts 10 days; the clinic was on
    # Tuesday 2026-09-01, so 7 boxes last to 11-09 (Monday), 5 boxes would have lasted to 10-20.
    boxes = [5, 5, 7, 7, 7, 7, 7, 7, 7, 3]
    sales = event_purchases(*[(f"V{i:02d}", "PR10", b, "2026-09-01", "EV1") for i, b in enumerate(boxes, 1)])
    people = patients(*_villagers("V", 10, "甲村"))
    assert village_runs_out(sales, PRODUCTS, people, d("2026-11-01")).rows() == [
        ("EV1", "临安镇", "甲村", d("2026-09-01"), "PR10", 7, 10, d("2026-11-09"))
    ]
    plans, members = home_visit_plan(sales, PRODUCTS, people, STAFF, d("2026-11-02"), Rules())
    assert plans.select(
        "plan_no", "staff_id", "village", "event_id", "planned_date", "visit_date", "patients"
    ).rows() == [(1, "H1", "甲村", "EV1", d("2026-11-09"), d("2026-11-09"), 10)]
    assert members["patient_id"].to_list() == [f"V{i:02d}" for i in range(1, 11)]


def test_ties_go_to_the_larger_quantity_and_a_day_off_moves_the_visit_to_the_next_working_day():
    # 3 bought 2 boxes, 3 bought 3 boxes: 3 boxes (30 days) from Saturday 2026-10-03 (a holiday clinic)
    # run out on Sunday 2026-11-01; the visit is on Monday 11-02.
    sales = event_purchases(
        *[(f"T{i}", "PR10", 2, "2026-10-03", "EV2") for i in range(1, 4)],
        *[(f"T{i}", "PR10", 3, "2026-10-03", "EV2") for i in range(4, 7)],
    )
    people = patients(*[(f"T{i}", "OF2", None, True, "乙村", "临安镇", "H2") for i in range(1, 7)])
    plans, _ = home_visit_plan(sales, PRODUCTS, people, STAFF, d("2026-10-30"), Rules())
    assert plans.select("boxes", "planned_date", "visit_date", "patients").rows() == [
        (3, d("2026-11-02"), d("2026-11-02"), 6)
    ]


def test_a_worker_visits_at_most_ten_households_a_day_and_the_rest_move_to_the_next_working_day():
    # Two villages of one worker run out on Friday 2026-11-20: 6 households in 丁村 and 8 in 丙村
    # (villages of one date are taken in name order, 丁 U+4E01 before 丙 U+4E19). Friday takes 丁村's 6 and
    # 4 of 丙村 in patient order; the other 4 move to the next working day, Monday 11-23.
    sales = event_purchases(
        *[(f"A{i:02d}", "PR10", 4, "2026-10-12", "EV3") for i in range(1, 9)],
        *[(f"B{i:02d}", "PR10", 4, "2026-10-12", "EV3") for i in range(1, 7)],
    )
    people = patients(*_villagers("A", 8, "丙村"), *_villagers("B", 6, "丁村"))
    plans, members = home_visit_plan(sales, PRODUCTS, people, STAFF, d("2026-11-20"), Rules())
    assert plans.select("plan_no", "staff_id", "village", "planned_date", "visit_date", "patients").rows() == [
        (1, "H1", "丁村", d("2026-11-20"), d("2026-11-20"), 6),
        (2, "H1", "丙村", d("2026-11-20"), d("2026-11-20"), 4),
        (3, "H1", "丙村", d("2026-11-20"), d("2026-11-23"), 4),
    ]
    assert members.filter(pl.col("plan_no") == 2)["patient_id"].to_list() == ["A01", "A02", "A03", "A04"]
    assert members.filter(pl.col("plan_no") == 3)["patient_id"].to_list() == ["A05", "A06", "A07", "A08"]
    # A run after Friday keeps only what is still ahead.
    later, _ = home_visit_plan(sales, PRODUCTS, people, STAFF, d("2026-11-21"), Rules())
    assert later.select("village", "visit_date", "patients").rows() == [("丙村", d("2026-11-23"), 4)]


def test_buyers_without_a_usable_worker_go_to_their_office_pool():
    sales = event_purchases(*[(f"W{i}", "PR10", 1, "2026-11-02", "EV4") for i in range(1, 5)])
    people = patients(
        ("W1", "OF2", None, True, "戊村", "临安镇", "H1"),
        ("W2", "OF2", None, True, "戊村", "临安镇", None),
        ("W3", "OF2", None, True, "戊村", "临安镇", "S3"),  # a callback nurse, not a home-visit worker
        ("W4", "OF3", None, True, "己村", "临安镇", None),  # OF3 has no home-visit staff: a plan without one
    )
    plans, members = home_visit_plan(sales, PRODUCTS, people, STAFF, d("2026-11-03"), Rules())
    # W1 keeps H1 (H1 1, H2 0); then in patient order W2 -> H2 (0 < 1) and W3 -> H1 (1 = 1: the smaller id).
    assert plans.select("staff_id", "office_code", "village", "visit_date", "patients").rows() == [
        ("H1", "OF2", "戊村", d("2026-11-11"), 2),
        ("H2", "OF2", "戊村", d("2026-11-11"), 1),
        (None, "OF3", "己村", d("2026-11-11"), 1),
    ]
    assert members.rows() == [(1, "W1"), (1, "W3"), (2, "W2"), (3, "W4")]


def test_the_days_per_box_are_those_of_the_product_the_village_bought_most_of():
    # 甲村 bought 6 boxes of PR07 and 4 of PR10 at EV5: the most common quantity (2 boxes) lasts 2 x 7 days.
    # 乙村 bought 4 boxes of each: the tie goes to the first product code, PR07 again.
    sales = event_purchases(
        ("X1", "PR07", 2, "2026-11-02", "EV5"),
        ("X2", "PR07", 2, "2026-11-02", "EV5"),
        ("X3", "PR07", 2, "2026-11-02", "EV5"),
        ("X4", "PR10", 4, "2026-11-02", "EV5"),
        ("Y1", "PR10", 4, "2026-11-02", "EV5"),
        ("Y2", "PR07", 4, "2026-11-02", "EV5"),
    )
    people = patients(
        *[(p, "OF2", None, True, "甲村", "临安镇", "H1") for p in ("X1", "X2", "X3", "X4")],
        *[(p, "OF2", None, True, "乙村", "临安镇", "H1") for p in ("Y1", "Y2")],
    )
    runs_out = village_runs_out(sales, PRODUCTS, people, d("2026-11-03"))
    assert runs_out.select("village", "product_code", "boxes", "buyers", "run_out_date").sort("village").rows() == [
        ("乙村", "PR07", 4, 2, d("2026-11-29")),  # 4 x 7 = 28 days from 11-02
        ("甲村", "PR07", 2, 4, d("2026-11-15")),  # 2 x 7 = 14 days from 11-02
    ]


def test_a_run_keeps_the_visits_of_the_next_fourteen_days():
    # Three boxes of PR10 from Monday 2026-11-02 run out on Tuesday 12-01.
    sales = event_purchases(("Z1", "PR10", 3, "2026-11-02", "EV6"))
    people = patients(("Z1", "OF2", None, True, "庚村", "临安镇", "H1"))
    horizon = {
        run: home_visit_plan(sales, PRODUCTS, people, STAFF, d(run), Rules())[0]["visit_date"].to_list()
        for run in ("2026-11-17", "2026-11-18", "2026-12-01", "2026-12-02")
    }
    assert horizon == {
        "2026-11-17": [],  # 12-01 is 14 days ahead: outside run_date .. run_date + 13
        "2026-11-18": [d("2026-12-01")],
        "2026-12-01": [d("2026-12-01")],
        "2026-12-02": [],
    }


def test_a_visit_falling_in_the_rules_files_spring_festival_moves_to_its_adjusted_working_sunday():
    # 4 boxes of PR10 bought at a clinic on 2027-01-01 run out on Tuesday 2027-02-09. The package does not
    # know 2027; the rules file has 春节 6-13 February off and Sunday 14 February worked.
    sales = event_purchases(*[(f"S{i}", "PR10", 4, "2027-01-01", "EV3") for i in range(1, 4)])
    people = patients(*[(f"S{i}", "OF2", None, True, "丙村", "临安镇", "H1") for i in range(1, 4)])
    spring = rules_from_mapping(
        {
            "calendar": {
                "holidays": [{"name": "春节", "from": "2027-02-06", "to": "2027-02-13"}],
                "workdays": ["2027-02-14"],
            }
        }
    )
    plans, _ = home_visit_plan(sales, PRODUCTS, people, STAFF, d("2027-02-01"), spring)
    assert plans.select("planned_date", "visit_date").rows() == [(d("2027-02-14"), d("2027-02-14"))]
    plans, _ = home_visit_plan(sales, PRODUCTS, people, STAFF, d("2027-02-01"), Rules())
    assert plans.select("planned_date", "visit_date").rows() == [(d("2027-02-09"), d("2027-02-09"))]
