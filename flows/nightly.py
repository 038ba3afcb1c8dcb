"""The nightly run for one run_date: ingest the inbox, then loyalty (later stages are added by their issues)."""

from __future__ import annotations

import datetime as dt

from prefect import flow
from prefect.runtime import flow_run

from flows.ingest import ingest
from flows.loyalty import loyalty
from keqing.clock import shanghai_today
from keqing.rules import load_rules
from keqing.settings import get_settings
from tasks.runs import finish_run, migrate_database, start_run


@flow(name="nightly")
def nightly(run_date: dt.date | None = None, resend: bool = False) -> dict:
    """Build the morning lists for run_date (default: today in Asia/Shanghai) from records up to the day before."""
    settings = get_settings()
    rules = load_rules(settings.rules)
    run_date = run_date or shanghai_today()
    migrate_database(settings)
    run_id = start_run(settings, run_date, flow_run.get_id())
    summary: dict = {"run_date": run_date.isoformat()}
    try:
        summary["ingest"] = ingest(settings, rules, run_date)
        summary["loyalty"] = loyalty(settings, rules, run_date)
    except BaseException as exc:
        finish_run(settings, run_id, "failed", summary, error=f"{type(exc).__name__}: {exc}")
        raise
    finish_run(settings, run_id, "succeeded", summary)
    return summary
