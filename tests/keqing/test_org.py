"""The reporting chain: levels up the manager_id chain, cycles stopped, inactive managers passed over."""

from __future__ import annotations

import polars as pl

from keqing.org import MAX_LEVELS, managers_of, reporting_chain, team_pairs

# R1 -> M1 -> D1 -> V1; M1 is inactive. C1 and C2 manage each other (a cycle in the data).
STAFF = pl.DataFrame(
    {
        "staff_id": ["R1", "M1", "D1", "V1", "C1", "C2", "S1"],
        "manager_id": ["M1", "D1", "V1", None, "C2", "C1", "S1"],  # S1 is its own manager: ignored
        "active": [True, False, True, True, True, True, True],
    }
)


def test_each_manager_up_the_chain_once_at_its_nearest_level():
    chain = reporting_chain(STAFF).sort("staff_id", "level")
    assert chain.rows() == [
        ("C1", "C2", 1),
        ("C2", "C1", 1),
        ("D1", "V1", 1),
        ("M1", "D1", 1),
        ("M1", "V1", 2),
        ("R1", "M1", 1),
        ("R1", "D1", 2),
        ("R1", "V1", 3),
    ]
    assert sorted(team_pairs(STAFF).filter(pl.col("manager_id") == "V1")["staff_id"]) == ["D1", "M1", "R1"]


def test_a_chain_longer_than_the_limit_stops_there():
    ids = [f"L{i:02d}" for i in range(MAX_LEVELS + 3)]
    staff = pl.DataFrame({"staff_id": ids, "manager_id": [*ids[1:], None]})
    assert reporting_chain(staff).filter(pl.col("staff_id") == "L00")["level"].max() == MAX_LEVELS


def test_the_nearest_active_manager_passes_over_inactive_ones():
    nearest = managers_of(STAFF, pl.DataFrame({"staff_id": ["R1", "V1", "M1"]})).sort("staff_id")
    assert nearest.rows() == [("M1", "D1"), ("R1", "D1"), ("V1", None)]
