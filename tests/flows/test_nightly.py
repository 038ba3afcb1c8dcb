"""The nightly flow as a whole: one run per date at a time, and its record in the runs table."""

from __future__ import annotations

import email
import email.policy
import json

import pytest

from edges.locks import held
from flows.nightly import RunInProgress
from tests.helpers import run_nightly, table, write, write_master

pytestmark = pytest.mark.usefixtures("prefect_server")

# A whole night costs 20-45 s: what does not depend on the database (Prefect artifacts and heartbeats,
# the flow's wiring around the audit, whose task is tested on both in tests/tasks/test_audit.py) runs
# on SQLite only.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_a_second_run_for_the_same_date_stops_with_a_clear_message(settings):
    write_master(settings)
    with held(settings.database_url, "run:2026-11-02"), pytest.raises(RunInProgress, match="2026-11-02 is in progress"):
        run_nightly("2026-11-02")
    summary = run_nightly("2026-11-02")
    assert summary["ingest"]["files_new"] == 3
    runs = table(settings, "runs")
    assert runs.select("status").to_series().to_list() == ["succeeded"]


@sqlite_only
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


@sqlite_only
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


@sqlite_only
def test_a_failed_audit_sends_no_staff_email_alerts_ops_and_fails_the_run(settings, monkeypatch):
    """Write, audit, publish: the lists are written, the audit (here made to fail) stops the staff
    emails, the ops email carries its alert and the run ends failed."""
    import flows.nightly
    from flows.nightly import AuditFailed
    from tests.flows.test_ingest import PATIENTS_EN, PURCHASES
    from tests.helpers import STAFF

    failed = {
        "passed": False,
        "failed": {"call_patient_unknown": {"rows": 1, "examples": ["P0404"]}},
        "alerts": ["输出核查未通过：回访名单上的患者不在患者档案中（1 行，例如 P0404）"],
    }
    monkeypatch.setattr(flows.nightly, "audit_outputs", lambda settings, rules, run_date: failed)
    write_master(settings)
    write(settings, "2026-11-01/staff.csv", STAFF + "O001,赵运维,ops,ops@example.com,OF001,,,1\n")
    write(settings, "2026-11-01/patients.csv", PATIENTS_EN)
    write(settings, "2026-11-01/purchases.csv", PURCHASES)
    with pytest.raises(AuditFailed, match="call_patient_unknown"):
        run_nightly("2026-11-02")
    assert table(settings, "callback_list").height > 0  # written, then held back
    outbox = table(settings, "outbox")
    assert outbox["kind"].to_list() == ["ops"]
    (eml,) = (settings.outbox / "2026-11-02").glob("*.eml")
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert failed["alerts"][0] in message.get_body(("plain",)).get_content()
    runs = table(settings, "runs")
    assert runs["status"].to_list() == ["failed"]
    summary = runs["summary"][0]
    assert (json.loads(summary) if isinstance(summary, str) else summary)["audit"] == failed  # JSON text on SQLite
