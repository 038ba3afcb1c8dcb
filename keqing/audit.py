"""The night's outputs checked before any staff email is rendered: write, audit, publish.

Inputs are validated on the way in (keqing/ingest, Great Expectations); this is the same for what
the night derived, six checks over small frames built here, in Polars: the frames hold a few
thousand rows, and importing Great Expectations (4 to 6 s) would be most of a night that has nothing
new to ingest (issue 17, the run's fixed cost).

- ``loads``: one row per staff member and list: its rows today and its limit (a callback nurse's
  ``max_calls_per_day``, a rep's daily plan for their team, contract section 4);
- ``calls``: one row per listed call: its reason, whether its staff member is of the row's office,
  whether its patient is known (consult follow-ups have none);
- ``targets``: one row per visit target: its reason and whether its rep is of the row's office.

A failure names the check, how many rows fail and a few ids (staff, patient, consult or customer
ids, never names or phones), and stops publishing: the flow sends no staff email and alerts ops.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

import polars as pl

from keqing.grading.attainment import daily_plan
from keqing.rules import CallbackReason, Rules

CALLBACK_REASONS: tuple[str, ...] = get_args(CallbackReason)
VISIT_REASONS: tuple[str, ...] = ("appointment", "frequency", "coverage", "reorder", "reward", "vip_contact")
KEY = "key"  # the id a failure names
EXAMPLES = 5


@dataclass(frozen=True)
class Check:
    frame: str  # of audit_frames
    name: str  # what a failure is called
    passes: pl.Expr  # true for a good row; a null (a value not there to check) passes


SUITE: tuple[Check, ...] = (
    Check("loads", "over_daily_limit", pl.col("rows") <= pl.col("limit")),
    Check("calls", "call_reason_unknown", pl.col("reason").is_in(CALLBACK_REASONS)),
    Check("calls", "call_other_office", pl.col("same_office")),
    Check("calls", "call_patient_unknown", pl.col("patient_known")),
    Check("targets", "visit_reason_unknown", pl.col("reason").is_in(VISIT_REASONS)),
    Check("targets", "visit_other_office", pl.col("same_office")),
)

# What ops read when a check fails (contract section 5: ops read Chinese).
MESSAGES = {
    "over_daily_limit": "超过每日上限的名单",
    "call_reason_unknown": "回访原因不在约定范围内",
    "call_other_office": "回访名单上有其他办事处员工的行",
    "call_patient_unknown": "回访名单上的患者不在患者档案中",
    "visit_reason_unknown": "拜访原因不在约定范围内",
    "visit_other_office": "拜访名单上有其他办事处员工的行",
}


@dataclass(frozen=True)
class Failure:
    check: str
    rows: int
    examples: tuple[str, ...]

    def alert(self) -> str:
        return f"输出核查未通过：{MESSAGES[self.check]}（{self.rows} 行，例如 {'、'.join(self.examples)}）"


def audit_frames(
    calls: pl.DataFrame, targets: pl.DataFrame, staff: pl.DataFrame, known_patients: pl.Series, rules: Rules
) -> dict[str, pl.DataFrame]:
    """The frames the suite checks, from the night's listed calls (``staff_id``, ``office_code``,
    ``patient_id``, ``consult_id``, ``reason``), visit targets (``staff_id``, ``office_code``,
    ``customer_id``, ``reason``), the staff (``staff_id``, ``office_code``, ``team``) and the ids of the
    known patients among the calls'."""
    offices = staff.select("staff_id", pl.col("office_code").alias("_staff_office"))
    call_loads = (
        calls.filter(pl.col("staff_id").is_not_null())
        .group_by("staff_id")
        .len("rows")
        .with_columns(pl.lit(rules.callbacks.max_calls_per_day, pl.Int64).alias("limit"))
    )
    target_loads = (
        targets.group_by("staff_id")
        .len("rows")
        .join(staff.select("staff_id", daily_plan(rules).alias("limit")), on="staff_id", how="left")
        .with_columns(pl.col("limit").fill_null(rules.visits.daily_plan))
    )
    loads = pl.concat(
        [
            frame.select(pl.col("staff_id").alias(KEY), pl.col("rows").cast(pl.Int64), "limit")
            for frame in (call_loads, target_loads)
        ]
    )
    same_office = pl.col("staff_id").is_null() | (pl.col("office_code") == pl.col("_staff_office")).fill_null(False)
    checked_calls = calls.join(offices, on="staff_id", how="left").select(
        pl.coalesce("patient_id", "consult_id").alias(KEY),
        "reason",
        same_office.alias("same_office"),
        (pl.col("patient_id").is_null() | pl.col("patient_id").is_in(known_patients.implode())).alias("patient_known"),
    )
    checked_targets = targets.join(offices, on="staff_id", how="left").select(
        pl.col("customer_id").alias(KEY), "reason", same_office.alias("same_office")
    )
    return {"loads": loads, "calls": checked_calls, "targets": checked_targets}


def audit(frames: dict[str, pl.DataFrame]) -> list[Failure]:
    """Run the suite over ``audit_frames``; empty when the night's outputs pass."""
    failures = []
    for check in SUITE:
        frame = frames[check.frame]
        keys = frame.filter(check.passes.not_().fill_null(False))[KEY].cast(pl.String)
        if keys.len():
            failures.append(Failure(check.name, keys.len(), tuple(keys.unique().sort().head(EXAMPLES).to_list())))
    return failures
