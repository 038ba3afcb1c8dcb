"""The loyalty stage through the nightly flow (first night) and then alone: inbox order files to ledger, quarter
close, rewards and reorder list."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from flows.loyalty import loyalty
from keqing.rules import Rules
from tests.helpers import run_ingest, run_nightly, table, write, write_master

pytestmark = pytest.mark.usefixtures("prefect_server")

CUSTOMERS = (
    "客户编码,客户姓名,客户类型,单位,终端类型,负责人工号,办事处编码\n"
    "T001,刘村医,第三终端,上塘村卫生室,村卫生室,S001,OF001\n"
    "T002,陈药师,第三终端,仁和大药房,药店,S001,OF001\n"
)
ORDERS_SEPTEMBER = (
    "订单号,客户编码,产品编码,数量,金额,订货日期,类型\n"
    "O1,T001,PR01,20,2000.00,2026-09-01,订货\n"
    "O2,T001,PR01,20,2000.00,2026-09-15,订货\n"
    "O3,T001,PR01,20,2000.00,2026-09-29,订货\n"
    "O4,T002,PR01,1,100.00,2026-09-10,订货\n"
)
RETURN_OCTOBER = (
    "order_id,customer_id,product_code,quantity,amount,order_date,kind\nR1,T001,PR01,10,1000.00,2026-10-08,return\n"
)


def test_orders_to_rewards_and_reorder_reminders(settings):
    write_master(settings)
    write(settings, "2026-09/customers.csv", CUSTOMERS)
    write(settings, "2026-09/orders_202609.csv", ORDERS_SEPTEMBER)
    first = run_nightly("2026-10-01")["loyalty"]
    assert first["accrual"]["mode"] == "full"
    assert (first["accrual"]["entries"], first["accrual"]["points"]) == (4, 610)
    assert first["closed_quarters"] == [{"quarter": "2026Q3", "terminals": 2, "points": 610, "rewards": {"bronze": 1}}]
    rewards = table(settings, "quarter_rewards")
    assert rewards.select("quarter", "customer_id", "owner_staff_id", "points", "tier").rows() == [
        ("2026Q3", "T001", "S001", 600, "bronze")
    ]

    write(settings, "2026-10/orders_return.csv", RETURN_OCTOBER)
    run_ingest(settings, "2026-10-20")  # the second night's ingest and loyalty stages alone: a night costs 20-45 s
    later = loyalty(settings, Rules(), dt.date(2026, 10, 20))
    assert later["accrual"] == {
        "mode": "incremental",
        "orders_examined": 1,
        "entries": 1,
        "points": -100,
        "late_entries": 0,
        "late_by_quarter": {},
        "returns_unmatched": 0,
    }
    assert later["closed_quarters"] == []
    # T001 orders every 14 days, last on 29 September: due 13 October, 7 days overdue on the 20th.
    assert later["reorder"] == {"reminders": 1, "reps": 1, "max_days_overdue": 7}

    reminders = table(settings, "reorder_reminders")
    assert reminders.select("staff_id", "customer_id", "usual_interval_days", "days_overdue").rows() == [
        ("S001", "T001", 14, 7)
    ]
    ledger = table(settings, "points_ledger", order_by="order_id, seq")
    assert ledger.select("order_id", "entry_kind", "points", "quarter", "reverses_order_id").rows() == [
        ("O1", "earn", 200, "2026Q3", None),
        ("O2", "earn", 200, "2026Q3", None),
        ("O3", "earn", 200, "2026Q3", None),
        ("O4", "earn", 10, "2026Q3", None),
        ("R1", "reverse", -100, "2026Q4", "O3"),
    ]
    # The run summary holds ids and counts, never the customers' names.
    text = json.dumps([first, later], ensure_ascii=False)
    assert "刘村医" not in text and "陈药师" not in text
