"""Proportion of days covered (PDC) over the last 180 days, PQA shift-forward, and the low-adherence flag."""

from __future__ import annotations

import polars as pl
import pytest

from keqing.rules import Rules, rules_from_mapping
from keqing.supply.adherence import adherence
from keqing.supply.supply import coverage
from tests.keqing.supply.scenario import PRODUCTS, d, purchases


def _pdc(rows: pl.DataFrame, cutoff: str, rules: Rules | None = None) -> dict[str, tuple[float, bool]]:
    cov = coverage(rows, PRODUCTS, d(cutoff))
    out = cov.with_ids(adherence(cov, d(cutoff), rules or Rules()))
    return {pid: (pdc, low) for pid, pdc, low in out.select("patient_id", "pdc", "low_adherence").iter_rows()}


def test_pdc_of_a_hand_made_fill_history():
    # Cutoff 2026-11-30: the 180-day window is 2026-06-04 .. 2026-11-30. One box of PR30 = 30 days.
    rows = purchases(
        ("P1", "PR30", 1, "2026-05-20"),  # 05-20 .. 06-18: 15 days inside the window (06-04 .. 06-18)
        ("P1", "PR30", 2, "2026-07-01"),  # 07-01 .. 08-29: 60 days
        ("P1", "PR30", 1, "2026-08-20"),  # bought early: shifted to 08-30 .. 09-28, 30 days (not 08-20 .. 09-18)
        ("P1", "PR30", 1, "2026-11-15"),  # 11-15 .. 12-14: 16 days up to the cutoff
        # A patient who started inside the window is measured from the first purchase:
        # 10-01 .. 12-29 covers all 61 days from 10-01 to 11-30.
        ("P2", "PR30", 3, "2026-10-01"),
        # Gaps: 11-01 .. 11-10 and 11-21 .. 11-30 covered, 20 of 30 days since the first purchase.
        ("P3", "PR10", 1, "2026-11-01"),
        ("P3", "PR10", 1, "2026-11-21"),
    )
    got = _pdc(rows, "2026-11-30")
    assert got["P1"] == (pytest.approx((15 + 60 + 30 + 16) / 180), True)
    assert got["P2"] == (1.0, False)
    assert got["P3"] == (pytest.approx(20 / 30), True)


def test_the_threshold_is_inclusive_and_configurable():
    # 8 of 10 days covered: exactly 80% is not low adherence; a stricter rule (90%) flags it.
    rows = purchases(("P1", "PR07", 1, "2026-11-21"), ("P1", "PR07", 1, "2026-11-30"))
    assert _pdc(rows, "2026-11-30")["P1"] == (pytest.approx(8 / 10), False)
    strict = rules_from_mapping({"adherence": {"pdc_threshold": 0.9}})
    assert _pdc(rows, "2026-11-30", strict)["P1"] == (pytest.approx(8 / 10), True)


def test_supply_bought_before_the_window_counts_for_the_days_it_lasts_inside():
    # 6 boxes of PR30 on 2026-05-01 cover 05-01 .. 10-27: 146 of the 180 window days (06-04 .. 10-27).
    assert _pdc(purchases(("P1", "PR30", 6, "2026-05-01")), "2026-11-30")["P1"] == (
        pytest.approx(146 / 180),
        False,
    )
