"""Today's visit targets: reasons and their order, the daily plan, ownership, the route layout, orphans."""

from __future__ import annotations

import datetime as dt

import polars as pl

from keqing.calendar import PACKAGE
from keqing.grading.periods import Periods
from keqing.grading.targets import due_today, orphan_customers, visit_targets
from keqing.org import managers_of
from keqing.rules import Rules, rules_from_mapping
from tests.keqing.grading.frames import customer, customers, grades, staff, visit, visits

RUN = dt.date(2026, 11, 23)  # a Monday; field working days left in November: 23-27 and 30 = 6
PEOPLE = staff(
    ("S1", "rep", "M1", "GEN", True),
    ("S2", "rep", "M1", "ONC", True),
    ("S3", "rep", "M1", "GEN", False),
    ("S5", "rep", "M2", "GEN", False),
    ("S6", "rep", None, "GEN", False),
    ("M1", "manager", None, None, True),
    ("M2", "manager", "M3", None, False),
    ("M3", "manager", None, None, True),
)
COLUMNS = [
    "rank",
    "priority",
    "customer_id",
    "reason",
    "channel",
    "grade",
    "strategy",
    "visits_this_month",
    "standard",
    "last_visit_date",
    "institution",
    "department",
]


def nov(day: int) -> dt.date:
    return dt.date(2026, 11, day)


def plan(cust, gr, seen, run_date=RUN, rules=None) -> pl.DataFrame:
    return visit_targets(cust, gr, PEOPLE, seen, Periods.for_run(run_date, PACKAGE), rules or Rules())


def test_reasons_in_priority_order_laid_out_as_a_route():
    cust = customers(
        customer("A1", institution="H1"),
        customer("A2", institution="H1"),
        customer("A3", institution="H2"),
        customer("C1", institution="H1", department="内科"),
        customer("C2", institution="H1", department="内科"),
        customer("C3", institution="H1", department="内科"),
        customer("D1", institution="H4"),
        customer("D2", institution="H2"),
        customer("D3", institution="H1"),
        customer("D4", institution="H3", department="外科"),
        customer("D5", institution="H3", department="外科"),
        customer("N1", kind="nonprescriber", title="护士长", institution="H1", department="护理部"),
        customer("T1", kind="terminal", institution="村卫生室", department=None),
        customer("T2", kind="terminal", institution="诊所", department=None),
        customer("T3", kind="terminal", institution="药店", department=None),
        customer("X1", owner="S2", institution="H1"),
    )
    gr = grades(
        *((c, "doctor", "A", "A1") for c in ("A1", "A2", "A3", "X1")),
        *((c, "doctor", "C", "B1") for c in ("C1", "C2", "C3")),
        *((c, "doctor", "D", "C3") for c in ("D1", "D2", "D3", "D4", "D5")),
        ("N1", "nonprescriber", "N"),
        ("T1", "terminal", "V"),
        ("T2", "terminal", "T"),
        ("T3", "terminal", "T"),
    )
    seen = visits(
        *(visit("A1", nov(d)) for d in (2, 9, 16)),  # 1 visit left, 5 days to spare: not due
        visit("A2", dt.date(2026, 10, 20)),  # 4 left need 1 + 3 x 5 = 16 days: slack 5 - 16 = -11
        visit("A3", nov(2)),
        visit("A3", nov(9)),  # 2 left need 6 days: slack -1
        visit("C1", dt.date(2026, 9, 1)),
        visit("C2", nov(10)),
        visit("C3", nov(11)),  # C: 2 of 3 this month >= 60%; quarter 2 of 3 < 80% -> 1 gap: C1
        visit("D1", dt.date(2026, 9, 15)),  # D: quarter needs ceil(60% x 5) = 3: never seen first, D2 D3 D4
        visit("N1", nov(16)),  # 护士长: 2 a month, 1 left, not due; N coverage met
        visit("T2", dt.date(2026, 10, 12), channel="phone"),  # quarterly contact done
        visit("X1", nov(2), staff_id="S2"),
    )
    result = plan(cust, gr, seen).filter(staff_id="S1")
    # Urgency: A2 1, A3 2 (frequency); C1 3, D2 4, D3 5, D4 6 (coverage); T1 7 (VIP); T3 8 (quarterly phone).
    # Route: H1 (A2) 心内科 A2 D3, 内科 C1; H2 (A3) A3 D2; H3 D4; 村卫生室 T1; 药店 T3.
    assert result.select(COLUMNS).rows() == [
        (1, 1, "A2", "frequency", "face", "A", "防御", 0, 4, dt.date(2026, 10, 20), "H1", "心内科"),
        (2, 5, "D3", "coverage", "face", "D", "观察", 0, 0, None, "H1", "心内科"),
        (3, 3, "C1", "coverage", "face", "C", "维持", 0, 1, dt.date(2026, 9, 1), "H1", "内科"),
        (4, 2, "A3", "frequency", "face", "A", "防御", 2, 4, nov(9), "H2", "心内科"),
        (5, 4, "D2", "coverage", "face", "D", "观察", 0, 0, None, "H2", "心内科"),
        (6, 6, "D4", "coverage", "face", "D", "观察", 0, 0, None, "H3", "外科"),
        (7, 7, "T1", "vip_contact", "face", "V", None, 0, 1, None, "村卫生室", None),
        (8, 8, "T3", "coverage", "phone", "T", None, 0, 0, None, "药店", None),
    ]


