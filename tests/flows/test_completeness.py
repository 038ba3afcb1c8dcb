"""Completeness before publishing through the nightly flow: a daily feed without records for the
cutoff day is named first in the ops email and announced (数据未到) in the emails built on it; a file
with too many quarantined rows is reported as a broken batch.

SQLite only: these cases show the wiring (check, summary, emails), which does not depend on the
database; the one query that does, whether a feed has a record on the cutoff day, is tested on both
databases in tests/tasks/test_completeness.py."""

from __future__ import annotations

import email
from email import policy

import pytest

from tests.helpers import OFFICES, PRODUCTS, run_nightly, table, write

pytestmark = [
    pytest.mark.usefixtures("prefect_server"),
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

STAFF = (
    "staff_id,name,role,email,office_code,manager_id,team,active\n"
    "S001,张伟,rep,zhang.wei@example.com,OF001,S009,GEN,1\n"
    "S002,李娜,callback,li.na@example.com,OF001,S009,,1\n"
    "S009,王强,manager,wang.qiang@example.com,OF001,,,1\n"
    "S900,赵运营,ops,ops@example.com,OF001,,,1\n"
)
PATIENTS = (
    "patient_id,name,phone,office_code,callback_staff_id,informed\n"
    "P0001,赵敏,13812345678,OF001,S002,1\n"
    "P0002,钱多多,13912345678,OF001,S002,1\n"
)
# Bought on 2026-10-30: calls are due on 10-31 and 11-02, so the nurse has a list on 2026-11-02.
PURCHASES = (
    "purchase_id,patient_id,product_code,boxes,purchase_date\n"
    "B001,P0001,PR01,1,2026-10-30\nB002,P0002,PR01,1,2026-10-30\n"
)
MISSING_LINE = "数据未到：昨日（2026-11-01）的购药记录尚未收到"


def _master(settings) -> None:
    for name, content in (("offices", OFFICES), ("staff", STAFF), ("products", PRODUCTS), ("patients", PATIENTS)):
        write(settings, f"2026-10-30/{name}.csv", content)
    write(settings, "2026-10-30/purchases.csv", PURCHASES)


def _email_text(settings, kind: str, staff_id: str) -> str:
    outbox = table(settings, "outbox").filter(kind=kind, staff_id=staff_id)
    assert outbox.height == 1, f"no {kind} email for {staff_id}"
    message = email.message_from_bytes(outbox["message"][0], policy=policy.default)
    return message.get_body(preferencelist=("plain",)).get_content()


def test_a_missing_purchases_feed_is_named_first_for_ops_and_announced_in_the_nurses_email(settings):
    _master(settings)
    # 2026-11-01 is a Sunday: visits are not expected, purchases are, and there are none dated that day.
    summary = run_nightly("2026-11-02")

    assert [m["feed"] for m in summary["ingest"]["missing_feeds"]] == ["purchases"]
    ops = _email_text(settings, "ops", "S900")
    lines = [line for line in ops.split("早上好！", 1)[1].splitlines() if line.strip()]
    assert lines[1:3] == [  # first after the greeting
        "== 数据未到 ==",
        "  ! 购药记录（purchases）：没有 2026-11-01 的任何记录，数据未到。"
        "回访员、家访员、代表的名单仍已发送，邮件中已注明数据未到；数据到达后可重跑该日期。",
    ]
    nurse = _email_text(settings, "callback", "S002")
    assert f"!! {MISSING_LINE}" in nurse
    assert nurse.index(MISSING_LINE) < nurse.index("== 今日回访 ==")
    # The list is still sent, with its calls.
    assert "赵敏" in nurse and "钱多多" in nurse
    # The manager's email does not depend on purchases.
    for row in table(settings, "outbox").filter(kind="manager").iter_rows(named=True):
        text = email.message_from_bytes(row["message"], policy=policy.default).get_body(("plain",)).get_content()
        assert "数据未到" not in text


def test_no_notice_when_the_cutoff_day_has_purchases(settings):
    _master(settings)
    write(
        settings,
        "2026-11-01/purchases.csv",
        "purchase_id,patient_id,product_code,boxes,purchase_date\nB003,P0002,PR01,2,2026-11-01\n",
    )
    summary = run_nightly("2026-11-02")
    assert summary["ingest"]["missing_feeds"] == []
    assert "数据未到" not in _email_text(settings, "ops", "S900")
    assert "数据未到" not in _email_text(settings, "callback", "S002")


def test_a_file_with_over_a_fifth_of_its_rows_quarantined_is_reported_as_a_broken_batch(settings):
    _master(settings)
    # 5 rows, 2 with boxes that are not numbers: 40% quarantined, over the default 20%.
    write(
        settings,
        "2026-11-01/purchases.csv",
        "purchase_id,patient_id,product_code,boxes,purchase_date\n"
        "B003,P0002,PR01,2,2026-11-01\nB004,P0001,PR01,abc,2026-11-01\nB005,P0001,PR01,1,2026-11-01\n"
        "B006,P0002,PR01,x,2026-11-01\nB007,P0002,PR01,1,2026-11-01\n",
    )
    summary = run_nightly("2026-11-02")

    assert summary["ingest"]["broken_batches"] == [
        {
            "path": "2026-11-01/purchases.csv",
            "feed": "purchases",
            "rows_read": 5,
            "rows_quarantined": 2,
            "quarantined_share": 0.4,
        }
    ]
    ops = _email_text(settings, "ops", "S900")
    assert "== 异常批次（隔离行超过 20%） ==" in ops
    assert "  ! 2026-11-01/purchases.csv（purchases）：读取 5 行，隔离 2 行，隔离比例 40.0%" in ops
    # The clean file of 2026-10-30 (2 rows, none quarantined) is not a broken batch.
    assert "2026-10-30/purchases.csv（" not in ops
