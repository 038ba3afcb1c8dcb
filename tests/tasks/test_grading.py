"""Grading tasks against SQLite and PostgreSQL: cutoff filtering in SQL, idempotent history and per-run_date tables."""

from __future__ import annotations

import datetime as dt

import polars as pl
import sqlalchemy as sa

from edges.db import get_engine, upsert_frame
from keqing.rules import Rules
from models import FEED_MODELS, QuarterClose, QuarterReward, ReorderReminder
from tasks.grading import plan_visits, read_grading_inputs, update_grades
from tests.keqing.grading.frames import RUN, rx, seed_database, table

LATER = dt.date(2026, 12, 7)


def test_grades_history_and_lists_are_idempotent_per_run_date(settings):
    seed_database(settings)
    rules = Rules()
    inputs = read_grading_inputs.fn(settings, RUN, rules)
    assert inputs.rx["month"].unique().sort().to_list() == [dt.date(2026, m, 1) for m in (8, 9, 10)]
    assert inputs.orders["amount"].to_list() == [300.0]
    assert sorted(inputs.visits["target_id"].to_list()) == ["D1", "D2"]
    assert inputs.visits["visit_at"].dtype == pl.Datetime("us")

    graded = update_grades.fn(settings, inputs, rules, RUN)
    assert graded.summary["by_grade"] == {"A": 1, "U": 2, "V": 1}
    assert graded.summary["rx_window"] == ["2026-08", "2026-09", "2026-10"]
    history = table(settings, "customer_grades", order_by="customer_id, valid_from")
    assert history.select("customer_id", "grade", "nine_box", "potential").rows() == [
        ("D1", "A", "A1", 120.0),
        ("D2", "U", None, None),
        ("O1", "U", None, None),
        ("T1", "V", None, None),
    ]
    summary = plan_visits.fn(settings, inputs, graded.grades, rules, RUN)
    first_targets = table(settings, "visit_targets", order_by="staff_id, rank")

    # A rerun of the same run_date changes nothing and duplicates nothing.
    again = update_grades.fn(settings, inputs, rules, RUN)
    assert again.summary["history_rows_opened"] == 0 and again.summary["history_rows_closed_or_merged"] == 0
    assert table(settings, "customer_grades", order_by="customer_id, valid_from").equals(history)
    assert plan_visits.fn(settings, inputs, graded.grades, rules, RUN) == summary
    assert table(settings, "visit_targets", order_by="staff_id, rank").equals(first_targets)
    assert first_targets.select("rank", "customer_id", "reason").rows()[0] == (1, "D1", "appointment")
    assert table(settings, "orphan_customers")[["customer_id", "former_staff_id", "manager_id"]].rows() == [
        ("O1", "S3", "M1")
    ]
    assert graded.summary["grade_movements_this_month"] == 0  # the database's first grading moves nobody

    # November's rx arrives: D2 becomes graded on 7 December, exactly one new row for it and D1 unchanged.
    with get_engine(settings.database_url).begin() as conn:
        upsert_frame(
            conn,
            FEED_MODELS["rx_monthly"].__table__,
            rx(("2026-11", "D1", 40, 120)).with_columns(
                pl.lit(2).alias("source_file_id"), pl.lit(1).alias("source_line")
            ),
            ("month", "customer_id", "product_code"),
        )
    later = read_grading_inputs.fn(settings, LATER, rules)
    changed = update_grades.fn(settings, later, rules, LATER)
    assert changed.summary["history_rows_opened"] == 1
    history = table(settings, "customer_grades", order_by="customer_id, valid_from")
    assert history.select("customer_id", "valid_from", "valid_to", "grade", "nine_box").rows() == [
        ("D1", RUN, None, "A", "A1"),
        ("D2", RUN, LATER, "U", None),
        ("D2", LATER, None, "A", "A1"),  # (99 x 1 our, 999 x 1 market) over its one month
        ("O1", RUN, None, "U", None),
        ("T1", RUN, None, "V", None),
    ]
    # Both run dates keep their own rows.
    assert table(settings, "rep_attainment")["run_date"].n_unique() == 1
    plan_visits.fn(settings, later, changed.grades, rules, LATER)
    assert table(settings, "rep_attainment")["run_date"].n_unique() == 2


def test_an_empty_database_grades_nothing_and_plans_nothing(settings):
    rules = Rules()
    inputs = read_grading_inputs.fn(settings, RUN, rules)
    graded = update_grades.fn(settings, inputs, rules, RUN)
    assert graded.summary["customers"] == 0 and graded.summary["rx_window"] == []
    summary = plan_visits.fn(settings, inputs, graded.grades, rules, RUN)
    assert (summary["targets"], summary["attainment_rows"], summary["orphan_customers"]) == (0, 0, 0)


def test_the_plan_reads_the_loyalty_stages_reorders_and_rewards_of_quarters_closed_by_run_date(settings):
    seed_database(settings)
    with get_engine(settings.database_url).begin() as conn:
        conn.execute(
            sa.insert(ReorderReminder.__table__),
            [
                dict(
                    run_date=RUN,
                    customer_id="T1",
                    staff_id="S1",
                    usual_interval_days=30,
                    orders_counted=3,
                    last_order_date=dt.date(2026, 10, 1),
                    due_date=dt.date(2026, 10, 31),
                    days_overdue=23,
                ),
                # Another night's reminder is not today's.
                dict(
                    run_date=LATER,
                    customer_id="D1",
                    staff_id="S1",
                    usual_interval_days=30,
                    orders_counted=3,
                    last_order_date=dt.date(2026, 10, 1),
                    due_date=dt.date(2026, 10, 31),
                    days_overdue=37,
                ),
            ],
        )
        for quarter, start, end, closed in (
            ("2026Q3", dt.date(2026, 7, 1), dt.date(2026, 9, 30), dt.date(2026, 10, 1)),
            ("2026Q4", dt.date(2026, 10, 1), dt.date(2026, 12, 31), dt.date(2027, 1, 1)),  # closed after RUN
        ):
            conn.execute(
                sa.insert(QuarterClose.__table__).values(
                    quarter=quarter,
                    quarter_start=start,
                    quarter_end=end,
                    run_date=closed,
                    terminals=1,
                    points=600,
                    rewards=1,
                )
            )
            conn.execute(
                sa.insert(QuarterReward.__table__).values(
                    quarter=quarter, customer_id="T1", owner_staff_id="S1", office_code="OF1", points=600, tier="bronze"
                )
            )
    rules = Rules()
    inputs = read_grading_inputs.fn(settings, RUN, rules)
    assert inputs.reorders["customer_id"].to_list() == ["T1"]
    assert inputs.rewards.rows() == [("T1", dt.date(2026, 9, 30))]
    graded = update_grades.fn(settings, inputs, rules, RUN)
    plan_visits.fn(settings, inputs, graded.grades, rules, RUN)
    targets = table(settings, "visit_targets", order_by="staff_id, priority")
    # D1's appointment first (grade A, 1 of 4 visits with 6 working days left: behind on frequency too);
    # T1 (VIP, never contacted): reorder, with a reward, the VIP and the quarterly contact beside it.
    assert targets.select("priority", "customer_id", "reason", "other_reasons", "channel").rows() == [
        (1, "D1", "appointment", "frequency", "face"),
        (2, "T1", "reorder", "reward;vip_contact;coverage", "face"),
    ]
