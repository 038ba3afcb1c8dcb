"""Who works an item: the named staff member when usable, else the office's pool (least-loaded or round-robin)."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from keqing.rules import Rules, rules_from_mapping
from keqing.supply.assignment import assign_staff
from tests.keqing.supply.scenario import STAFF

ITEMS = pl.DataFrame(
    {
        "item": ["A1", "A2", "A3", "A4", "A5", "A6"],
        "office_code": ["OF1", "OF1", "OF1", "OF1", "OF1", "OF3"],
        "requested_staff_id": ["S1", "S1", "S9", "S3", None, None],
        "order": [1, 2, 3, 4, 5, 6],
    }
)


def _assigned(rules: Rules) -> list[tuple]:
    out = assign_staff(ITEMS, STAFF, "callback", rules, order_by=["order"])
    return out.sort("item").select("item", "staff_id", "staff_auto").rows()


def test_least_loaded_keeps_usable_assignments_and_fills_the_least_loaded_first():
    # S9 left (inactive) and S3 works in another office: A3 and A4 go to OF1's pool like A5.
    # Loads before: S1 2, S2 0 -> A3 to S2 (1), A4 to S2 (2), A5 to S1 (tie 2-2: the smaller id).
    # OF3 has no callback staff: A6 keeps a null staff_id instead of being dropped.
    assert _assigned(Rules()) == [
        ("A1", "S1", False),
        ("A2", "S1", False),
        ("A3", "S2", True),
        ("A4", "S2", True),
        ("A5", "S1", True),
        ("A6", None, False),
    ]


def test_round_robin_deals_the_pool_items_in_staff_id_order():
    rules = rules_from_mapping({"callbacks": {"unassigned_policy": "round_robin"}})
    assert _assigned(rules) == [
        ("A1", "S1", False),
        ("A2", "S1", False),
        ("A3", "S1", True),
        ("A4", "S2", True),
        ("A5", "S1", True),
        ("A6", None, False),
    ]


def _greedy(loads: dict[str, int], items: int) -> list[str]:
    loads = dict(loads)
    out = []
    for _ in range(items):
        staff = min(loads, key=lambda s: (loads[s], s))
        loads[staff] += 1
        out.append(staff)
    return out


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=1, max_size=4), st.integers(0, 15))
def test_least_loaded_equals_the_greedy_one_item_at_a_time(loads, waiting):
    staff_ids = [f"S{i}" for i in range(len(loads))]
    staff = pl.DataFrame({"staff_id": staff_ids, "role": "callback", "office_code": "OF", "active": True})
    kept = [(f"K{s}{j}", "OF", s, 0) for s, n in zip(staff_ids, loads, strict=True) for j in range(n)]
    pooled = [(f"U{i:02d}", "OF", None, i + 1) for i in range(waiting)]
    items = pl.DataFrame(
        kept + pooled,
        schema={"item": pl.String, "office_code": pl.String, "requested_staff_id": pl.String, "order": pl.Int64},
        orient="row",
    )
    out = assign_staff(items, staff, "callback", Rules(), order_by=["order"])
    got = out.filter(pl.col("staff_auto")).sort("order")["staff_id"].to_list()
    assert got == _greedy(dict(zip(staff_ids, loads, strict=True)), waiting)