def test_appointment_first_daily_plan_and_only_own_customers():
    cust = customers(
        *(customer(f"A{i:02d}", institution=f"H{i % 3}") for i in range(1, 16)),
        customer("DZ", institution="H9", department="肾内科"),
        *(customer(f"B{i:02d}", owner="S2", institution=f"H{i % 3}") for i in range(1, 16)),
    )
    gr = grades(*((c, "doctor", "D" if c == "DZ" else "A", None) for c in cust["customer_id"]))
    seen = visits(
        # A commitment made by the manager, with the visit rescheduled: DZ is expected today.
        visit("DZ", nov(16), staff_id="M1", outcome="rescheduled", next_visit=RUN),
        # A later visit moved A15's appointment to the 30th.
        visit("A15", nov(10), next_visit=RUN),
        visit("A15", nov(13), next_visit=nov(30)),
        visit("B01", nov(9), staff_id="S2", next_visit=nov(24)),
    )
    result = plan(cust, gr, seen)
    s1 = result.filter(staff_id="S1")
    assert s1.height == 12  # GEN daily plan
    assert s1["rank"].to_list() == list(range(1, 13))
    assert s1.select("customer_id", "reason", "priority", "grade").row(0) == ("DZ", "appointment", 1, "D")
    assert s1.filter(pl.col("reason") == "appointment")["customer_id"].to_list() == ["DZ"]
    # Then the 11 most behind: A01..A11 (A15 has one visit, so more slack).
    assert sorted(s1.filter(reason="frequency")["customer_id"].to_list()) == [f"A{i:02d}" for i in range(1, 12)]
    s2 = result.filter(staff_id="S2")
    assert s2.height == 10  # ONC plans 10
    assert set(s2["customer_id"]) <= {f"B{i:02d}" for i in range(1, 16)}
    assert set(s1["customer_id"]) <= set(cust.filter(owner_staff_id="S1")["customer_id"])
    assert result.group_by("staff_id").agg(pl.col("rank").max())["rank"].max() <= 12
    assert result.select("staff_id", "customer_id").is_unique().all()


def test_a_day_off_lists_only_appointments():
    sunday = nov(22)
    cust = customers(customer("A1"), customer("A2"))
    gr = grades(("A1", "doctor", "A", "A1"), ("A2", "doctor", "A", "A1"))
    seen = visits(visit("A1", nov(20), next_visit=sunday))
    result = plan(cust, gr, seen, run_date=sunday)
    assert result.select("rank", "customer_id", "reason").rows() == [(1, "A1", "appointment")]


def test_frequency_with_back_to_back_days():
    friday = nov(27)  # field working days left: 27 and 30 -> a visit can wait 1 day
    cust = customers(customer("A0"), customer("A2"), customer("A3"))
    gr = grades(*((c, "doctor", "A", "A1") for c in ("A0", "A2", "A3")))
    seen = visits(
        *(visit("A2", nov(d)) for d in (2, 9)),  # 2 left need 2 days: due
        *(visit("A3", nov(d)) for d in (2, 9, 16)),  # 1 left needs 1 day: can wait until the 30th
    )
    back_to_back = rules_from_mapping({"visits": {"spacing_workdays": 1}})
    due = due_today(cust, gr, seen, Periods.for_run(friday, PACKAGE), back_to_back)
    assert due.select("customer_id", "reason", "slack").sort("customer_id").rows() == [
        ("A0", "frequency", -3),  # 4 left need 4 days, 1 to spare: 1 - 4
        ("A2", "frequency", -1),  # 1 - 2
        ("A3", None, 0),  # visited this month, so no coverage gap either
    ]


