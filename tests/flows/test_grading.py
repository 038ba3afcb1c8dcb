"""The grading subflow on a seeded database, and end to end through the nightly flow from inbox files."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from flows.grading import grading
from keqing.rules import Rules
from tests.helpers import run_nightly, write, write_master
from tests.keqing.grading.frames import RUN, seed_database, table

pytestmark = pytest.mark.usefixtures("prefect_server")

CUSTOMERS = (
    "customer_id,name,kind,institution,department,title,terminal_type,is_kol,owner_staff_id,office_code\n"
    "DOC1,王医生,doctor,杭州市第一人民医院,心内科,,,1,S001,OF001\n"
    "DOC2,李医生,doctor,杭州市第一人民医院,心内科,,,0,S001,OF001\n"
    "NP1,赵主任,nonprescriber,杭州市第一人民医院,药剂科,药剂科主任,,0,S001,OF001\n"
    "TER1,周店长,terminal,仁和药店,,,pharmacy,0,S001,OF001\n"
)
RX = "month,customer_id,product_code,our_rx,market_rx\n" + "".join(
    f"2026-{m:02d},DOC1,PR01,40,120\n2026-{m:02d},DOC2,PR01,5,60\n" for m in (8, 9, 10)
)
VISITS = (
    "visit_id,staff_id,target_type,target_id,visit_at,channel,outcome,next_visit_date\n"
    "V1,S001,customer,DOC2,2026-11-16 10:00,face,completed,2026-11-23\n"
)


def test_grading_subflow_writes_the_stage_tables_and_a_rerun_changes_nothing(settings):
    seed_database(settings)
    summary = grading(settings, Rules(), RUN)
    assert summary["by_grade"] == {"A": 1, "U": 2, "V": 1}
    assert summary["targets_by_reason"] == {"appointment": 1, "vip_contact": 1}
    assert (summary["orphan_customers"], summary["orphans_without_manager"]) == (1, 0)
    assert summary["field_working_day"] is True and summary["workdays_left_in_month"] == 6
    targets = table(settings, "visit_targets", "staff_id, rank")
    # D1: its appointment. D2 (not graded yet, so visited like C: once a month) was seen on 3 November:
    # nothing due. T1 is its office's only terminal with orders, so VIP, and has had no contact this month.
    assert targets.select("staff_id", "rank", "customer_id", "reason", "grade", "visits_this_month").rows() == [
        ("S1", 1, "D1", "appointment", "A", 1),
        ("S1", 2, "T1", "vip_contact", "V", 0),
    ]
    orphans = table(settings, "orphan_customers", "customer_id")
    assert orphans.select("customer_id", "former_staff_id", "manager_id", "grade", "reason").rows() == [
        ("O1", "S3", "M1", "U", "coverage")
    ]
    assert grading(settings, Rules(), RUN) == summary | {"history_rows_opened": 0}
    assert table(settings, "visit_targets", "staff_id, rank").equals(targets)


@pytest.mark.slow
def test_nightly_grades_customers_and_lists_todays_visits(settings):
    write_master(settings)
    write(settings, "2026-11-01/customers.csv", CUSTOMERS)
    write(settings, "2026-11-01/rx_monthly.csv", RX)
    write(settings, "2026-11-16/visits.csv", VISITS)
    summary = run_nightly("2026-11-23")
    graded = summary["grading"]
    assert graded["by_grade"] == {"A": 1, "D": 1, "N": 1, "T": 1}
    assert graded["rx_window"] == ["2026-08", "2026-09", "2026-10"]
    assert graded["targets_by_reason"] == {"appointment": 1, "coverage": 2, "frequency": 1}
    assert graded["orphan_customers"] == 0

    grades = table(settings, "customer_grades", "customer_id")
    assert grades.select("customer_id", "grade", "nine_box", "is_kol", "valid_from", "valid_to").rows() == [
        ("DOC1", "A", "A1", True, dt.date(2026, 11, 23), None),
        ("DOC2", "D", "B3", False, dt.date(2026, 11, 23), None),
        ("NP1", "N", None, False, dt.date(2026, 11, 23), None),
        ("TER1", "T", None, False, dt.date(2026, 11, 23), None),
    ]
    targets = table(settings, "visit_targets", "staff_id, rank")
    # The appointment first; the rest of the hospital (心内科, then 药剂科) before the pharmacy.
    assert targets.select("staff_id", "rank", "customer_id", "reason", "channel", "strategy", "institution").rows() == [
        ("S001", 1, "DOC2", "appointment", "face", "观察", "杭州市第一人民医院"),
        ("S001", 2, "DOC1", "frequency", "face", "防御", "杭州市第一人民医院"),
        ("S001", 3, "NP1", "coverage", "face", None, "杭州市第一人民医院"),
        ("S001", 4, "TER1", "coverage", "phone", None, "仁和药店"),
    ]
    attainment = table(settings, "rep_attainment", "staff_id, grade")
    assert attainment.filter(pl.col("grade") == "ALL").select(
        "staff_id", "customers", "visits_required", "visits_credited", "calls", "field_days_so_far"
    ).rows() == [("S001", 4, 4 + 0 + 1 + 0, 0, 1, 15)]  # 1 call on 16 Nov; 2-20 November: 15 field days

    rerun = grading(settings, Rules(), dt.date(2026, 11, 23))  # the stage alone: a whole night costs 20-45 s
    assert rerun["history_rows_opened"] == 0
    assert table(settings, "customer_grades", "customer_id").equals(grades)
    assert table(settings, "visit_targets", "staff_id, rank").equals(targets)
