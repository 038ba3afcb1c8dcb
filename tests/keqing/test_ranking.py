"""The weekly ranking: last week's Monday..Sunday, planned work by role and team, ties broken."""

from __future__ import annotations

import datetime as dt

import polars as pl

from keqing.ranking import ranking_week, weekly_ranking
from keqing.rules import Rules


def test_the_ranking_week_is_the_monday_to_sunday_before_the_run_dates_week():
    assert ranking_week(dt.date(2026, 11, 23)) == (dt.date(2026, 11, 16), dt.date(2026, 11, 22))  # a Monday
    assert ranking_week(dt.date(2026, 11, 29)) == (dt.date(2026, 11, 16), dt.date(2026, 11, 22))  # its Sunday


def test_reps_and_nurses_rank_by_completed_over_planned_within_each_manager():
    staff = pl.DataFrame(
        {
            "staff_id": ["R1", "R2", "R3", "N1", "X1", "M1"],
            "name": ["甲", "乙", "丙", "丁", "戊", "己"],
            "role": ["rep", "rep", "rep", "callback", "rep", "manager"],
            "team": ["GEN", "ONC", "GEN", None, "GEN", None],
            "active": [True, True, True, True, False, True],
            "manager_id": ["M1"] * 5 + [None],
        }
    )
    team = pl.DataFrame({"staff_id": ["R1", "R2", "R3", "N1", "X1"], "manager_id": ["M1"] * 5})
    done = pl.DataFrame({"staff_id": ["R1", "R2", "R3", "N1"], "completed": [30, 25, 30, 100]})
    ranked = weekly_ranking(staff, team, done, Rules(), days=5)
    # Planned: GEN reps 12 x 5 = 60, the ONC rep 10 x 5 = 50, the nurse 40 x 5 = 200. R2 25/50 = 0.5
    # ties R1 and R3 (30/60) and the nurse (100/200): more completed first, then staff_id. X1 is inactive.
    assert ranked.select("rank", "staff_id", "completed", "planned").rows() == [
        (1, "N1", 100, 200),
        (2, "R1", 30, 60),
        (3, "R3", 30, 60),
        (4, "R2", 25, 50),
    ]
