"""Supply: every patient's medicine and when it runs out, today's callback lists, the month's expiry lists
and the rural home-visit plans."""

from __future__ import annotations

import datetime as dt

from prefect import flow

from keqing.rules import Rules
from keqing.settings import Settings
from tasks.supply import compute_supply, read_supply_inputs, sync_contacts, sync_coverage, write_supply


@flow(name="supply")
def supply(settings: Settings, rules: Rules, run_date: dt.date) -> dict:
    """From the purchases, calls and consults dated up to run_date - 1, write the lists for run_date."""
    kept = sync_coverage(settings)
    called = sync_contacts(settings)
    inputs = read_supply_inputs(settings, rules, run_date)
    results = compute_supply(inputs, rules, run_date)
    written = write_supply(settings, results, run_date)
    return {**results.summary(), "rows_written": written, "coverage": kept, "contacts": called}
