"""The ops-alert flow: each active ops staff member gets the alert once per flow run, even when the
Prefect API does not know the run; without any ops address the flow fails; on SQLite and PostgreSQL."""

from __future__ import annotations

import email
import uuid
from email import policy

import pytest
import sqlalchemy as sa

from edges.db import get_engine
from flows.alert import ops_alert
from models.feeds import Staff

pytestmark = pytest.mark.usefixtures("prefect_server")

STAFF = [
    ("S001", "张伟", "rep", "zhang.wei@example.com", True),
    ("S900", "赵运营", "ops", "ops@example.com", True),
    ("S901", "钱运营", "ops", "ops2@example.com", False),  # inactive: not alerted
]


def add_staff(settings, people) -> None:
    rows = [
        {"staff_id": s, "name": n, "role": r, "email": e, "active": a, "office_code": "OF001"}
        | {"source_file_id": 0, "source_line": i}
        for i, (s, n, r, e, a) in enumerate(people)
    ]
    with get_engine(settings.database_url).begin() as conn:
        conn.execute(sa.insert(Staff.__table__), rows)


def outbox(settings) -> list[tuple]:
    with get_engine(settings.database_url).connect() as conn:
        query = "SELECT run_date, staff_id, kind, status, attempts FROM outbox ORDER BY id"
        return [(str(r[0]), *r[1:]) for r in conn.execute(sa.text(query))]


def test_the_alert_reaches_each_active_ops_address_once_per_flow_run(settings):
    add_staff(settings, STAFF)
    run_id = str(uuid.uuid4())  # not a run this API knows: the alert says what the automation passed
    result = ops_alert(kind="failed", flow_run_id=run_id, flow_run_name="amber-okapi", deadline="06:30 Asia/Shanghai")
    assert (result["state"], result["emails"], result["deliver"]["written"]) == ("未知", 1, 1)
    run_date = result["run_date"]
    assert outbox(settings) == [(run_date, "S900", "alert_failed", "sent", 1)]
    (eml,) = (settings.outbox / run_date).glob("*.eml")
    assert eml.name == "alert_failed-S900.eml"
    msg = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert msg["To"] == "赵运营 <ops@example.com>"
    assert f"amber-okapi（{run_id}）" in msg.get_body(preferencelist=("plain",)).get_content()

    # The automation fires again for the same run: nothing is sent twice. A late alert is another kind.
    again = ops_alert(kind="failed", flow_run_id=run_id, flow_run_name="amber-okapi")
    assert (again["emails"], again["deliver"]["written"]) == (1, 0)
    ops_alert(kind="late", flow_run_id=run_id, flow_run_name="amber-okapi", deadline="06:30 Asia/Shanghai")
    assert outbox(settings) == [
        (run_date, "S900", "alert_failed", "sent", 1),
        (run_date, "S900", "alert_late", "sent", 1),
    ]


def test_without_an_ops_address_the_alert_flow_fails(settings):
    add_staff(settings, STAFF[:1])
    with pytest.raises(RuntimeError, match="nobody to alert"):
        ops_alert(kind="failed", flow_run_id=str(uuid.uuid4()))