def test_customers_of_inactive_staff_go_to_the_nearest_active_manager():
    cust = customers(
        customer("O1", owner="S3"),
        customer("O2", owner="S3", kind="nonprescriber", title="院办领导"),
        customer("O3", owner="S5"),
        customer("O4", owner="S6"),
        customer("K1", owner="S1"),
    )
    gr = grades(
        ("O1", "doctor", "A", "A1"),
        ("O2", "nonprescriber", "N"),
        ("O3", "doctor", "D", "C3"),
        ("O4", "doctor", "U"),
        ("K1", "doctor", "A", "A1"),
    )
    seen = visits(visit("O1", nov(2), staff_id="S3", next_visit=RUN))
    periods = Periods.for_run(RUN, PACKAGE)
    due = due_today(cust, gr, seen, periods, Rules())
    orphans = orphan_customers(due, PEOPLE)
    assert orphans.select(
        "customer_id", "former_staff_id", "manager_id", "grade", "reason", "visits_this_month"
    ).rows() == [
        ("O1", "S3", "M1", "A", "appointment", 1),
        ("O2", "S3", "M1", "N", "coverage", 0),
        ("O3", "S5", "M3", "D", "coverage", 0),  # M2 has left too: the next one up
        ("O4", "S6", None, "U", "coverage", 0),  # nobody up the chain: the office's managers decide
    ]
    targets = visit_targets(cust, gr, PEOPLE, seen, periods, Rules(), due=due)
    assert targets["customer_id"].to_list() == ["K1"]
    assert managers_of(PEOPLE, pl.DataFrame({"staff_id": ["S1", "M2", "S5"]})).sort("staff_id").rows() == [
        ("M2", "M3"),
        ("S1", "M1"),
        ("S5", "M3"),
    ]


def test_visits_are_read_back_twelve_months_from_the_cutoff():
    cust = customers(customer("A1"), customer("A2"))
    gr = grades(("A1", "doctor", "A", "A1"), ("A2", "doctor", "A", "A1"))
    seen = visits(
        visit("A1", dt.date(2025, 11, 23)),  # cutoff 22 Nov 2026 - 12 months + 1 day: the first day read
        visit("A2", dt.date(2025, 11, 22)),  # a day earlier: not read, as if never seen
    )
    due = due_today(cust, gr, seen, Periods.for_run(RUN, PACKAGE), Rules())
    assert due.select("customer_id", "last_visit_date").sort("customer_id").rows() == [
        ("A1", dt.date(2025, 11, 23)),
        ("A2", None),
    ]
    longer = rules_from_mapping({"visits": {"lookback_months": 13}})
    due = due_today(cust, gr, seen, Periods.for_run(RUN, PACKAGE), longer)
    assert due.filter(customer_id="A2")["last_visit_date"].to_list() == [dt.date(2025, 11, 22)]


# --- loyalty on the visit plan (contract section 5: reorder, reward, other_reasons) ---------------

Q3_END = dt.date(2026, 9, 30)  # 2026Q3 closed on the run of 1 October


