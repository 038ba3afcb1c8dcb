"""Loyalty: accrue the night's orders into the points ledger, close ended quarters with rewards, remind reorders."""

from __future__ import annotations

import datetime as dt

from prefect import flow

from keqing.rules import Rules
from keqing.settings import Settings
from tasks.loyalty import accrue_points, close_quarters, remind_reorders


@flow(name="loyalty")
def loyalty(settings: Settings, rules: Rules, run_date: dt.date) -> dict:
    """Post points for orders dated up to run_date - 1, close the quarters that ended, list overdue reorders."""
    accrual = accrue_points(settings, rules, run_date)
    closed = close_quarters(settings, rules, run_date)
    reorders = remind_reorders(settings, rules, run_date)
    return {"accrual": accrual.summary(), "closed_quarters": closed, "reorder": reorders}
