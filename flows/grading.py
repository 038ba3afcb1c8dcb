"""Grading: regrade every customer and turn the visit standards into each rep's list for the day."""

from __future__ import annotations

import datetime as dt

from prefect import flow

from keqing.rules import Rules
from keqing.settings import Settings
from tasks.grading import plan_visits, read_grading_inputs, update_grades


@flow(name="grading")
def grading(settings: Settings, rules: Rules, run_date: dt.date) -> dict:
    """Grade customers from the last complete rx months, keep the history, and plan today's visits per rep."""
    inputs = read_grading_inputs(settings, run_date, rules)
    graded = update_grades(settings, inputs, rules, run_date)
    planned = plan_visits(settings, inputs, graded.grades, rules, run_date)
    return {**graded.summary, **planned}
