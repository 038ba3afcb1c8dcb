"""Privacy of a whole nightly run (`keqing run` in a subprocess on generated `tiny` data): no patient or
consulter phone, name or disease in anything the run writes besides the database and the staff emails
(console output, Prefect logs, flow-run parameters, artifacts, result storage, the run summary, the
ops email); each phone only in the email of a nurse responsible for that person; no secret in a
Prefect parameter."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import inspect
import json
import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
import yaml

from edges.db import get_engine
from keqing.generate import generate
from tests.helpers import table

pytestmark = [pytest.mark.usefixtures("prefect_server"), pytest.mark.e2e]

START = dt.date(2026, 10, 1)
DAYS = 6
RUN_DATE = START + dt.timedelta(days=DAYS)
# Canaries: secrets given to the run through the environment, which must not come back anywhere.
DB_PASSWORD = "pw-canary-7f3a"
SMTP_PASSWORD = "smtp-canary-91be"
ROOT = Path(__file__).resolve().parents[2]


def test_personal_data_stays_in_the_database_and_the_nurses_emails(settings, tmp_path):
    generate("tiny", settings.inbox, seed=11, start=START, days=DAYS)
    url = sa.make_url(settings.database_url)
    if url.get_backend_name() == "postgresql":  # the test server trusts any password: a canary in the URL
        url = url.set(password=DB_PASSWORD)
    prefect_home = tmp_path / "prefect-home"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("KEQING_")},
        "KEQING_INBOX": str(settings.inbox),
        "KEQING_OUTBOX": str(settings.outbox),
        "KEQING_DATABASE_URL": url.render_as_string(hide_password=False),
        "KEQING_SMTP_PASSWORD": SMTP_PASSWORD,
        "PREFECT_API_URL": _api_url(),
        "PREFECT_HOME": str(prefect_home),
        "PREFECT_LOGGING_LEVEL": "DEBUG",  # the most a run can ever log
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "run", "--date", RUN_DATE.isoformat()],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]

    personal = _personal_data(settings)
    assert len(personal.phones) > 100 and len(personal.names) > 20 and len(personal.diseases) >= 5
    api = asyncio.run(_read_api(table(settings, "runs")["prefect_flow_run_id"][0]))
    assert api["logs"], "no Prefect log reached the API"
    assert api["artifacts"], "no artifact"
    summary = table(settings, "runs")["summary"][0]
    written = {
        "console output": done.stdout + done.stderr,
        "Prefect logs": "\n".join(api["logs"]),
        "flow-run parameters": json.dumps(api["parameters"], ensure_ascii=False),
        "artifacts": "\n".join(api["artifacts"]),
        "result storage": _files_text(prefect_home),
        "run summary": summary if isinstance(summary, str) else json.dumps(summary, ensure_ascii=False),
    }
    emails = _emails(settings.outbox / RUN_DATE.isoformat())
    ops = {address for address, role in _roles(settings).items() if role == "ops"}
    written["ops email"] = "\n".join(text for to, text in emails if to in ops)
    assert "keqing" in written["ops email"].lower() or written["ops email"], "no ops email"
    for where, text in written.items():
        assert personal.find(text) == [], f"personal data in the {where}"
        assert DB_PASSWORD not in text and SMTP_PASSWORD not in text, f"a secret in the {where}"

    # Each phone only in the email of a nurse responsible for its patient or consulter.
    seen = 0
    for to, text in emails:
        for phone in set(personal.phone_pattern.findall(_digits_only_phones(text))):
            assert to in personal.allowed[phone], f"{phone[:3]}****{phone[-4:]} in the email to {to}"
            seen += 1
    assert seen > 20, "no phone in any nurse's email: the check above proved nothing"
    print(
        f"privacy: {len(personal.phones)} phones, {len(personal.names)} names, {len(personal.diseases)} diseases "
        f"searched in {sum(len(t) for t in written.values()):,} characters of {', '.join(written)}: none found; "
        f"{seen} phones in {len(emails)} emails, each only to a responsible nurse"
    )

    # Parameters are dates and flags; settings and secrets come from the environment.
    from flows.nightly import nightly

    parameters = inspect.signature(nightly.fn).parameters
    assert list(parameters) == ["run_date", "resend", "send", "fan_out"]
    assert [p.annotation for p in parameters.values()] == ["dt.date | None", "bool", "bool", "bool"]
    deployments = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]
    assert deployments and all(d.get("parameters") == {} for d in deployments)
    nightly_runs = [p for name, p in api["parameters"] if name == "nightly"]
    assert nightly_runs == [{"run_date": RUN_DATE.isoformat(), "resend": False, "send": True, "fan_out": False}]


RESPONSIBLE_NURSES = """
SELECT p.phone, s.email FROM patients p
JOIN (
    SELECT patient_id, callback_staff_id AS staff_id FROM patients
    UNION SELECT patient_id, home_visit_staff_id FROM patients
    UNION SELECT patient_id, callback_staff_id FROM patient_supply
    UNION SELECT patient_id, callback_staff_id FROM expiry_list
    UNION SELECT patient_id, staff_id FROM callback_list
    UNION SELECT v.patient_id, h.staff_id FROM home_visit_patients v
        JOIN home_visit_plan h ON h.run_date = v.run_date AND h.plan_no = v.plan_no
) n ON n.patient_id = p.patient_id
JOIN staff s ON s.staff_id = n.staff_id
UNION
SELECT c.phone, s.email FROM consults c
JOIN (SELECT consult_id, staff_id FROM consults UNION SELECT consult_id, staff_id FROM callback_list) n
    ON n.consult_id = c.consult_id
