"""Audit the night's outputs before the emails: read the lists of run_date, check them (keqing/audit.py)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from edges.db import get_engine, read_table, reading
from keqing.audit import audit, audit_frames
from keqing.rules import Rules
from keqing.settings import Settings
from models.feeds import Patient, Staff
from models.grading import VisitTarget
from models.supply import CallbackEntry
from tasks import IO_RETRIES, keqing_task, run_logger


@keqing_task(**IO_RETRIES)
def audit_outputs(settings: Settings, rules: Rules, run_date: dt.date) -> dict:
    """``passed``, and for each failed check its rows and a few ids; ``alerts`` in Chinese for ops."""
    cb, vt, s, p = CallbackEntry.__table__, VisitTarget.__table__, Staff.__table__, Patient.__table__
    with reading(get_engine(settings.database_url)) as bind:
        calls = read_table(
            bind,
            sa.select(cb.c.staff_id, cb.c.office_code, cb.c.patient_id, cb.c.consult_id, cb.c.reason).where(
                cb.c.run_date == run_date
            ),
        )
        targets = read_table(
            bind,
            sa.select(vt.c.staff_id, vt.c.office_code, vt.c.customer_id, vt.c.reason).where(vt.c.run_date == run_date),
        )
        staff = read_table(bind, sa.select(s.c.staff_id, s.c.office_code, s.c.team))
        listed = sa.select(cb.c.patient_id).where(cb.c.run_date == run_date)
        known = read_table(bind, sa.select(p.c.patient_id).where(p.c.patient_id.in_(listed)))["patient_id"]
    failures = audit(audit_frames(calls, targets, staff, known, rules))
    for failure in failures:
        run_logger().error(
            "audit failed: %s, %d rows (e.g. %s)", failure.check, failure.rows, ", ".join(failure.examples)
        )
    return {
        "passed": not failures,
        "failed": {f.check: {"rows": f.rows, "examples": list(f.examples)} for f in failures},
        "alerts": [f.alert() for f in failures],
    }