def loyalty_frames(reorder_ids: list[str], reward_ids: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    reorders = pl.DataFrame({"customer_id": reorder_ids}, schema={"customer_id": pl.String})
    rewards = pl.DataFrame(
        {"customer_id": reward_ids, "quarter_end": [Q3_END] * len(reward_ids)},
        schema={"customer_id": pl.String, "quarter_end": pl.Date},
    )
    return reorders, rewards


def test_a_vip_terminal_overdue_for_its_reorder_is_listed_as_reorder_with_vip_contact_beside():
    cust = customers(
        customer("T1", kind="terminal", institution="村卫生室", department=None),
        customer("T2", kind="terminal", institution="诊所", department=None),
        customer("A1", institution="H1"),
    )
    gr = grades(("T1", "terminal", "V"), ("T2", "terminal", "T"), ("A1", "doctor", "A", "A1"))
    seen = visits(
        visit("T1", dt.date(2026, 10, 12), channel="phone"),  # its quarterly contact done, not this month's
        *(visit("A1", nov(d)) for d in (2, 9, 16)),  # one visit left, days to spare: nothing due
    )
    reorders, rewards = loyalty_frames(["T1", "T2"], [])
    result = visit_targets(
        cust, gr, PEOPLE, seen, Periods.for_run(RUN, PACKAGE), Rules(), reorders=reorders, rewards=rewards
    )
    # T1: reorder (2) before vip_contact (6); T2 (grade T, no contact this quarter): reorder, then coverage by phone.
    assert result.select("customer_id", "reason", "other_reasons", "channel", "priority").rows() == [
        ("T1", "reorder", "vip_contact", "face", 1),
        ("T2", "reorder", "coverage", "face", 2),
    ]


def test_a_bronze_reward_stays_a_reason_until_a_completed_visit_after_the_close():
    cust = customers(
        *(customer(c, kind="terminal", institution=f"药店{c}", department=None) for c in ("T1", "T2", "T3", "T4")),
    )
    gr = grades(*((c, "terminal", "T") for c in ("T1", "T2", "T3", "T4")))
    before = [
        visit("T1", Q3_END),  # the quarter's last day: before the close, hands nothing over
        visit("T2", dt.date(2026, 10, 1)),  # the first day after the close: handed over
        visit("T3", dt.date(2026, 10, 15), outcome="rescheduled"),  # not completed: still to hand over
    ]
    seen = visits(*before)
    reorders, rewards = loyalty_frames([], ["T1", "T2", "T3", "T4"])
    due = due_today(cust, gr, seen, Periods.for_run(RUN, PACKAGE), Rules(), reorders=reorders, rewards=rewards)
    assert due.select("customer_id", "reason", "other_reasons", "channel").sort("customer_id").rows() == [
        ("T1", "reward", "coverage", "face"),  # no contact this quarter either
        ("T2", None, None, "face"),
        ("T3", "reward", "coverage", "face"),
        ("T4", "reward", "coverage", "face"),  # never visited
    ]
    # T4 visited on 23 November: the reward is handed over, and the plan of the 24th no longer holds it.
    later = visits(*before, visit("T4", nov(23)))
    due = due_today(cust, gr, later, Periods.for_run(nov(24), PACKAGE), Rules(), reorders=reorders, rewards=rewards)
    assert due.filter(customer_id="T4").select("reason", "other_reasons").rows() == [(None, None)]
    # Without the reward rows (no quarter closed yet), T1 is listed for its phone contact alone.
    due = due_today(cust, gr, seen, Periods.for_run(RUN, PACKAGE), Rules())
    assert due.filter(customer_id="T1").select("reason", "other_reasons", "channel").rows() == [
        ("coverage", None, "phone")
    ]


def test_reorders_and_rewards_stay_within_the_daily_plan():
    cust = customers(
        *(customer(f"T{i:02d}", kind="terminal", institution=f"药店{i}", department=None) for i in range(1, 16)),
        customer("A1", institution="H1"),
    )
    gr = grades(*((f"T{i:02d}", "terminal", "T") for i in range(1, 16)), ("A1", "doctor", "D", "C3"))
    seen = visits(
        visit("A1", nov(20), next_visit=RUN),
        *(visit(f"T{i:02d}", dt.date(2026, 10, 5), channel="phone") for i in range(1, 16)),
    )
    reorders, rewards = loyalty_frames([f"T{i:02d}" for i in range(1, 9)], [f"T{i:02d}" for i in range(5, 16)])
    # The phone contacts of 5 October hand over a 2026Q3 reward: here the rewards are of a quarter
    # ending on 31 October (the dates only matter relative to the contacts).
    rewards = rewards.with_columns(quarter_end=pl.lit(dt.date(2026, 10, 31)))
    result = visit_targets(
        cust, gr, PEOPLE, seen, Periods.for_run(RUN, PACKAGE), Rules(), reorders=reorders, rewards=rewards
    )
    assert result.height == 12  # the GEN daily plan
    by_priority = result.sort("priority").select("customer_id", "reason", "other_reasons").rows()
    assert by_priority[0] == ("A1", "appointment", None)
    # Reorders T01..T08 before rewards; T05..T08 hold both; then three of the rewards T09..T15.
    assert [r[1] for r in by_priority[1:]] == ["reorder"] * 8 + ["reward"] * 3
    assert [r[2] for r in by_priority[1:9]] == [None] * 4 + ["reward"] * 4
    assert [r[0] for r in by_priority[1:]] == [f"T{i:02d}" for i in range(1, 12)]
