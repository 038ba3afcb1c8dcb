"""A real Prefect server and process workers, deployed from prefect.yaml as the README says: a fan-out
run where two workers each run part of the night equals a single-process run, and a regional run
killed on its worker fails the night, whose rerun completes without sending anything twice."""

from __future__ import annotations

import contextlib
import datetime as dt
import email
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from email import policy
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import POSTGRES_URL

# A server, four workers, nine deployed flow runs and two `keqing run`s, all in subprocesses: about
# four CPU-minutes (measured), so at least two minutes on two cores; 7 minutes measured on two
# cores shared with other work (load average 7-8).
# Against PostgreSQL only: fan-out is for several machines sharing one database.
pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.xdist_group("prefect-workers")]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DAY = dt.date(2026, 8, 6)  # the undisturbed night
NEXT = DAY + dt.timedelta(days=1)  # the night whose 华东 run is killed
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
WAIT = 240.0  # seconds, for any one flow run; the failure message has the logs' tails


class Processes:
    """Subprocesses with their output in log files, all killed at the end, whatever happened."""

    def __init__(self, logs: Path) -> None:
        self.logs, self.running = logs, {}

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = (self.logs / f"{name}.log").open("wb")
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.running[name] = proc
        return proc

    def kill(self, name: str) -> None:
        """SIGKILL the process and everything it started (its own session)."""
        proc = self.running.pop(name)
        with_children = os.getpgid(proc.pid)
        os.killpg(with_children, signal.SIGKILL)
        proc.wait(timeout=30)

    def stop_all(self) -> None:
        for name in list(self.running):
            with contextlib.suppress(ProcessLookupError, subprocess.TimeoutExpired):
                self.kill(name)

    def tails(self, lines: int = 25) -> str:
        out = []
        for log in sorted(self.logs.glob("*.log")):
            text = log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
            out.append(f"--- {log.name} (last {len(text)} lines)\n" + "\n".join(text))
        return "\n".join(out)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(args: list[str], env: dict[str, str], procs: Processes) -> str:
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, (
        f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}\n{procs.tails()}"
    )
    return done.stdout


class Api:
    def __init__(self, url: str, procs: Processes) -> None:
        self.client, self.procs = httpx.Client(base_url=url, timeout=30), procs

    def get(self, path: str) -> dict:
        return self.client.get(path).raise_for_status().json()

    def flow_runs(self, deployment_id: str) -> list[dict]:
        body = {"deployments": {"id": {"any_": [deployment_id]}}, "sort": "EXPECTED_START_TIME_ASC"}
        return self.client.post("/flow_runs/filter", json=body).raise_for_status().json()

    def parent(self, flow_run: dict) -> str:
        """The id of the flow run that started ``flow_run`` as a subflow."""
        return self.get(f"/task_runs/{flow_run['parent_task_run_id']}")["flow_run_id"]

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if self.client.get("/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        pytest.fail(f"the Prefect server did not answer within 120 s\n{self.procs.tails()}")

    def wait_final(self, flow_run_id: str) -> dict:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            flow_run = self.get(f"/flow_runs/{flow_run_id}")
            if flow_run["state_type"] in FINAL:
                return flow_run
            time.sleep(1)
        pytest.fail(
            f"flow run {flow_run_id} not finished after {WAIT:.0f} s: {flow_run['state_name']}\n{self.procs.tails()}"
        )


def trigger(run_date: dt.date, env: dict[str, str], procs: Processes) -> str:
    """`prefect deployment run` of the nightly with fan_out; returns the flow run id."""
    out = run(
        [
            str(BIN / "prefect"),
            "deployment",
            "run",
            "nightly/nightly",
            "-p",
            f"run_date={run_date}",
            "-p",
            "fan_out=true",
        ],
        env,
        procs,
    )
    return re.search(r"UUID: ([0-9a-f-]{36})", out).group(1)


def outbox_rows(url: str, run_date: dt.date) -> list[tuple]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT kind, staff_id, recipient, subject, status, attempts, resends FROM outbox "
                "WHERE run_date = :d ORDER BY kind, staff_id"
            ),
            {"d": run_date},
        ).all()
    engine.dispose()
    return [tuple(r) for r in rows]


