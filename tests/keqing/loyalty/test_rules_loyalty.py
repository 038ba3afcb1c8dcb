"""The loyalty section of the rules object: defaults and the checks added for the ledger."""

from __future__ import annotations

import pytest

from keqing.rules import Rules, RulesError, rules_from_mapping


def test_loyalty_defaults_are_the_contracts():
    loyalty = Rules().loyalty
    assert (loyalty.yuan_per_point, loyalty.rounding) == (10, "floor")
    assert loyalty.tiers == {"bronze": 500, "silver": 2000, "gold": 5000}
    assert (loyalty.reorder_min_orders, loyalty.reorder_last_orders) == (3, 6)
    assert loyalty.full_check_before_close is True


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"yuan_per_point": 0.005}, "whole number of fen"),
        ({"tiers": {"bronze": 500, "silver": 500}}, "distinct thresholds"),
        ({"reorder_min_orders": 5, "reorder_last_orders": 4}, "at least reorder_min_orders"),
        ({"rounding": "bankers"}, "loyalty.rounding"),
    ],
)
def test_inconsistent_loyalty_rules_are_refused(overrides, message):
    with pytest.raises(RulesError, match=message):
        rules_from_mapping({"loyalty": overrides})


def test_a_cents_rate_is_accepted():
    assert rules_from_mapping({"loyalty": {"yuan_per_point": 12.5}}).loyalty.yuan_per_point == 12.5
