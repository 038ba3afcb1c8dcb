"""Bookkeeping of nightly runs: migrate the schema, record each run and its summary."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from edges.db import get_engine, upgrade
from keqing.clock import utc_now
from keqing.settings import Settings
from models import Run
from tasks import IO_RETRIES, keqing_task


@keqing_task(**IO_RETRIES)
def migrate_database(settings: Settings) -> None:
    """Bring the schema to the newest migration (a no-op when it is current)."""
    upgrade(get_engine(settings.database_url))


@keqing_task(**IO_RETRIES)
def start_run(settings: Settings, run_date: dt.date, prefect_flow_run_id: str | None) -> int:
    with get_engine(settings.database_url).begin() as conn:
        return conn.execute(
            sa.insert(Run.__table__)
            .values(run_date=run_date, status="running", prefect_flow_run_id=prefect_flow_run_id, summary={})
            .returning(Run.__table__.c.id)
        ).scalar_one()


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
