"""The monthly expiry lists (到期名单): membership, repurchases, must-keep (必保量) and target (目标量)."""

from __future__ import annotations

import polars as pl
import pytest

from keqing.clock import cutoff_for
from keqing.rules import Rules
from keqing.supply.expiry import expiry_list, expiry_targets, list_months
from keqing.supply.supply import coverage
from tests.keqing.supply.scenario import PRODUCTS, d, purchases


def _entries(rows: pl.DataFrame, run_date: str) -> list[tuple]:
    cov = coverage(rows, PRODUCTS, cutoff_for(d(run_date)))
    return expiry_list(cov, d(run_date)).rows()


def test_the_lists_of_a_run_are_its_month_and_the_next():
    assert list_months(d("2026-12-15")) == [d("2026-12-01"), d("2027-01-01")]


def test_membership_and_repurchase_during_the_month():
    rows = purchases(
        # P1: expires 11-10; refilled 11-08 (during November) -> stays on November's list, repurchased.
        ("P1", "PR10", 1, "2026-11-01"),
        ("P1", "PR10", 3, "2026-11-08"),
        # P2: expiry 11-12 was replaced by a refill bought in October: not on November's list;
        # its current expiry 2026-12-12 puts it on December's list.
        ("P2", "PR30", 1, "2026-10-14"),
        ("P2", "PR30", 1, "2026-10-30"),
        # P3: expires 11-25, no refill yet.
        ("P3", "PR10", 2, "2026-11-06"),
        # P4: two short fills in November, the month's last expiry counts (11-23, not repurchased).
        ("P4", "PR07", 1, "2026-11-03"),
        ("P4", "PR07", 1, "2026-11-17"),
        # P5: runs out in January, not on either list.
        ("P5", "PR30", 3, "2026-11-02"),
    )
    assert _entries(rows, "2026-11-20") == [
        (d("2026-11-01"), "P1", "PR10", d("2026-11-10"), True),
        (d("2026-11-01"), "P3", "PR10", d("2026-11-25"), False),
        (d("2026-11-01"), "P4", "PR07", d("2026-11-23"), False),
        (d("2026-12-01"), "P1", "PR10", d("2026-12-10"), False),
        (d("2026-12-01"), "P2", "PR30", d("2026-12-12"), False),
    ]


def _targets(sizes: dict[tuple[str, str | None], tuple[int, int]]) -> pl.DataFrame:
    """Entries from {(office, staff): (size, repurchased)}."""
    rows = []
    for (office, staff), (size, repurchased) in sizes.items():
        rows += [(d("2026-11-01"), f"{office}-{staff}-{i}", office, staff, i < repurchased) for i in range(size)]
    entries = pl.DataFrame(
        rows,
        schema={
            "month": pl.Date,
            "patient_id": pl.String,
            "office_code": pl.String,
            "callback_staff_id": pl.String,
            "repurchased": pl.Boolean,
        },
        orient="row",
    )
    return expiry_targets(entries, Rules())


def test_must_keep_and_target_of_seven_expiring_patients_are_five_and_six():
    out = _targets({("OF1", "S1"): (7, 4)})
    assert out.select("scope", "staff_id", "size", "must_keep", "target", "repurchased").rows() == [
        ("office", None, 7, 5, 6, 4),  # ceil(0.6 x 7) = ceil(4.2) = 5, ceil(0.8 x 7) = ceil(5.6) = 6
        ("staff", "S1", 7, 5, 6, 4),
    ]
    assert out["retention"].to_list() == [pytest.approx(4 / 7)] * 2
    assert out.select("must_keep_met", "target_met").rows() == [(False, False)] * 2


def test_targets_per_office_and_staff_without_floating_point_surprises():
    out = _targets({("OF1", "S1"): (5, 3), ("OF1", "S2"): (10, 8), ("OF1", None): (1, 0), ("OF2", "S3"): (3, 3)})
    assert out.select("office_code", "scope", "staff_id", "size", "must_keep", "target", "repurchased").rows() == [
        ("OF1", "office", None, 16, 10, 13, 11),  # ceil(9.6), ceil(12.8)
        ("OF1", "staff", "S1", 5, 3, 4, 3),  # 0.6 x 5 is 3.0000000000000004 in floats: must-keep stays 3
        ("OF1", "staff", "S2", 10, 6, 8, 8),
        ("OF2", "office", None, 3, 2, 3, 3),
        ("OF2", "staff", "S3", 3, 2, 3, 3),
    ]
    assert out.select("must_keep_met", "target_met").rows() == [
        (True, False),
        (True, False),
        (True, True),
        (True, True),
        (True, True),
    ]
