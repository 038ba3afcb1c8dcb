"""The supply stage through the nightly flow, from inbox files to result tables (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest

from flows.supply import supply as supply_stage
from keqing.rules import Rules
from tests.helpers import run_nightly, table, write

pytestmark = pytest.mark.usefixtures("prefect_server")

OFFICES = "office_code,name,region,is_rural\nOF001,杭州办事处,华东,0\nOF002,临安办事处,华东,1\n"
STAFF = (
    "staff_id,name,role,email,office_code,manager_id,team,active\n"
    "S002,李娜,callback,li.na@example.com,OF001,,,1\n"
    "S003,周杰,callback,zhou.jie@example.com,OF002,,,1\n"
    "H001,王芳,home_visit,wang.fang@example.com,OF002,,,1\n"
)
PRODUCTS = (
    "product_code,name,units_per_box,daily_units,price_per_box\nPR01,心脉通胶囊,30,1,88.0\nPR02,降压片,10,1,30.0\n"
)
PATIENTS = (
    "patient_id,name,phone,disease,village,township,office_code,callback_staff_id,home_visit_staff_id,"
    "informed,contact_name,contact_relation\n"
    "P0001,赵敏,13812345678,高血压,,,OF001,S002,,1,,\n"
    "P0002,钱多多,13912345678,糖尿病,,,OF001,,,0,钱小二,儿子\n"
    "V01,孙大山,13700000001,高血压,甲村,临安镇,OF002,,H001,1,,\n"
    "V02,孙二山,13700000002,高血压,甲村,临安镇,OF002,,H001,1,,\n"
    "V03,孙三山,13700000003,高血压,甲村,临安镇,OF002,,,1,,\n"
)
PURCHASES = (
    "purchase_id,patient_id,product_code,boxes,purchase_date,channel,event_id\n"
    "U1,P0001,PR01,3,2026-10-01,store,\n"
    "U2,P0001,PR01,3,2026-11-16,store,\n"
    "U3,P0002,PR01,1,2026-11-16,store,\n"
    "U4,V01,PR02,4,2026-10-12,free_clinic,EV1\n"
    "U5,V02,PR02,4,2026-10-12,free_clinic,EV1\n"
    "U6,V03,PR02,2,2026-10-12,free_clinic,EV1\n"
)


def _inbox(settings) -> None:
    for name, text in (
        ("offices", OFFICES),
        ("staff", STAFF),
        ("products", PRODUCTS),
        ("patients", PATIENTS),
        ("purchases", PURCHASES),
    ):
        write(settings, f"2026-11-16/{name}.csv", text)


def _calls(settings) -> list[tuple]:
    calls = table(settings, "callback_list", order_by="run_date, staff_id, position")
    return calls.select("staff_id", "patient_id", "reason", "position").rows()


def test_nightly_writes_the_supply_lists_and_a_rerun_rebuilds_the_same(settings):
    _inbox(settings)
    summary = run_nightly("2026-11-17")["supply"]
    text = json.dumps(summary, ensure_ascii=False)
    assert not any(secret in text for secret in ("赵敏", "13812345678", "高血压", "钱小二"))  # ids and counts only
    # V01 and V02 (40 days from 10-12) run out on 11-20: expiring; V03 (20 days) ran out on 10-31: lapsed on 11-16.
    assert summary["status"] == {"active": 2, "expiring": 2, "lapsed": 1}
    assert summary["callbacks"]["listed"] == 5 and summary["callbacks"]["deferred"] == 0

    supply = table(settings, "patient_supply", order_by="patient_id")
    assert [str(e)[:10] for e in supply.filter(pl.col("patient_id") == "P0001")["expiry_date"]] == ["2027-03-29"]
    # P0002 has no callback nurse: OF001's only one calls; it is not informed (the email calls the contact).
    # Same reason and due date: the earlier expiry first (P0002 12-15, P0001 2027-03-29). The villagers were
    # never called since the clinic: overdue since 10-13, again the earliest expiry first.
    assert _calls(settings) == [
        ("S002", "P0002", "cadence", 1),
        ("S002", "P0001", "cadence", 2),
        ("S003", "V03", "overdue", 1),
        ("S003", "V01", "overdue", 2),
        ("S003", "V02", "overdue", 3),
    ]
    not_informed = table(settings, "callback_list", order_by="patient_id")["not_informed"].cast(pl.Boolean).to_list()
    assert not_informed == [False, True, False, False, False]

    # 甲村 at EV1: 2 buyers of 4 boxes, 1 of 2 -> 4 boxes of 10 days from 10-12 run out on Friday 11-20.
    plans = table(settings, "home_visit_plan")
    assert plans.select("staff_id", "village", "event_id", "boxes", "patients").rows() == [
        ("H001", "甲村", "EV1", 4, 3)
    ]
    assert [str(v)[:10] for v in plans["visit_date"]] == ["2026-11-20"]
    assert table(settings, "home_visit_patients", order_by="patient_id")["patient_id"].to_list() == [
        "V01",
        "V02",
        "V03",
    ]

    before = (_calls(settings), table(settings, "expiry_targets").drop("id").rows())
    again = supply_stage(settings, Rules(), dt.date(2026, 11, 17))  # the stage alone: a whole night costs 20-45 s
    assert again["callbacks"] == summary["callbacks"]
    assert (_calls(settings), table(settings, "expiry_targets").drop("id").rows()) == before
