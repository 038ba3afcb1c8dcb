"""`keqing prefect setup` against a real Prefect server: the work pool, the deployments and the two ops-alert
automations exist after setup, a second setup creates nothing twice, and a nightly flow run forced into
Crashed makes the ops alert arrive at a local SMTP server, sent by the ops-alert flow on a process worker
polling the alerts queue, and so does a nightly run nobody picks up, once the late window (one minute
here) has passed (SQLite; the alert flow itself is tested on both databases in tests/flows)."""

from __future__ import annotations

import datetime as dt
import email
import os
import re
import sys
import time
from email import policy
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.deploy.test_workers import Api, Processes, free_port, run
from tests.smtp_server import LocalSmtpServer

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("prefect-automations")]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
RUN_DATE = dt.date(2026, 11, 24)
NEXT = RUN_DATE + dt.timedelta(days=1)
WAIT = 240.0  # seconds for an alert to arrive (a worker starting a flow run process, on a busy machine)


def automations(api: Api) -> list[dict]:
    return api.client.post("/automations/filter", json={}).raise_for_status().json()


def count(api: Api, what: str) -> int:
    return len(api.client.post(f"/{what}/filter", json={}).raise_for_status().json())


def wait_for_alerts(api: Api, alert_id: str, smtp: LocalSmtpServer, n: int, procs: Processes) -> list[dict]:
    """The alert deployment's flow runs, oldest first, once ``n`` alert emails have arrived."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline and smtp.handler.delivered_to("ops@example.com") < n:
        time.sleep(1)
    body = {"deployments": {"id": {"any_": [alert_id]}}, "sort": "EXPECTED_START_TIME_ASC"}
    runs = api.client.post("/flow_runs/filter", json=body).raise_for_status().json()
    assert smtp.handler.delivered_to("ops@example.com") == n, (
        f"{n} alert(s) expected after {WAIT:.0f} s; alert runs: {[(r['state_type'], r['parameters']) for r in runs]}\n"
        f"{procs.tails()}"
    )
    return runs


def test_setup_twice_then_a_crashed_nightly_run_alerts_ops_by_email(tmp_path):
    database = f"sqlite:///{tmp_path / 'keqing.db'}"
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("KEQING_", "PREFECT_"))}
    base |= {
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_API_URL": api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",  # only the runs this test starts
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_CLI_PROMPT": "false",
        "GX_ANALYTICS_ENABLED": "False",
        "PYTHONPATH": str(ROOT),
        "KEQING_HOME": str(ROOT),
        "KEQING_DATABASE_URL": database,
    }
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = Processes(logs)
    keqing, prefect = str(BIN / "keqing"), str(BIN / "prefect")
    with LocalSmtpServer() as smtp:
        worker_env = base | {
            "KEQING_SMTP_HOST": smtp.host,
            "KEQING_SMTP_PORT": str(smtp.port),
            "KEQING_SMTP_SECURITY": "none",
            "KEQING_MAIL_FROM": "客情 <keqing@example.com>",
        }
        try:
            procs.start("server", [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)], base)
            api = Api(api_url, procs)
            api.wait_healthy()
            run([keqing, "db", "upgrade"], base, procs)
            engine = sa.create_engine(database)
            with engine.begin() as conn:
                conn.execute(
                    sa.text(
                        "INSERT INTO staff (staff_id, name, role, email, office_code, active, source_file_id, "
                        "source_line) VALUES ('S900', '赵运营', 'ops', 'ops@example.com', 'OF001', 1, 0, 1)"
                    )
                )
            engine.dispose()

            # 1. Setup creates the pool, the three deployments and the two automations.
            first = run([keqing, "prefect", "setup"], base, procs)
            assert "work pool keqing: created (process)" in first, first
            assert "automation 'keqing: nightly failed': created" in first, first
            assert "automation 'keqing: nightly late': created" in first, first
            created = {a["name"]: a for a in automations(api)}
            assert sorted(created) == ["keqing: nightly failed", "keqing: nightly late"]
            late = created["keqing: nightly late"]["trigger"]
            assert (late["posture"], late["within"], late["expect"]) == (
                "Proactive",
                5 * 3600.0,
                ["prefect.flow-run.Completed"],
            )
            deployments = {d["name"]: d for d in api.client.post("/deployments/filter", json={}).json()}
            assert sorted(deployments) == ["nightly", "ops-alert", "regional-emails"]
            assert deployments["ops-alert"]["work_queue_name"] == "alerts"
            nightly_id, alert_id = deployments["nightly"]["id"], deployments["ops-alert"]["id"]
            assert {a["actions"][0]["deployment_id"] for a in created.values()} == {alert_id}

            # 2. Setup again: everything is found and updated in place, nothing created twice. The
            # deadline 01:31 makes the late window one minute after the 01:30 schedule, for step 4.
            second = run([keqing, "prefect", "setup", "--deadline", "01:31"], base, procs)
            assert "created" not in second, second
            after = {a["name"]: a for a in automations(api)}
            assert {n: a["id"] for n, a in after.items()} == {n: a["id"] for n, a in created.items()}
            assert after["keqing: nightly late"]["trigger"]["within"] == 60
            assert (count(api, "deployments"), count(api, "work_pools")) == (3, 1)
            assert len(api.get(f"/deployments/{nightly_id}")["schedules"]) == 1
            status = run([keqing, "prefect", "status"], base, procs)
            assert "automation 'keqing: nightly failed': enabled" in status, status
            assert "deployment ops-alert/ops-alert: queue alerts" in status, status

            # 3. A worker polls the alerts queue; a nightly run (nobody polls its queue) is forced into Crashed.
            procs.start(
                "worker-alerts",
                [prefect, "worker", "start", "--pool", "keqing", "--work-queue", "alerts", "--name", "alerts-1"],
                worker_env,
            )
            out = run([prefect, "deployment", "run", "nightly/nightly", "-p", f"run_date={RUN_DATE}"], base, procs)
            crashed_id = re.search(r"UUID: ([0-9a-f-]{36})", out).group(1)
            crash = {"type": "CRASHED", "name": "Crashed", "message": "the worker's machine went away (test)"}
            forced = api.client.post(f"/flow_runs/{crashed_id}/set_state", json={"state": crash, "force": True})
            assert forced.raise_for_status().json()["status"] == "ACCEPT"

            (alert_run,) = wait_for_alerts(api, alert_id, smtp, 1, procs)
            assert alert_run["parameters"] == {
                "kind": "failed",
                "flow_run_id": crashed_id,
                "flow_run_name": api.get(f"/flow_runs/{crashed_id}")["name"],
                "deadline": "01:31 Asia/Shanghai",
            }
            assert api.wait_final(alert_run["id"])["state_type"] == "COMPLETED"
            (received,) = smtp.handler.messages
            msg = email.message_from_bytes(received.data, policy=policy.default)
            assert received.rcpt_tos == ["ops@example.com"]
            assert msg["Subject"] == f"[客情] {RUN_DATE} 告警：夜间运行 Crashed"
            text = msg.get_body(preferencelist=("plain",)).get_content()
            assert crashed_id in text and "the worker's machine went away (test)" in text

            # 4. A nightly run nobody picks up turns Late; a minute later, not Completed, ops are told.
            out = run([prefect, "deployment", "run", "nightly/nightly", "-p", f"run_date={NEXT}"], base, procs)
            stuck_id = re.search(r"UUID: ([0-9a-f-]{36})", out).group(1)
            late_run = wait_for_alerts(api, alert_id, smtp, 2, procs)[-1]
            assert (late_run["parameters"]["kind"], late_run["parameters"]["flow_run_id"]) == ("late", stuck_id)
            msg = email.message_from_bytes(smtp.handler.messages[1].data, policy=policy.default)
            assert msg["Subject"] == f"[客情] {NEXT} 告警：夜间运行到 01:31 Asia/Shanghai 仍未完成（Late）"
            assert api.get(f"/flow_runs/{stuck_id}")["state_name"] == "Late"
            # Each alert once: the crashed run is not reported late (it never became due).
            assert smtp.handler.delivered_to("ops@example.com") == 2
        except BaseException:
            print(procs.tails(60))
            raise
        finally:
            procs.stop_all()
