"""The output audit: a clean night passes, and each check fails on a tiny bad frame."""

from __future__ import annotations

import polars as pl
import pytest

from keqing.audit import Failure, audit, audit_frames
from keqing.rules import Rules

RULES = Rules.model_validate({"callbacks": {"max_calls_per_day": 2}, "visits": {"daily_plan": 2}})
STAFF = pl.DataFrame(
    {
        "staff_id": ["N1", "N2", "R1", "R2"],
        "office_code": ["OF1", "OF2", "OF1", "OF1"],
        "team": [None, None, "GEN", "ONC"],
    }
)
CALLS = pl.DataFrame(
    {
        "staff_id": ["N1", "N1", "N2", None],
        "office_code": ["OF1", "OF1", "OF2", "OF3"],  # OF3 has no callback staff: a staff-less list
        "patient_id": ["P1", "P2", None, "P3"],
        "consult_id": [None, None, "C1", None],
        "reason": ["overdue", "cadence", "consult", "lapsed"],
    }
)
TARGETS = pl.DataFrame(
    {
        "staff_id": ["R1", "R1", "R2"],
        "office_code": ["OF1", "OF1", "OF1"],
        "customer_id": ["D1", "D2", "D3"],
        "reason": ["appointment", "reorder", "vip_contact"],
    }
)
KNOWN = pl.Series(["P1", "P2", "P3"])


def _audit(calls=CALLS, targets=TARGETS, known=KNOWN, rules=RULES) -> list[Failure]:
    return audit(audit_frames(calls, targets, STAFF, known, rules))


def test_a_clean_night_passes():
    frames = audit_frames(CALLS, TARGETS, STAFF, KNOWN, RULES)
    assert frames["loads"].sort("key").rows() == [
        ("N1", 2, 2),
        ("N2", 1, 2),
        ("R1", 2, 2),
        ("R2", 1, 10),
    ]  # R2: ONC plans 10
    assert _audit() == []


def test_more_calls_than_a_nurse_may_make_fail():
    third = pl.DataFrame({"staff_id": ["N1"], "office_code": ["OF1"], "patient_id": ["P3"], "consult_id": [None]})
    calls = pl.concat([CALLS, third.with_columns(pl.lit("cadence").alias("reason"))], how="diagonal_relaxed")
    assert _audit(calls=calls) == [Failure("over_daily_limit", 1, ("N1",))]


def test_more_targets_than_a_reps_daily_plan_fail_and_the_plan_is_the_teams():
    # R2 is in ONC, whose plan is 1 here: its one target passes, a second fails; R1's plan is 2.
    rules = RULES.model_copy(update={"visits": RULES.visits.model_copy(update={"daily_plan_by_team": {"ONC": 1}})})
    assert _audit(rules=rules) == []
    extra = pl.DataFrame({"staff_id": ["R2"], "office_code": ["OF1"], "customer_id": ["D4"], "reason": ["coverage"]})
    assert _audit(targets=pl.concat([TARGETS, extra]), rules=rules) == [Failure("over_daily_limit", 1, ("R2",))]


def test_a_reason_outside_the_contracts_sets_fails():
    calls = CALLS.with_columns(
        pl.when(pl.col("patient_id") == "P2").then(pl.lit("birthday")).otherwise("reason").alias("reason")
    )
    targets = TARGETS.with_columns(pl.lit("lunch").alias("reason"))
    assert _audit(calls=calls, targets=targets) == [
        Failure("call_reason_unknown", 1, ("P2",)),
        Failure("visit_reason_unknown", 3, ("D1", "D2", "D3")),
    ]


@pytest.mark.parametrize("staff_id", ["N2", "X9"])  # of another office, or of none known
def test_a_call_on_the_list_of_a_nurse_of_another_office_fails(staff_id):
    calls = CALLS.with_columns(
        pl.when(pl.col("patient_id") == "P1").then(pl.lit(staff_id)).otherwise("staff_id").alias("staff_id")
    )
    assert Failure("call_other_office", 1, ("P1",)) in _audit(calls=calls)


def test_a_visit_target_on_the_list_of_a_rep_of_another_office_fails():
    targets = TARGETS.with_columns(pl.lit("OF2").alias("office_code"))
    assert _audit(targets=targets) == [Failure("visit_other_office", 3, ("D1", "D2", "D3"))]


def test_a_call_whose_patient_is_unknown_fails():
    assert _audit(known=pl.Series(["P1", "P3"])) == [Failure("call_patient_unknown", 1, ("P2",))]


def test_the_alert_names_the_check_in_chinese_with_ids_only():
    assert Failure("call_patient_unknown", 1, ("P2",)).alert() == (
        "输出核查未通过：回访名单上的患者不在患者档案中（1 行，例如 P2）"
    )
