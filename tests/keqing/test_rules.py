"""The rules object: contract defaults, YAML overrides, and errors that name the key."""

from __future__ import annotations

import polars as pl
import pytest

from keqing.grading.attainment import daily_plan
from keqing.rules import Rules, RulesError, load_rules


def test_defaults_are_the_contracts():
    rules = Rules()
    assert rules.callbacks.cadence_days == (1, 3, 6, 10, 15)
    assert rules.callbacks.then_every_days == 5
    assert rules.callbacks.max_calls_per_day == 40
    assert rules.callbacks.priority == ("overdue", "expiring", "consult", "lapsed", "cadence", "holiday")
    assert (rules.supply.must_keep_share, rules.supply.target_share) == (0.6, 0.8)
    assert (rules.grading.high_potential_rx, rules.grading.high_support_rx) == (100, 30)
    assert rules.visits.standards["A"].visits_per_month == 4
    assert rules.visits.standards["C"].quarterly_coverage == 0.8
    teams = pl.DataFrame({"team": ["ONC", "GEN", None]}, schema={"team": pl.String})
    assert teams.select(daily_plan(rules))["team"].to_list() == [10, 12, 12]
    assert rules.loyalty.tiers == {"bronze": 500, "silver": 2000, "gold": 5000}
    assert rules.home_visits.max_visits_per_day == 10


def test_yaml_overrides_only_what_it_names(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text("grading:\n  high_potential_rx: 120\ncallbacks:\n  max_calls_per_day: 35\n", encoding="utf-8")
    rules = load_rules(path)
    assert rules.grading.high_potential_rx == 120
    assert rules.grading.high_support_rx == 30
    assert rules.callbacks.max_calls_per_day == 35
    assert rules.callbacks.cadence_days == (1, 3, 6, 10, 15)


@pytest.mark.parametrize(
    ("yaml_text", "named"),
    [
        ("grading:\n  high_potential_rx: -5\n", "grading.high_potential_rx"),
        ("callbacks:\n  max_calls_per_day: lots\n", "callbacks.max_calls_per_day"),
        ("callbacks:\n  max_cals_per_day: 30\n", "callbacks.max_cals_per_day"),
        ("supply:\n  must_keep_share: 1.5\n", "supply.must_keep_share"),
        ("callbacks:\n  cadence_days: [3, 1]\n", "callbacks"),
    ],
)
def test_a_wrong_value_names_the_key(tmp_path, yaml_text, named):
    path = tmp_path / "rules.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(RulesError) as caught:
        load_rules(path)
    assert named in str(caught.value)
    assert str(path) in str(caught.value)
