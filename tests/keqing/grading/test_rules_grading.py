"""The rules added by the grading stage: defaults, and wrong values that name their key."""

from __future__ import annotations

import pytest

from keqing.rules import Rules, RulesError, rules_from_mapping


def test_defaults():
    v = Rules().visits
    assert (v.call_channels, v.contact_channels) == (("face", "meeting"), ("face", "phone", "wechat", "meeting"))
    assert (v.count_visits_by, v.spacing_workdays, v.lookback_months, v.ungraded_standard) == ("owner", 5, 12, "C")
    assert (v.nonprescriber_monthly_coverage, v.nonprescriber_quarterly_coverage) == (0.5, 0.8)
    assert Rules().grading.missing_months == "skip"


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"visits": {"lookback_months": 2}}, "visits.lookback_months"),  # must cover a quarter
        ({"visits": {"call_channels": ["fax"]}}, "visits.call_channels"),
        ({"visits": {"contact_channels": []}}, "visits.contact_channels"),
        ({"visits": {"count_visits_by": "everyone"}}, "visits.count_visits_by"),
        ({"visits": {"ungraded_standard": "U"}}, "visits.ungraded_standard"),
        ({"grading": {"missing_months": "drop"}}, "grading.missing_months"),
    ],
)
def test_wrong_values_name_the_key(overrides, named):
    with pytest.raises(RulesError) as caught:
        rules_from_mapping(overrides)
    assert named in str(caught.value)
