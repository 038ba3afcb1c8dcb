"""The audit task reads run_date's lists on SQLite and PostgreSQL and names what fails."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from edges.db import get_engine
from keqing.rules import Rules
from models.grading import VisitTarget
from models.supply import CallbackEntry
from tasks.audit import audit_outputs
from tests.flows.test_ingest import PATIENTS_EN
from tests.helpers import run_ingest, write, write_master

RUN = dt.date(2026, 11, 2)


def _call(run_date: dt.date, position: int, patient_id: str) -> dict:
    return {
        "run_date": run_date,
        "staff_id": "S002",
        "office_code": "OF001",
        "patient_id": patient_id,
        "reason": "cadence",
        "priority": 5,
        "position": position,
        "due_date": run_date,
    }


def _target(run_date: dt.date, office_code: str) -> dict:
    return {
        "run_date": run_date,
        "staff_id": "S001",
        "customer_id": "D1",
        "rank": 1,
        "priority": 1,
        "reason": "coverage",
        "channel": "face",
        "grade": "C",
        "is_kol": False,
        "visits_this_month": 0,
        "standard": 1,
        "institution": "杭州市第一人民医院",
        "office_code": office_code,
    }


def test_the_audit_reads_only_run_dates_lists_and_names_what_fails(settings):
    write_master(settings)  # S001 rep and S002 callback nurse of OF001
    write(settings, "2026-11-01/patients.csv", PATIENTS_EN)  # P0001, P0002, 00123
    run_ingest(settings, RUN)
    other_day = RUN - dt.timedelta(days=1)
    with get_engine(settings.database_url).begin() as conn:
        conn.execute(
            sa.insert(CallbackEntry.__table__),
            [_call(RUN, 1, "P0001"), _call(RUN, 2, "00123"), _call(other_day, 1, "P0404")],
        )
        conn.execute(sa.insert(VisitTarget.__table__), [_target(RUN, "OF001"), _target(other_day, "OF002")])
    assert audit_outputs.fn(settings, Rules(), RUN) == {"passed": True, "failed": {}, "alerts": []}

    with get_engine(settings.database_url).begin() as conn:
        conn.execute(sa.insert(CallbackEntry.__table__), [_call(RUN, 3, "P0404")])  # a patient nobody knows
        conn.execute(sa.update(VisitTarget.__table__).values(office_code="OF002"))  # S001 is of OF001
    rules = Rules.model_validate({"callbacks": {"max_calls_per_day": 2}})
    result = audit_outputs.fn(settings, rules, RUN)
    assert result["passed"] is False
    assert result["failed"] == {
        "over_daily_limit": {"rows": 1, "examples": ["S002"]},
        "call_patient_unknown": {"rows": 1, "examples": ["P0404"]},
        "visit_other_office": {"rows": 1, "examples": ["D1"]},
    }
    assert result["alerts"][1] == "输出核查未通过：回访名单上的患者不在患者档案中（1 行，例如 P0404）"
