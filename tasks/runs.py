"""Bookkeeping of nightly runs: migrate the schema, record each run and its summary."""

from __future__ import annotations

import datetime as dt
import os
import socket

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from edges.db import create_missing_indexes, get_engine, upgrade
from edges.locks import LockBusy, held
from keqing.calendar import RULES_KEY, planning_horizon
from keqing.clock import utc_now
from keqing.rules import Rules
from keqing.settings import Settings
from models import FEED_MODELS, Run
from tasks import IO_RETRIES, keqing_task, run_logger


@keqing_task(**IO_RETRIES)
def migrate_database(settings: Settings) -> None:
    """Bring the schema to the newest migration (a no-op when it is current), and build the feed
    tables' indexes that a bulk load interrupted by a crash left dropped (``suspend_indexes``)."""
    engine = get_engine(settings.database_url)
    upgrade(engine)
    rebuilt = create_missing_indexes(engine, [model.__table__ for model in FEED_MODELS.values()])
    if rebuilt:
        run_logger().warning("indexes rebuilt after an interrupted bulk load: %s", ", ".join(rebuilt))


@keqing_task(**IO_RETRIES)
def start_run(settings: Settings, run_date: dt.date, prefect_flow_run_id: str | None, lock_name: str) -> int:
    """A ``running`` row for this run, with the host, pid and the lock it holds (``lock_name``)."""
    with get_engine(settings.database_url).begin() as conn:
        return conn.execute(
            sa.insert(Run.__table__)
            .values(
                run_date=run_date,
                status="running",
                prefect_flow_run_id=prefect_flow_run_id,
                summary={},
                host=socket.gethostname(),
                pid=os.getpid(),
                lock_name=lock_name,
            )
            .returning(Run.__table__.c.id)
        ).scalar_one()


CRASHED_ERROR = "the run's process died without finishing (its lock was free while it said running)"


def mark_crashed(database_url: str, holding: str | None = None, own_run_id: int | None = None) -> list[int]:
    """Mark ``crashed`` every run that says ``running`` while nobody holds its lock; their ids.

    A run holds its lock (edges/locks.py) from before its row is written until after it is finished,
    and the lock dies with its process, so "running and the lock is free" means the process died. The
    lock is taken while the row is updated (and the update still requires ``running``), so a run that
    finishes meanwhile is never marked. ``holding``: a lock this process holds itself (a nightly run
    looking at start, whose own row is ``own_run_id``): the other rows under it are dead runs.
    """
    engine = get_engine(database_url)
    t = Run.__table__
    lock = sa.func.coalesce(t.c.lock_name, sa.literal("run:") + sa.cast(t.c.run_date, sa.String))
    with engine.connect() as conn:
        locks = conn.execute(sa.select(lock).where(t.c.status == "running").distinct()).scalars().all()
    crashed: list[int] = []
    for name in sorted(locks):  # one per date (and region) still said to be running: a handful
        if name == holding:
            crashed += _mark(engine, (lock == name) & (t.c.id != own_run_id))
            continue
        try:
            with held(database_url, name):
                crashed += _mark(engine, lock == name)
        except LockBusy:
            continue  # alive
    return sorted(crashed)


def _mark(engine: Engine, where: sa.ColumnElement[bool]) -> list[int]:
    t = Run.__table__
    query = sa.update(t).where(where, t.c.status == "running")
    with engine.begin() as conn:
        ids = conn.execute(query.values(status="crashed", error=CRASHED_ERROR).returning(t.c.id)).scalars().all()
    return list(ids)


@keqing_task(**IO_RETRIES)
def sweep_crashed_runs(settings: Settings, holding: str | None = None, own_run_id: int | None = None) -> list[int]:
    """The runs found dead (see ``mark_crashed``), now ``crashed``."""
    return mark_crashed(settings.database_url, holding, own_run_id)


def crashes_to_report(engine: Engine, run_date: dt.date) -> list[dict]:
    """The crashed runs the ops email of run_date names: those no earlier ops email named (now claimed
    for run_date, so a later date's email does not name them again) and those it named already (a rerun)."""
    t = Run.__table__
    with engine.begin() as conn:
        conn.execute(
            sa.update(t)
            .where(t.c.status == "crashed", t.c.crash_reported_on.is_(None))
            .values(crash_reported_on=run_date)
        )
        rows = conn.execute(
            sa.select(t.c.id, t.c.run_date, t.c.started_at, t.c.host, t.c.pid)
            .where(t.c.status == "crashed", t.c.crash_reported_on == run_date)
            .order_by(t.c.id)
        ).all()
    return [
        {"run_id": r.id, "run_date": r.run_date, "started_at": r.started_at, "host": r.host, "pid": r.pid} for r in rows
    ]


def record_progress(settings: Settings, run_id: int, summary: dict) -> None:
    """The summary so far (stage timings included), written after each stage: a run that dies shows
    in ``keqing runs`` how far it got. A plain function: one small update, no task run of its own."""
    t = Run.__table__
    with get_engine(settings.database_url).begin() as conn:
        conn.execute(sa.update(t).where(t.c.id == run_id, t.c.status == "running").values(summary=summary))


def recent_runs(database_url: str, last: int) -> list[dict]:
    """The newest ``last`` runs (newest first), as dicts of the runs table's columns."""
    t = Run.__table__
    with get_engine(database_url).connect() as conn:
        rows = conn.execute(sa.select(t).order_by(t.c.id.desc()).limit(last)).mappings().all()
    return [dict(r) for r in rows]


@keqing_task(**IO_RETRIES)
def finish_run(settings: Settings, run_id: int, status: str, summary: dict, error: str | None = None) -> None:
    t = Run.__table__
    with get_engine(settings.database_url).begin() as conn:
        conn.execute(
            sa.update(t)
            .where(t.c.id == run_id)
            .values(
                status=status,
                summary=summary,
                error=error,
                finished_at=utc_now(),
            )
        )


@keqing_task
def calendar_check(rules: Rules, run_date: dt.date) -> dict:
    """The years of the run's planning horizon that neither the package nor the rules file knows
    (planned Monday-Friday; the ops email opens with them and the rules key to fill)."""
    start, end = planning_horizon(run_date)
    return {"unknown_years": rules.work_calendar.unknown_years(start, end), "rules_key": RULES_KEY}


@keqing_task
def publish_run_artifact(summary: dict) -> None:
    """The run's summary in the Prefect UI: a markdown report and a table per feed (no personal data)."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    from keqing.summary import ingest_table, markdown

    key = f"keqing-run-{summary['run_date']}"
    create_markdown_artifact(markdown(summary), key=key, description=f"keqing run {summary['run_date']}")
    table = ingest_table(summary)
    if table:
        create_table_artifact(table, key=f"{key}-feeds", description="rows per feed")


@keqing_task(**IO_RETRIES)
def region_summaries(settings: Settings, prefect_flow_run_ids: list[str]) -> list[dict]:
    """The summaries the regional flow runs of a fan-out recorded (those that succeeded), by region."""
    t = Run.__table__
    with get_engine(settings.database_url).connect() as conn:
        rows = conn.execute(
            sa.select(t.c.summary).where(t.c.prefect_flow_run_id.in_(prefect_flow_run_ids), t.c.status == "succeeded")
        )
        return sorted((dict(r.summary) for r in rows), key=lambda s: s.get("region", ""))