JOIN staff s ON s.staff_id = n.staff_id
"""


class Personal:
    """The generated people's phones (normalised), full names and diseases, with who may see each phone."""

    def __init__(self, phones: set[str], names: set[str], diseases: set[str], allowed: dict[str, set[str]]):
        self.phones, self.names, self.diseases, self.allowed = phones, names, diseases, allowed
        self.phone_pattern = re.compile("|".join(sorted(phones)))
        # Names: only full names of three characters or more, and none that is also a staff member's or a
        # customer's name (those may rightly appear). Two-character names (王芳) occur inside other words.
        self.name_pattern = re.compile("|".join(re.escape(n) for n in sorted(names)))
        self.disease_pattern = re.compile("|".join(re.escape(d) for d in sorted(diseases)))

    def find(self, text: str) -> list[str]:
        digits = _digits_only_phones(text)
        found = self.phone_pattern.findall(digits) + self.name_pattern.findall(text)
        return found + self.disease_pattern.findall(text)


def _digits_only_phones(text: str) -> str:
    """Phones as bare digits (13812345678 from 138-1234-5678 or 138 1234 5678), landlines without the dash."""
    return re.sub(r"(?<=\d)[\s-](?=\d)", "", text)


def _personal_data(settings) -> Personal:
    patients = table(settings, "patients")
    consults = table(settings, "consults")
    staff = table(settings, "staff")
    others = set(staff["name"].to_list()) | set(table(settings, "customers")["name"].to_list())
    # Responsible: the nurses the master data names, and those the run assigned from the office's pool
    # when it names nobody usable (keqing/supply/assignment.py), as its own tables record.
    allowed: dict[str, set[str]] = defaultdict(set)
    with get_engine(settings.database_url).connect() as conn:
        for phone, address in conn.execute(sa.text(RESPONSIBLE_NURSES)):
            allowed[phone.replace("-", "")].add(address)
    names = {
        n
        for n in pl.concat([patients["name"], patients["contact_name"], consults["name"]]).drop_nulls().to_list()
        if len(n) >= 3 and n not in others
    }
    diseases = set(pl.concat([patients["disease"], consults["disease"]]).drop_nulls().to_list())
    return Personal(set(allowed), names, diseases, allowed)


def _roles(settings) -> dict[str, str]:
    return dict(table(settings, "staff").select("email", "role").rows())


def _emails(outbox: Path) -> list[tuple[str, str]]:
    """(recipient, every decoded text of the email: headers, bodies and attachments)."""
    found = []
    for path in sorted(outbox.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        texts = [str(message["Subject"])]
        for part in message.walk():
            if part.is_multipart():
                continue
            payload = part.get_payload(decode=True) or b""
            texts.append(payload.decode(part.get_content_charset() or "utf-8-sig", errors="replace"))
        found.append((message["To"].addresses[0].addr_spec, "\n".join(texts)))
    assert found, "the run wrote no email"
    return found


def _files_text(root: Path) -> str:
    """Everything under PREFECT_HOME (result storage, if the run ever persisted a result)."""
    if not root.exists():
        return ""
    return "\n".join(p.read_bytes().decode("utf-8", errors="replace") for p in root.rglob("*") if p.is_file())


def _api_url() -> str:
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    assert url, "the test harness sets an API URL"
    return url


async def _read_api(flow_run_id: str) -> dict:
    """Logs, flow-run parameters and artifacts of the run (the nightly flow run and its subflows)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId, LogFilter

    async with get_client() as client:
        flows = {f.id: f.name for f in await client.read_flows()}
        runs = [await client.read_flow_run(flow_run_id)]
        children = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[runs[0].id]))
        )
        all_runs = runs + children
        logs = []
        for run in all_runs:
            logs += await client.read_logs(log_filter=LogFilter(flow_run_id={"any_": [run.id]}))
        artifacts = await client.read_artifacts()
        return {
            "logs": [log.message for log in logs],
            "parameters": [(flows.get(r.flow_id), r.parameters) for r in all_runs],
            "artifacts": [json.dumps(a.data, ensure_ascii=False) + (a.description or "") for a in artifacts],
        }
