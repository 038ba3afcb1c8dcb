"""Small helpers shared by the tests: write inbox files, run the nightly flow, read tables."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from edges.db import get_engine
from keqing.settings import Settings

OFFICES = "office_code,name,region,is_rural\nOF001,杭州办事处,华东,0\nOF002,临安办事处,华东,1\n"
STAFF = (
    "staff_id,name,role,email,office_code,manager_id,team,active\n"
    "S001,张伟,rep,zhang.wei@example.com,OF001,S009,GEN,1\n"
    "S002,李娜,callback,li.na@example.com,OF001,S009,,1\n"
    "S009,王强,manager,wang.qiang@example.com,OF001,,,1\n"
)
PRODUCTS = "product_code,name,units_per_box,daily_units,price_per_box\nPR01,心脉通胶囊,30,1,88.0\n"


def write(settings: Settings, relative: str, content: str | bytes, encoding: str = "utf-8") -> Path:
    path = settings.inbox / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
    return path


def write_master(settings: Settings, day: str = "2026-11-01") -> None:
    write(settings, f"{day}/offices.csv", OFFICES)
    write(settings, f"{day}/staff.csv", STAFF)
    write(settings, f"{day}/products.csv", PRODUCTS)


def run_nightly(run_date: str | dt.date) -> dict:
    from flows.nightly import nightly

    if isinstance(run_date, str):
        run_date = dt.date.fromisoformat(run_date)
    return nightly(run_date=run_date)


def table(settings: Settings, name: str, order_by: str | None = None) -> pl.DataFrame:
    sql = f"SELECT * FROM {name}" + (f" ORDER BY {order_by}" if order_by else "")
    with get_engine(settings.database_url).connect() as conn:
        result = conn.execute(sa.text(sql))
        return pl.DataFrame([dict(r._mapping) for r in result], infer_schema_length=None)


def quarantine(settings: Settings) -> pl.DataFrame:
    return table(settings, "quarantine", order_by="file_id, line")


def chromium_or_skip() -> None:
    """Skip a test that needs headless Chromium when there is none, except in CI (``.ci/run``
    installs it), where it fails instead: these tests must not silently stop running there."""
    from reports.screenshot import CHROMIUM

    if Path(CHROMIUM).exists() or shutil.which("chromium"):
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail("CI needs headless Chromium (.ci/run installs it with `make chromium`)")
    pytest.skip("headless Chromium is not installed (make chromium)")


INGEST_TASKS = (
    "discover_inbox",
    "read_feed",
    "validate_feed",
    "check_references",
    "load_feed",
    "suspend_indexes",
    "restore_indexes",
)


def run_ingest(settings: Settings, run_date: str | dt.date) -> dict:
    """The ingest stage's summary for run_date: the flow's body with each task's plain function
    (``.fn``), without Prefect or the rest of the night (a whole night costs 20-45 s a case)."""
    import flows.ingest
    from keqing.rules import load_rules

    if isinstance(run_date, str):
        run_date = dt.date.fromisoformat(run_date)
    tasks = {name: getattr(flows.ingest, name) for name in INGEST_TASKS}
    try:
        for name, task in tasks.items():
            setattr(flows.ingest, name, task.fn)
        return flows.ingest.ingest.fn(settings, load_rules(settings.rules), run_date)
    finally:
        for name, task in tasks.items():
            setattr(flows.ingest, name, task)
