"""The nightly flow as a whole: one run per date at a time, and its record in the runs table."""

from __future__ import annotations

import pytest

from edges.locks import held
from flows.nightly import RunInProgress
from tests.helpers import run_nightly, table, write_master

pytestmark = pytest.mark.usefixtures("prefect_server")


def test_a_second_run_for_the_same_date_stops_with_a_clear_message(settings):
    write_master(settings)
    with held(settings.database_url, "run:2026-11-02"), pytest.raises(RunInProgress, match="2026-11-02 is in progress"):
        run_nightly("2026-11-02")
    summary = run_nightly("2026-11-02")
    assert summary["ingest"]["files_new"] == 3
    runs = table(settings, "runs")
    assert runs.select("status").to_series().to_list() == ["succeeded"]


def test_the_run_publishes_its_summary_as_a_prefect_artifact(settings):
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    write_master(settings)
    run_nightly("2026-11-05")

    async def fetch():
        async with get_client() as client:
            return await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["keqing-run-2026-11-05"]))
            )

    artifacts = asyncio.run(fetch())
    assert artifacts, "no artifact for the run"
    text = artifacts[0].data
    assert "keqing nightly run for 2026-11-05" in text
    assert "| staff | 1 | 3 | 3 | 0 | 0 | 0 | 0 |" in text


def test_only_the_nightly_run_sends_heartbeats_not_its_stages(settings, monkeypatch):
    """Stages run in the nightly run's process: their own heartbeat threads cost time and tell nothing."""
    import prefect.flow_engine
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    beating: list[str] = []
    send_heartbeats = prefect.flow_engine._send_heartbeats

    def spy(engine, *args, **kwargs):
        if engine.heartbeat_seconds is not None:
            beating.append(engine.flow.name)
        return send_heartbeats(engine, *args, **kwargs)

    monkeypatch.setattr(prefect.flow_engine, "_send_heartbeats", spy)
    write_master(settings)
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 60}):
        summary = run_nightly("2026-11-02")
    assert summary["ingest"]["files_new"] == 3
    assert beating == ["nightly"]