def emails(outbox: Path, run_date: dt.date) -> dict[str, tuple]:
    """{file name: (To, Subject, plain body, html body, attachments)} of the date's .eml files."""
    out = {}
    for path in sorted((outbox / run_date.isoformat()).glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        # Content-IDs of inline charts are random per rendering, like the Message-ID.
        bodies = tuple(
            re.sub(r"cid:[^\"]+", "cid:", msg.get_body(preferencelist=(k,)).get_content()) for k in ("plain", "html")
        )
        files = tuple((a.get_filename(), a.get_content()) for a in msg.iter_attachments())
        out[path.name] = (msg["To"], msg["Subject"], *bodies, files)
    return out


def worker_of(flow_run: dict) -> str:
    return flow_run["labels"].get("prefect.worker.name", "?")


@pytest.fixture
def databases(postgres_admin):
    names = [f"keqing_fan_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    with postgres_admin.connect() as conn:
        for name in names:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield [sa.make_url(POSTGRES_URL).set(database=n).render_as_string(hide_password=False) for n in names]
    with postgres_admin.connect() as conn:
        for name in names:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_two_workers_share_the_night_by_region_like_one_process_and_a_killed_region_is_rerun(tmp_path, databases):
    fanned_db, single_db = databases
    inbox = tmp_path / "inbox"
    from keqing.generate import generate

    generate("tiny", inbox, seed=42, start=dt.date(2026, 8, 1), days=5, dirty=0)
    # tiny has two offices, both 华东: the second one gets no region, so it is its own group (未分区).
    offices = inbox / "2026-08-01" / "offices.csv"
    offices.write_text(offices.read_text(encoding="utf-8").replace("阜阳办事处,华东", "阜阳办事处,"), encoding="utf-8")

    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("KEQING_", "PREFECT_"))}
    base |= {
        "PREFECT_HOME": str(tmp_path / "prefect"),  # the server's own SQLite database is in here
        "PREFECT_API_URL": api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",  # only the runs this test starts
        "PREFECT_WORKER_QUERY_SECONDS": "1",  # workers poll every second (default 10 s)
        "PREFECT_CLI_PROMPT": "false",
        "GX_ANALYTICS_ENABLED": "False",
        "PYTHONPATH": str(ROOT),
        "KEQING_HOME": str(ROOT),
        "KEQING_INBOX": str(inbox),
    }
    fanned = base | {
        "KEQING_DATABASE_URL": fanned_db,
        "KEQING_OUTBOX": str(tmp_path / "fanned"),
        "KEQING_REGION_QUEUES": json.dumps({"华东": "east"}),
    }
    single = base | {"KEQING_DATABASE_URL": single_db, "KEQING_OUTBOX": str(tmp_path / "single")}
    prefect = str(BIN / "prefect")
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = Processes(logs)
    try:
        procs.start("server", [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)], base)
        api = Api(api_url, procs)
        api.wait_healthy()
        run([prefect, "work-pool", "create", "keqing", "--type", "process"], base, procs)
        run([prefect, "deploy", "--all"], base, procs)
        nightly_id = api.get("/deployments/name/nightly/nightly")["id"]
        regional_id = api.get("/deployments/name/regional-emails/regional-emails")["id"]
        worker = [prefect, "worker", "start", "--pool", "keqing", "--name"]
        procs.start("worker-a", [*worker, "worker-a", "--work-queue", "default"], fanned)
        procs.start("worker-east", [*worker, "worker-east", "--work-queue", "east"], fanned)

        # 1. The undisturbed night, fanned out, and the same night in one process on another database.
        single_run = procs.start("single-day", [str(BIN / "keqing"), "run", "--date", str(DAY)], single)
        parent = api.wait_final(trigger(DAY, fanned, procs))
        assert single_run.wait(timeout=WAIT) == 0, procs.tails()
        assert parent["state_type"] == "COMPLETED", f"{parent['state']}\n{procs.tails()}"
        children = {fr["parameters"]["region"]: fr for fr in api.flow_runs(regional_id)}
        assert {r: (c["state_type"], worker_of(c)) for r, c in children.items()} == {
            "华东": ("COMPLETED", "worker-east"),
            "": ("COMPLETED", "worker-a"),
        }
        assert worker_of(parent) == "worker-a"
        for child in children.values():  # in the UI: subflows of the nightly run's fan-out stage
            fan_out = api.get(f"/flow_runs/{api.parent(child)}")
            assert api.get(f"/flows/{fan_out['flow_id']}")["name"] == "fan-out"
            assert api.parent(fan_out) == parent["id"]

        rows = outbox_rows(fanned_db, DAY)
        assert rows == outbox_rows(single_db, DAY)
        kinds = {kind for kind, *_ in rows}
        assert kinds == {"callback", "manager", "ops", "rep"} and all(r[4:] == ("sent", 1, 0) for r in rows)
        sent = emails(tmp_path / "fanned", DAY)
        assert sent == emails(tmp_path / "single", DAY)
        assert sorted(sent) == sorted(f"{kind}-{staff}.eml" for kind, staff, *_ in rows)

        # 2. The next night, the 华东 run's process is killed with SIGKILL on its worker (after rendering,
        # before sending); the worker reports it crashed and the night fails naming the region.
        procs.kill("worker-east")
        faulty = fanned | {"KEQING_FAILPOINT": "regional:rendered=kill"}
        procs.start("worker-east-faulty", [*worker, "worker-east-faulty", "--work-queue", "east"], faulty)
        single_run = procs.start("single-next", [str(BIN / "keqing"), "run", "--date", str(NEXT)], single)
        failed = api.wait_final(trigger(NEXT, fanned, procs))
        assert failed["state_type"] == "FAILED", f"{failed['state']}\n{procs.tails()}"
        assert "华东" in failed["state"]["message"] and "未分区" not in failed["state"]["message"]
        children = [fr for fr in api.flow_runs(regional_id) if fr["parameters"]["run_date"] == str(NEXT)]
        assert sorted((c["parameters"]["region"], c["state_type"], worker_of(c)) for c in children) == [
            ("", "COMPLETED", "worker-a"),
            ("华东", "CRASHED", "worker-east-faulty"),
        ]
        # The machine is gone; another worker takes the 华东 queue, and the date is run again.
        procs.kill("worker-east-faulty")
        procs.start("worker-east-2", [*worker, "worker-east-2", "--work-queue", "east"], fanned)
        rerun = api.wait_final(trigger(NEXT, fanned, procs))
        assert single_run.wait(timeout=WAIT) == 0, procs.tails()
        assert rerun["state_type"] == "COMPLETED", f"{rerun['state']}\n{procs.tails()}"
        children = [fr for fr in api.flow_runs(regional_id) if fr["parameters"]["run_date"] == str(NEXT)]
        assert sorted((c["parameters"]["region"], c["state_type"], worker_of(c)) for c in children) == [
            ("", "COMPLETED", "worker-a"),
            ("", "COMPLETED", "worker-a"),
            ("华东", "COMPLETED", "worker-east-2"),
            ("华东", "CRASHED", "worker-east-faulty"),
        ]
        assert [fr["state_type"] for fr in api.flow_runs(nightly_id)] == ["COMPLETED", "FAILED", "COMPLETED"]

        # Every email once (one attempt, never resent), the staff emails as in the undisturbed run.
        rows, undisturbed = outbox_rows(fanned_db, NEXT), outbox_rows(single_db, NEXT)
        assert all(r[4:] == ("sent", 1, 0) for r in rows)
        assert [r for r in rows if r[0] != "ops"] == [r for r in undisturbed if r[0] != "ops"]
        assert [r[:4] for r in rows if r[0] == "ops"] == [r[:4] for r in undisturbed if r[0] == "ops"]
        sent, expected = emails(tmp_path / "fanned", NEXT), emails(tmp_path / "single", NEXT)
        assert sorted(sent) == sorted(expected)
        assert {k: m for k, m in sent.items() if not k.startswith("ops")} == {
            k: m for k, m in expected.items() if not k.startswith("ops")
        }
        # The ops email of the rerun reports that run's deliveries (only 华东's staff emails were left).
        ops = next(m for k, m in sent.items() if k.startswith("ops"))
        staff_in_east = sum(1 for r in rows if r[0] != "ops" and r[1] in _east_staff(fanned_db))
        assert f"写入文件 {staff_in_east}，" in ops[2]
    except BaseException:
        print(procs.tails(60))
        raise
    finally:
        procs.stop_all()


def _east_staff(url: str) -> set[str]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        ids = conn.execute(
            sa.text("SELECT s.staff_id FROM staff s JOIN offices o USING (office_code) WHERE o.region = '华东'")
        ).scalars()
        found = set(ids)
    engine.dispose()
    return found
