"""One region's emails in its own flow run (the fan-out's child), in this process: only that region's
staff, idempotent per (run_date, region), staff without a region in a group of their own."""

from __future__ import annotations

import datetime as dt
import json

import pytest

import tasks.render
from tests.flows.test_email import rep_views_from_customers
from tests.helpers import PRODUCTS, table, write

# A nightly run and four regional runs per database: behind the slow marker (make test runs it).
pytestmark = [pytest.mark.usefixtures("prefect_server"), pytest.mark.slow]

OFFICES = "office_code,name,region,is_rural\nOF001,杭州办事处,华东,0\nOF002,武汉办事处,华中,0\nOF003,新办事处,,0\n"
STAFF = (
    "staff_id,name,role,email,office_code,manager_id,team,active\n"
    "S001,张伟,rep,zhang.wei@example.com,OF001,,GEN,1\n"
    "S002,刘洋,rep,liu.yang@example.com,OF002,,GEN,1\n"
    "S003,陈静,rep,chen.jing@example.com,OF003,,GEN,1\n"
    "S004,杨帆,rep,yang.fan@example.com,OF001,,GEN,1\n"
)
CUSTOMERS = (
    "customer_id,name,kind,institution,department,owner_staff_id,office_code\n"
    "C001,赵一医生,doctor,市一医院,心内科,S001,OF001\n"
    "C002,钱二主任,doctor,协和医院,药剂科,S002,OF002\n"
    "C003,孙三医生,doctor,县医院,内分泌科,S003,OF003\n"
    "C004,李四医生,doctor,市一医院,内分泌科,S004,OF001\n"
)
RUN_DATE = dt.date(2026, 11, 24)


def test_a_regional_run_renders_and_sends_only_its_regions_staff_once(settings, monkeypatch):
    from flows.nightly import nightly
    from flows.regional import regional_emails

    monkeypatch.setattr(tasks.render, "VIEW_BUILDERS", [rep_views_from_customers])
    for name, content in [("offices", OFFICES), ("staff", STAFF), ("products", PRODUCTS), ("customers", CUSTOMERS)]:
        write(settings, f"2026-11-22/{name}.csv", content)
    nightly(run_date=RUN_DATE, send=False)  # the lists, no email

    east = regional_emails(run_date=RUN_DATE, region="华东")
    assert (east["staff"], east["render"]["emails"], east["deliver"]["written"]) == (2, 2, 2)
    outbox = table(settings, "outbox", order_by="staff_id")
    assert outbox.select("staff_id", "status").rows() == [("S001", "sent"), ("S004", "sent")]

    again = regional_emails(run_date=RUN_DATE, region="华东")
    assert (again["render"]["kept"], again["deliver"]["written"], again["deliver"]["attempts"]) == (2, 0, 0)

    no_region = regional_emails(run_date=RUN_DATE, region="")
    assert (no_region["staff"], no_region["render"]["emails"]) == (1, 1)
    assert regional_emails(run_date=RUN_DATE, region="华中")["render"]["emails"] == 1
    outbox = table(settings, "outbox", order_by="staff_id")
    assert outbox.select("staff_id", "status", "attempts").rows() == [
        ("S001", "sent", 1),
        ("S002", "sent", 1),
        ("S003", "sent", 1),
        ("S004", "sent", 1),
    ]
    folder = settings.outbox / "2026-11-24"
    assert sorted(p.name for p in folder.iterdir()) == [f"rep-S00{i}.eml" for i in (1, 2, 3, 4)]
    runs = table(settings, "runs", order_by="id")
    summaries = [s if isinstance(s, dict) else json.loads(s) for s in runs["summary"]]  # SQLite: JSON text
    assert [(status, s.get("region")) for status, s in zip(runs["status"], summaries, strict=True)] == [
        ("succeeded", None),
        ("succeeded", "华东"),
        ("succeeded", "华东"),
        ("succeeded", ""),
        ("succeeded", "华中"),
    ]
